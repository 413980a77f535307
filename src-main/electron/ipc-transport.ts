import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { isConnectionId, type BridgeReply, type BridgeSignal } from '../../src-shared/bridge.js';
import { apiRouter } from '../api/router.js';
import type { AppServices } from '../services.js';

const open = 1;
const closed = 3;

/**
 * One renderer's connection, shaped like the `ws` socket tRPC's connection handler drives (message/close events,
 * send, close, readyState), so the IPC transport runs tRPC's own WebSocket protocol: the same subscriptions,
 * the same cancellation on unsubscribe and on close.
 */
export class IpcConnection extends EventEmitter {
  readyState = open;

  constructor(private readonly deliver: (data: string) => void) {
    super();
  }

  send(data: string): void {
    if (this.readyState === open) this.deliver(data);
  }

  receive(data: string): void {
    if (this.readyState === open) this.emit('message', Buffer.from(data), false);
  }

  close(): void {
    if (this.readyState === closed) return;
    this.readyState = closed;
    this.emit('close');
  }

  terminate(): void {
    this.close();
  }
}

/** Where a signal came from (a trusted web contents): its id and a way to reply to it. */
export interface IpcSender {
  id: number;
  reply(reply: BridgeReply): void;
}

/** Parses what a renderer sent; anything else is dropped (a compromised renderer gets no error oracle). */
export function parseBridgeSignal(value: unknown): BridgeSignal | undefined {
  if (typeof value !== 'object' || value === null || !('kind' in value)) return undefined;
  if (value.kind === 'reset') return { kind: 'reset' };
  if (!('connection' in value)) return undefined;
  const connection = value.connection;
  if (!isConnectionId(connection)) return undefined;
  if (value.kind === 'open' || value.kind === 'close') return { kind: value.kind, connection };
  if (value.kind === 'message' && 'data' in value && typeof value.data === 'string') {
    return { kind: 'message', connection, data: value.data };
  }
  return undefined;
}

/**
 * How many connections one sender may hold. tRPC needs two while it reconnects (the next socket opens before the old
 * one closes); more means a renderer that leaks sockets, whose oldest are closed.
 */
export const maximumConnectionsPerSender = 4;

/**
 * Serves the API to renderers over IPC: one {@link IpcConnection} per connection id of each sender, so a reconnect's
 * new socket and the old one it replaces live side by side until the renderer closes the old one.
 */
export function createIpcApiServer(services: AppServices) {
  const handleConnection = getWSConnectionHandler({
    // Only used to broadcast reconnect notices, which IPC never sends; the type requires one.
    wss: new WebSocketServer({ noServer: true }),
    router: apiRouter,
    createContext: () => ({ services, transport: 'ipc' as const }),
  });
  /** Sender id → connection id → connection; a Map keeps opening order, oldest first. */
  const senders = new Map<number, Map<number, IpcConnection>>();
  // tRPC's handler only reads `url` and `headers` of the upgrade request; IPC has none, so it gets empty ones.
  const noRequest = { url: '', headers: {} } as IncomingMessage;

  function closeConnection(senderId: number, connectionId: number): void {
    const connections = senders.get(senderId);
    connections?.get(connectionId)?.close();
    connections?.delete(connectionId);
    if (connections?.size === 0) senders.delete(senderId);
  }

  function closeSender(senderId: number): void {
    for (const connection of senders.get(senderId)?.values() ?? []) connection.close();
    senders.delete(senderId);
  }

  return {
    /** Handles one signal from a trusted sender. */
    handle(sender: IpcSender, signal: BridgeSignal): void {
      if (signal.kind === 'reset') return closeSender(sender.id);
      const id = signal.connection;
      if (signal.kind === 'open') {
        // Reopening an id the renderer still holds open replaces it; it never has two sockets under one id.
        closeConnection(sender.id, id);
        let connections = senders.get(sender.id);
        if (connections === undefined) senders.set(sender.id, (connections = new Map()));
        for (const [oldest] of connections) {
          if (connections.size < maximumConnectionsPerSender) break;
          closeConnection(sender.id, oldest);
          sender.reply({ connection: oldest, closed: true });
        }
        const connection = new IpcConnection((data) => sender.reply({ connection: id, data }));
        connections.set(id, connection);
        handleConnection(connection as unknown as WebSocket, noRequest);
      } else if (signal.kind === 'message') {
        senders.get(sender.id)?.get(id)?.receive(signal.data);
      } else {
        closeConnection(sender.id, id);
      }
    },
    /** Ends every connection of a sender (its window closed, crashed or navigated). */
    closeSender,
    /** How many connections are open, over all senders; for tests and diagnostics. */
    get size(): number {
      let size = 0;
      for (const connections of senders.values()) size += connections.size;
      return size;
    },
  };
}
