import { useEffect } from 'react';
import { isSessionBusy, type SessionView } from '../src-shared/conversation/session';
import { api } from './api/client';
import { download } from './download';
import { createSessionStore } from './session-store';

/** The app's one session store, over the app's API client. */
export const useSessionStore = createSessionStore(api);

/** Offers a session as a file: `ID.json` or `ID.md`. Nothing happens when the export fails (the store says why). */
export async function downloadSession(id: string, format: 'json' | 'markdown'): Promise<void> {
  const content = await useSessionStore.getState().exportSession(id, format);
  if (content === null) return;
  download(
    `${id}.${format === 'json' ? 'json' : 'md'}`,
    content,
    format === 'json' ? 'application/json' : 'text/markdown',
  );
}

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
