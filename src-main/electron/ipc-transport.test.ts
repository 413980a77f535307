import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { afterEach, describe, expect, it } from 'vitest';
import { parseBridgeReply, type BridgeReply, type BridgeSignal, type ClemplayBridge } from '../../src-shared/bridge.js';
import { createIpcWebSocketClass } from '../../src-shared/ipc-socket.js';
import type { ApiRouter } from '../api/router.js';
import { activeTickers } from '../api/routers/app.js';
import { createTestServices } from '../testing/services.js';
import { createIpcApiServer, maximumConnectionsPerSender, parseBridgeSignal } from './ipc-transport.js';

/**
 * Wires the renderer half (the bridge the preload exposes, the IPC WebSocket class) to the main half (the IPC API
 * server) the way Electron's ipcRenderer/ipcMain would, asynchronously and through structured-clone-able values.
 * `signals` records what main handled, in order; `toRenderer` lets a test speak as main does.
 */
async function connect() {
  const server = createIpcApiServer(await createTestServices());
  const listeners = new Set<(reply: BridgeReply) => void>();
  const signals: BridgeSignal[] = [];
  const toRenderer = (value: unknown): void => {
    const reply = parseBridgeReply(structuredClone(value));
    if (reply !== undefined) setTimeout(() => listeners.forEach((listener) => listener(reply)));
  };
  const sender = { id: 7, reply: toRenderer };
  const toMain = (value: unknown): void => {
    const signal = parseBridgeSignal(structuredClone(value));
    if (signal === undefined) return;
    setTimeout(() => {
      signals.push(signal);
      server.handle(sender, signal);
    });
  };
  const bridge: ClemplayBridge = {
    open: (connection) => toMain({ kind: 'open', connection }),
    send: (connection, data) => toMain({ kind: 'message', connection, data }),
    onMessage: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: (connection) => toMain({ kind: 'close', connection }),
  };
  const IpcWebSocket = createIpcWebSocketClass(bridge, (callback) => setTimeout(callback, 0));
  const newClient = () => {
    const socketClient = createWSClient({
      url: 'ipc://clemplay/api',
      WebSocket: IpcWebSocket as unknown as typeof WebSocket,
    });
    return { socketClient, api: createTRPCClient<ApiRouter>({ links: [wsLink({ client: socketClient })] }) };
  };
  const { socketClient, api } = newClient();
  return { server, api, signals, toRenderer, IpcWebSocket, newClient, close: () => socketClient.close() };
}

/** Resolves with the first `count` ticks of a subscription, then unsubscribes. */
function firstTicks(api: Awaited<ReturnType<typeof connect>>['api'], count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const counts: number[] = [];
    const subscription = api.app.ticks.subscribe(
      { intervalMs: 20 },
      {
        onData: (tick) => {
          counts.push(tick.count);
          if (counts.length === count) {
            subscription.unsubscribe();
            resolve(counts);
          }
        },
        onError: reject,
      },
    );
  });
}

