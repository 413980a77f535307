/** The IPC channel that carries API messages between the preload and main. */
export const apiChannel = 'clemplay:api';

/**
 * What the renderer sends on {@link apiChannel}: open a connection, a message on it, or close it. `connection` is
 * the renderer's id for one socket (a positive integer): tRPC opens its next socket before it closes the old one,
 * so every signal says which socket it is about. `reset` is the preload's first word on each page load: whatever the
 * previous page of that window left open is closed (the new page counts its connections from 1 again).
 */
export type BridgeSignal =
  | { kind: 'open'; connection: number }
  | { kind: 'message'; connection: number; data: string }
  | { kind: 'close'; connection: number }
  | { kind: 'reset' };

/** What main sends back on {@link apiChannel}: a message for one connection, or the news that main closed it. */
export type BridgeReply = { connection: number; data: string } | { connection: number; closed: true };

/** Whether a value is a connection id: a positive safe integer. */
export function isConnectionId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** Parses what main sent; anything else is dropped. */
export function parseBridgeReply(value: unknown): BridgeReply | undefined {
  if (typeof value !== 'object' || value === null || !('connection' in value)) return undefined;
  if (!isConnectionId(value.connection)) return undefined;
  if ('data' in value && typeof value.data === 'string') return { connection: value.connection, data: value.data };
  if ('closed' in value && value.closed === true) return { connection: value.connection, closed: true };
  return undefined;
}

/**
 * The one bridge the Electron preload exposes as `window.clemplay`: a message pipe for the API, nothing else.
 * The web host has no bridge; the renderer then uses a WebSocket.
 */
export interface ClemplayBridge {
  /** Starts connection `connection` (an id the renderer picks); main answers through `onMessage`. */
  open(connection: number): void;
  /** Sends one API message (tRPC's JSON-RPC text) on a connection. */
  send(connection: number, data: string): void;
  /** Listens for what main sends to any connection; returns the function that stops listening. */
  onMessage(listener: (reply: BridgeReply) => void): () => void;
  /** Ends a connection; main stops every subscription of it. */
  close(connection: number): void;
}
