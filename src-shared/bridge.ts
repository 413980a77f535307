/** The IPC channel that carries API messages between the preload and main. */
export const apiChannel = 'clemplay:api';

/** What the renderer sends on {@link apiChannel}: open a connection, a message on it, or close it. */
export type BridgeSignal = { kind: 'open' } | { kind: 'message'; data: string } | { kind: 'close' };

/**
 * The one bridge the Electron preload exposes as `window.clemplay`: a message pipe for the API, nothing else.
 * The web host has no bridge; the renderer then uses a WebSocket.
 */
export interface ClemplayBridge {
  /** Starts a connection; main answers through `onMessage`. */
  open(): void;
  /** Sends one API message (tRPC's JSON-RPC text). */
  send(data: string): void;
  /** Listens for API messages from main; returns the function that stops listening. */
  onMessage(listener: (data: string) => void): () => void;
  /** Ends the connection; main stops every subscription of it. */
  close(): void;
}
