import { create } from 'zustand';
import { api, describeFailure } from './api/client';
import type { ApiClient } from './api/client';
import { useConnectionStore } from './connection-store';
import { hashPage, hashParameter, pageHash } from './routes';

export { hashParameter, pageHash } from './routes';

/** The pages of the app, in navigation order. */
export const pages = [
  { id: 'registry', label: 'Registry' },
  { id: 'playground', label: 'Playground' },
  { id: 'chat', label: 'Chat' },
  { id: 'pair', label: 'Pair' },
  { id: 'games', label: 'Games' },
  { id: 'local-models', label: 'Local models' },
  { id: 'settings', label: 'Settings' },
] as const;

/** A page id. */
export type PageId = (typeof pages)[number]['id'];

type RegistryRows = Awaited<ReturnType<ApiClient['registry']['list']['query']>>;
type RegistryFiles = Awaited<ReturnType<ApiClient['registry']['files']['query']>>;

function pageFromHash(hash: string): PageId {
  const id = hashPage(hash);
  return pages.find((page) => page.id === id)?.id ?? 'registry';
}

/**
 * The `model` a page was opened with (`#/chat?model=<encodeURIComponent(query)>`, as the Playground's actions link),
 * or null. Pages read it once when they open.
 */
export function modelFromHash(): string | null {
  return hashParameter(window.location.hash, 'model');
}

/** Opens a page with a model prefilled: `openWithModel('chat', '{"model_name": "gpt-4o"}')`. */
export function openWithModel(page: PageId, model: string): void {
  window.location.hash = pageHash(page, { model });
}

/** The session a Chat or Pair page shows (`#/chat?session=<id>`), or null. */
export function sessionFromHash(): string | null {
  return hashParameter(window.location.hash, 'session');
}

/**
 * Puts the session a page shows into the address (or, with null, takes it out) without a new history entry, so a
 * reload comes back to the same conversation.
 */
export function showSession(id: string | null): void {
  const page = hashPage(window.location.hash);
  window.history.replaceState(null, '', pageHash(page, id === null ? {} : { session: id }));
}

interface AppState {
  page: PageId;
  /** The Playground's query, kept while other pages are open. */
  playgroundQuery: string;
  setPlaygroundQuery(query: string): void;
  registry: { rows: RegistryRows; files: RegistryFiles; loading: boolean; error: string | null };
  goTo(page: PageId): void;
  loadRegistry(): Promise<void>;
}

export const useAppStore = create<AppState>((set) => ({
  page: pageFromHash(window.location.hash),
  playgroundQuery: '{"model_name": "gpt-4o-mini", "temperature": 0}',
  setPlaygroundQuery(query) {
    set({ playgroundQuery: query });
  },
  registry: { rows: [], files: [], loading: false, error: null },
  goTo(page) {
    window.location.hash = pageHash(page);
    set({ page });
  },
  async loadRegistry() {
    set((state) => ({ registry: { ...state.registry, loading: true, error: null } }));
    try {
      const { entries: rows, files } = await api.registry.snapshot.query();
      set({ registry: { rows, files, loading: false, error: null } });
    } catch (error) {
      set((state) => ({ registry: { ...state.registry, loading: false, error: describeFailure(error) } }));
    }
  },
}));

window.addEventListener('hashchange', () => useAppStore.setState({ page: pageFromHash(window.location.hash) }));

// Registry files are watched in main; any change (a save here, an edit in another editor) reloads the list.
api.registry.changes.subscribe(undefined, { onData: () => void useAppStore.getState().loadRegistry() });

// Changes made while the connection was down were not announced: reload once it is back.
useConnectionStore.subscribe((state, previous) => {
  if (state.opened > 1 && state.opened !== previous.opened) void useAppStore.getState().loadRegistry();
});