describe('IPC transport', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
  });

  it('answers queries and names the ipc transport', async () => {
    const connection = await connect();
    close = connection.close;
    const info = await connection.api.app.info.query();
    expect(info.transport).toBe('ipc');
    expect((await connection.api.registry.list.query()).length).toBeGreaterThan(0);
    expect(connection.server.size).toBe(1);
  });

  it('streams a subscription and stops it on the main side when unsubscribed', async () => {
    const connection = await connect();
    close = connection.close;
    const counts = await firstTicks(connection.api, 3);
    expect(counts).toEqual([1, 2, 3]);
    await expect.poll(() => activeTickers.count, { timeout: 2000 }).toBe(0);
  });

  it('stops every subscription when the renderer closes the connection', async () => {
    const connection = await connect();
    await new Promise<void>((resolve) => {
      connection.api.app.ticks.subscribe({ intervalMs: 20 }, { onData: () => resolve() });
    });
    expect(activeTickers.count).toBe(1);
    await connection.close();
    await expect.poll(() => activeTickers.count, { timeout: 2000 }).toBe(0);
    expect(connection.server.size).toBe(0);
  });

  it('keeps working across a reconnect, where tRPC opens the new socket before it closes the old one', async () => {
    const connection = await connect();
    close = connection.close;
    expect((await connection.api.app.info.query()).transport).toBe('ipc');
    const ticks: number[] = [];
    let resumed = (): void => undefined;
    const resumedAfterReconnect = new Promise<void>((resolve) => (resumed = resolve));
    let reconnected = false;
    const subscription = connection.api.app.ticks.subscribe(
      { intervalMs: 20 },
      {
        onData: (tick) => {
          ticks.push(tick.count);
          if (reconnected) resumed();
        },
      },
    );
    await expect.poll(() => ticks.length).toBeGreaterThan(0);
    // What main's tRPC server sends to make a client move to a new socket.
    connection.toRenderer({ connection: 1, data: JSON.stringify({ id: null, method: 'reconnect' }) });
    await expect.poll(() => connection.signals.some((signal) => signal.kind === 'close')).toBe(true);
    reconnected = true;
    expect(connection.signals.filter((signal) => signal.kind !== 'message')).toEqual([
      { kind: 'open', connection: 1 },
      { kind: 'open', connection: 2 },
      { kind: 'close', connection: 1 },
    ]);
    // The old socket's close closed only the old connection: the new one answers and streams.
    expect(connection.server.size).toBe(1);
    expect((await connection.api.app.info.query()).transport).toBe('ipc');
    await resumedAfterReconnect;
    subscription.unsubscribe();
  });

  it('keeps two connections of one window apart: replies reach their own socket, closing one leaves the other', async () => {
    const connection = await connect();
    close = connection.close;
    const second = connection.newClient();
    const [first, other] = await Promise.all([connection.api.app.info.query(), second.api.app.info.query()]);
    expect([first.transport, other.transport]).toEqual(['ipc', 'ipc']);
    expect(connection.server.size).toBe(2);
    await second.socketClient.close();
    await expect.poll(() => connection.server.size).toBe(1);
    expect(await firstTicks(connection.api, 3)).toEqual([1, 2, 3]);
  });

  it('calls socket listeners with the socket as `this`, as a WebSocket does (tRPC answers PING with it)', async () => {
    const connection = await connect();
    close = connection.close;
    await connection.api.app.info.query();
    connection.toRenderer({ connection: 1, data: 'PING' });
    await expect
      .poll(() => connection.signals.some((signal) => signal.kind === 'message' && signal.data === 'PONG'))
      .toBe(true);
  });

  it('tells the socket when main closes its connection, so tRPC reconnects', async () => {
    const connection = await connect();
    close = connection.close;
    await connection.api.app.info.query();
    connection.toRenderer({ connection: 1, closed: true });
    await expect
      .poll(() => connection.signals.some((signal) => signal.kind === 'open' && signal.connection === 2))
      .toBe(true);
    expect((await connection.api.app.info.query()).transport).toBe('ipc');
  });

  it('holds at most a few connections per window, closing the oldest', async () => {
    const server = createIpcApiServer(await createTestServices());
    const replies: BridgeReply[] = [];
    const sender = { id: 3, reply: (reply: BridgeReply) => replies.push(reply) };
    for (let id = 1; id <= maximumConnectionsPerSender + 2; id += 1)
      server.handle(sender, { kind: 'open', connection: id });
    expect(server.size).toBe(maximumConnectionsPerSender);
    expect(replies).toEqual([
      { connection: 1, closed: true },
      { connection: 2, closed: true },
    ]);
    server.closeSender(3);
    expect(server.size).toBe(0);
  });

  it("closes what a window's last page left open when its next page loads (the preload says reset)", async () => {
    const server = createIpcApiServer(await createTestServices());
    const sender = { id: 5, reply: () => undefined };
    server.handle(sender, { kind: 'open', connection: 1 });
    server.handle(sender, { kind: 'open', connection: 2 });
    server.handle({ id: 6, reply: () => undefined }, { kind: 'open', connection: 1 });
    server.handle(sender, { kind: 'reset' });
    // Only that window's connections: the other window keeps its own.
    expect(server.size).toBe(1);
  });

  it('drops malformed signals and replies', () => {
    expect(parseBridgeSignal({ kind: 'message', connection: 1, data: 42 })).toBeUndefined();
    expect(parseBridgeSignal('open')).toBeUndefined();
    expect(parseBridgeSignal({ kind: 'exec', connection: 1, data: 'rm -rf /' })).toBeUndefined();
    expect(parseBridgeSignal({ kind: 'open' })).toBeUndefined();
    expect(parseBridgeSignal({ kind: 'open', connection: 0 })).toBeUndefined();
    expect(parseBridgeSignal({ kind: 'open', connection: 1.5 })).toBeUndefined();
    expect(parseBridgeSignal({ kind: 'open', connection: 2 })).toEqual({ kind: 'open', connection: 2 });
    expect(parseBridgeSignal({ kind: 'reset', connection: 'x' })).toEqual({ kind: 'reset' });
    expect(parseBridgeReply({ connection: 1, data: 7 })).toBeUndefined();
    expect(parseBridgeReply({ connection: -1, data: 'x' })).toBeUndefined();
    expect(parseBridgeReply({ connection: 1, closed: 'yes' })).toBeUndefined();
    expect(parseBridgeReply({ connection: 1, data: 'x' })).toEqual({ connection: 1, data: 'x' });
  });
});
