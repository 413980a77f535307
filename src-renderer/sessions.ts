import { useEffect } from 'react';
import { isSessionBusy, type SessionView } from '../src-shared/conversation/session';
import { api } from './api/client';
import { createSessionStore } from './session-store';

/** The app's one session store, over the app's API client. */
export const useSessionStore = createSessionStore(api);

/**
 * Follows a session while the component shows it: the session as its events leave it (null until the first
 * arrives, or with no id), the last action's failure on it, and whether anything in it is running.
 */
export function useWatchedSession(sessionId: string | null): {
  session: SessionView | null;
  error: string | null;
  busy: boolean;
} {
  const entry = useSessionStore((state) => (sessionId === null ? undefined : state.sessions[sessionId]));
  useEffect(() => (sessionId === null ? undefined : useSessionStore.getState().watch(sessionId)), [sessionId]);
  const session = entry?.view ?? null;
  return { session, error: entry?.error ?? null, busy: session !== null && isSessionBusy(session) };
}
