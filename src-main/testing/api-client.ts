import { createTRPCClient, createWSClient, wsLink, type TRPCClient } from '@trpc/client';
import { WebSocket } from 'ws';
import type { ApiRouter } from '../api/router.js';
import { apiPath, type WebHost } from '../host/web-host.js';

/** A typed API client over the web host's WebSocket, as a script or test outside the browser would use it. */
export interface WebSocketApiClient {
  api: TRPCClient<ApiRouter>;
  close(): void;
}

export function connectApiClient(host: Pick<WebHost, 'port' | 'token'>): WebSocketApiClient {
  const socketClient = createWSClient({
    url: `ws://127.0.0.1:${host.port}${apiPath}?token=${host.token}`,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  });
  return {
    api: createTRPCClient<ApiRouter>({ links: [wsLink({ client: socketClient })] }),
    close: () => void socketClient.close(),
  };
}
