import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BridgeSignal } from '../../src-shared/bridge.js';
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

/** Where a signal came from: a sender id, a way to reply to it, and whether we trust it. */
export interface IpcSender {
  id: number;
  reply(data: string): void;
}

/** Parses what a renderer sent; anything else is dropped (a compromised renderer gets no error oracle). */
export function parseBridgeSignal(value: unknown): BridgeSignal | undefined {
  if (typeof value !== 'object' || value === null || !('kind' in value)) return undefined;
  if (value.kind === 'open' || value.kind === 'close') return { kind: value.kind };
  if (value.kind === 'message' && 'data' in value && typeof value.data === 'string') {
    return { kind: 'message', data: value.data };
  }
  return undefined;
}

/** Serves the API to renderers over IPC: one {@link IpcConnection} per sender, replaced when it reopens. */
export function createIpcApiServer(services: AppServices) {
  const handleConnection = getWSConnectionHandler({
    // Only used to broadcast reconnect notices, which IPC never sends; the type requires one.
    wss: new WebSocketServer({ noServer: true }),
    router: apiRouter,
    createContext: () => ({ services, transport: 'ipc' as const }),
  });
  const connections = new Map<number, IpcConnection>();
  // tRPC's handler only reads `url` and `headers` of the upgrade request; IPC has none, so it gets empty ones.
  const noRequest = { url: '', headers: {} } as IncomingMessage;

  function closeSender(id: number): void {
    connections.get(id)?.close();
    connections.delete(id);
  }

  return {
    /** Handles one signal from a trusted sender. */
    handle(sender: IpcSender, signal: BridgeSignal): void {
      if (signal.kind === 'open') {
        closeSender(sender.id);
        const connection = new IpcConnection((data) => sender.reply(data));
        connections.set(sender.id, connection);
        handleConnection(connection as unknown as WebSocket, noRequest);
      } else if (signal.kind === 'message') {
        connections.get(sender.id)?.receive(signal.data);
      } else {
        closeSender(sender.id);
      }
    },
    /** Ends a sender's connection (its window closed, crashed or navigated). */
    closeSender,
    /** How many connections are open; for tests and diagnostics. */
    get size(): number {
      return connections.size;
    },
  };
}
