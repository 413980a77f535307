import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { ApiRouter } from '../../src-main/api/router';
import type { ClemplayBridge } from '../../src-shared/bridge';
import { createIpcWebSocketClass } from '../../src-shared/ipc-socket';
import { reconnectDelayMs } from '../connection';

declare global {
  interface Window {
    /** Present only inside Electron: the preload's bridge. */
    clemplay?: ClemplayBridge;
  }
}

/** The typed API client; the renderer never knows which transport carries it. */
export type ApiClient = TRPCClient<ApiRouter>;

/** What each procedure returns, for typing state built from API results. */
export type ApiOutputs = inferRouterOutputs<ApiRouter>;

/** What each procedure takes. */
export type ApiInputs = inferRouterInputs<ApiRouter>;

/**
 * Electron gives us the preload bridge; a browser reached the web host, which set a cookie with the token when it
 * served this page, so the WebSocket to the same origin is authorised without the token in any script-visible place.
 */
function createSocketClient() {
  const bridge = window.clemplay;
  if (bridge !== undefined) {
    // The IPC class implements the part of WebSocket that tRPC's client uses, not the whole DOM interface.
    const IpcWebSocket = createIpcWebSocketClass(bridge, (callback) =>
      setTimeout(callback, 0),
    ) as unknown as typeof WebSocket;
    return createWSClient({ url: 'ipc://clemplay/api', WebSocket: IpcWebSocket });
  }
  const url = new URL('/api', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  return createWSClient({
    url: url.href,
    retryDelayMs: reconnectDelayMs,
    // A host that stopped answering (suspended, a dead SSH tunnel) closes no socket: pings find out.
    keepAlive: { enabled: true, intervalMs: 5000, pongTimeoutMs: 3000 },
  });
}

/** The socket under the API: its `connectionState` feeds the connection indicator. */
export const socketClient = createSocketClient();

/** True in a browser on the web host, false in Electron (where the API is IPC inside one process tree). */
export const overNetwork = window.clemplay === undefined;

export const api: ApiClient = createTRPCClient<ApiRouter>({ links: [wsLink({ client: socketClient })] });

export { describeError, describeFailure } from './describe-error';
