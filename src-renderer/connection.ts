/** How the page stands with the main process: see {@link nextConnectionStatus}. */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/** What the socket reports: `pending` is open, `connecting` is (re)trying, `idle` is closed on purpose. */
export type SocketState = 'idle' | 'connecting' | 'pending';

/**
 * The status after the socket reports `socket`. Connecting before the first success is `connecting`; after it,
 * `reconnecting`. `disconnected` (the host answers but no longer knows this page's token) stays until the socket
 * really opens again.
 */
export function nextConnectionStatus(previous: ConnectionStatus, socket: SocketState): ConnectionStatus {
  if (socket === 'pending') return 'connected';
  if (socket === 'idle') return previous;
  if (previous === 'connecting' || previous === 'disconnected') return previous;
  return 'reconnecting';
}

/** What a probe of the host says while the socket is down. */
export type ProbeOutcome = 'unreachable' | 'refused' | 'answers';

/** An HTTP status from the host, as a probe outcome: 401/403 mean the token is unknown (the host restarted). */
export function probeOutcome(status: number): ProbeOutcome {
  return status === 401 || status === 403 ? 'refused' : 'answers';
}

/** Waits before the next reconnect: 0.5 s, 1 s, 2 s, then every 3 s while the host is away. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 3000);
}
