import { create } from 'zustand';
import { overNetwork, socketClient } from './api/client';
import { nextConnectionStatus, probeOutcome, type ConnectionStatus, type ProbeOutcome } from './connection';

interface ConnectionState {
  status: ConnectionStatus;
  /** Times the socket has opened, the first time included: pages reload what they show when it grows past 1. */
  opened: number;
}

/** The page's link to main, for the indicator in the nav and the banner over every page. */
export const useConnectionStore = create<ConnectionState>(() => ({ status: 'connecting', opened: 0 }));

let probing = false;

/**
 * Asks the host, over plain HTTP, whether it still knows this page: a refusal means it restarted with a new token,
 * and no reconnect will ever work. The favicon is the smallest file it serves.
 */
async function probeHost(): Promise<ProbeOutcome> {
  try {
    const response = await fetch('/favicon.svg', { cache: 'no-store', credentials: 'same-origin' });
    return probeOutcome(response.status);
  } catch {
    return 'unreachable';
  }
}

socketClient.connectionState.subscribe({
  next(state) {
    const previous = useConnectionStore.getState();
    const status = nextConnectionStatus(previous.status, state.state);
    const opened = state.state === 'pending' && previous.status !== 'connected' ? previous.opened + 1 : previous.opened;
    useConnectionStore.setState({ status, opened });
    // Each failed try shows up as `connecting` with an error; one probe at a time checks for an expired link.
    if (!overNetwork || state.state !== 'connecting' || state.error === null || probing) return;
    probing = true;
    void probeHost().then((outcome) => {
      probing = false;
      if (outcome === 'refused' && useConnectionStore.getState().status !== 'connected') {
        useConnectionStore.setState({ status: 'disconnected' });
      }
    });
  },
});
