import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClemplayBridge } from '../../src-shared/bridge.js';
import { createIpcWebSocketClass } from '../../src-shared/ipc-socket.js';
import type { ApiRouter } from '../api/router.js';
import { activeTickers } from '../api/routers/app.js';
import { createTestServices } from '../testing/services.js';
import { createIpcApiServer, parseBridgeSignal } from './ipc-transport.js';

/**
 * Wires the renderer half (the bridge the preload exposes, the IPC WebSocket class) to the main half (the IPC API
 * server) the way Electron's ipcRenderer/ipcMain would, asynchronously and through structured-clone-able values.
 */
async function connect() {
  const server = createIpcApiServer(await createTestServices());
  const listeners = new Set<(data: string) => void>();
  const sender = { id: 7, reply: (data: string) => setTimeout(() => listeners.forEach((listener) => listener(data))) };
  const toMain = (value: unknown): void => {
    const signal = parseBridgeSignal(structuredClone(value));
    if (signal !== undefined) setTimeout(() => server.handle(sender, signal));
  };
  const bridge: ClemplayBridge = {
    open: () => toMain({ kind: 'open' }),
    send: (data) => toMain({ kind: 'message', data }),
    onMessage: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => toMain({ kind: 'close' }),
  };
  const socketClient = createWSClient({
    url: 'ipc://clemplay/api',
    WebSocket: createIpcWebSocketClass(bridge, (callback) => setTimeout(callback, 0)) as unknown as typeof WebSocket,
  });
  const api = createTRPCClient<ApiRouter>({ links: [wsLink({ client: socketClient })] });
  return { server, api, close: () => socketClient.close() };
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
    const counts: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const subscription = connection.api.app.ticks.subscribe(
        { intervalMs: 20 },
        {
          onData: (tick) => {
            counts.push(tick.count);
            if (counts.length === 3) {
              subscription.unsubscribe();
              resolve();
            }
          },
          onError: reject,
        },
      );
    });
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

  it('drops malformed signals', () => {
    expect(parseBridgeSignal({ kind: 'message', data: 42 })).toBeUndefined();
    expect(parseBridgeSignal('open')).toBeUndefined();
    expect(parseBridgeSignal({ kind: 'exec', data: 'rm -rf /' })).toBeUndefined();
    expect(parseBridgeSignal({ kind: 'open' })).toEqual({ kind: 'open' });
  });
});
