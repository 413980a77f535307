import { create } from 'zustand';
import { api, describeError } from './api/client';
import type { ApiClient } from './api/client';

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
  const id = hash.replace(/^#\/?/, '').split('?')[0];
  return pages.find((page) => page.id === id)?.id ?? 'registry';
}

/** The parameters after `?` in the address's hash, such as `#/chat?session=…`. */
export function hashParams(): URLSearchParams {
  const hash = window.location.hash;
  const start = hash.indexOf('?');
  return new URLSearchParams(start === -1 ? '' : hash.slice(start + 1));
}

/** Sets (or, with null, removes) one hash parameter of the current page, so a reload comes back to the same place. */
export function setHashParam(name: string, value: string | null): void {
  const params = hashParams();
  if (value === null) params.delete(name);
  else params.set(name, value);
  const page = window.location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  const query = params.toString();
  window.history.replaceState(null, '', `#/${page}${query === '' ? '' : `?${query}`}`);
}

interface AppState {
  page: PageId;
  registry: { rows: RegistryRows; files: RegistryFiles; loading: boolean; error: string | null };
  goTo(page: PageId): void;
  loadRegistry(): Promise<void>;
}

export const useAppStore = create<AppState>((set) => ({
  page: pageFromHash(window.location.hash),
  registry: { rows: [], files: [], loading: false, error: null },
  goTo(page) {
    window.location.hash = `/${page}`;
    set({ page });
  },
  async loadRegistry() {
    set((state) => ({ registry: { ...state.registry, loading: true, error: null } }));
    try {
      const { entries: rows, files } = await api.registry.snapshot.query();
      set({ registry: { rows, files, loading: false, error: null } });
    } catch (error) {
      const { code, message } = describeError(error);
      set((state) => ({ registry: { ...state.registry, loading: false, error: `${code}: ${message}` } }));
    }
  },
}));

window.addEventListener('hashchange', () => useAppStore.setState({ page: pageFromHash(window.location.hash) }));

// Registry files are watched in main; any change (a save here, an edit in another editor) reloads the list.
api.registry.changes.subscribe(undefined, { onData: () => void useAppStore.getState().loadRegistry() });
