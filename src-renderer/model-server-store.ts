import { create } from 'zustand';
import { defaultApiPort } from '../src-shared/model-server';
import type { ApiClient, ApiOutputs } from './api/client';
import { describeFailure as describe } from './api/describe-error';

/** The part of the API client the store uses (tests pass a client over a real web host). */
export type ModelServerApi = Pick<ApiClient, 'modelServer'>;

type ModelServerState = ApiOutputs['modelServer']['state'];

/** What the "Serve models to other apps" section reads and does. */
export interface ModelServerStoreState {
  /** The server as main last told; null until the first state arrives. */
  status: ModelServerState['status'] | null;
  /** Requests, newest first. */
  requests: ModelServerState['requests'];
  /** What the port field holds: empty means the default port ({@link defaultApiPort}). */
  portText: string;
  /** A start or stop is under way. */
  busy: boolean;
  /** The last failure (start, stop, copy), as `code: message`; cleared by the next action. */
  error: string | null;
  /** True after the key was copied, until the server stops or the next copy. */
  copied: boolean;
  setPortText(text: string): void;
  /** Follows the server's state until the returned function is called. */
  watch(): () => void;
  /** The switch: starts the server on the port field's port, or stops it. */
  setRunning(running: boolean): Promise<void>;
  /** Fetches the key (the one time it reaches the renderer) and hands it to `write` (the clipboard). */
  copyKey(write: (text: string) => Promise<void>): Promise<void>;
}

/** The port the field asks for, or an error message when it is not one. */
export function parsePortText(text: string): number | string {
  const trimmed = text.trim();
  if (trimmed === '') return defaultApiPort;
  const port = Number(trimmed);
  return /^\d+$/.test(trimmed) && port <= 65_535
    ? port
    : 'The port must be a number from 0 to 65535 (0: any free port).';
}

/**
 * The renderer's view of the API server in main: one subscription keeps `status` and `requests` current, and each
 * action is one API call whose effect arrives through it.
 */
export function createModelServerStore(client: ModelServerApi) {
  return create<ModelServerStoreState>((set, get) => ({
    status: null,
    requests: [],
    portText: '',
    busy: false,
    error: null,
    copied: false,
    setPortText(text) {
      set({ portText: text });
    },
    watch() {
      const subscription = client.modelServer.watch.subscribe(undefined, {
        onData: (state) =>
          set((previous) => ({
            status: state.status,
            requests: state.requests,
            copied: state.status.running ? previous.copied : false,
          })),
        onError: (error) => set({ error: describe(error) }),
      });
      return () => subscription.unsubscribe();
    },
    async setRunning(running) {
      const port = parsePortText(get().portText);
      if (running && typeof port === 'string') {
        set({ error: `invalid-input: ${port}` });
        return;
      }
      set({ busy: true, error: null, copied: false });
      try {
        const status = running
          ? await client.modelServer.start.mutate({ port: port as number })
          : await client.modelServer.stop.mutate();
        set({ status });
      } catch (error) {
        set({ error: describe(error) });
      } finally {
        set({ busy: false });
      }
    },
    async copyKey(write) {
      set({ error: null, copied: false });
      try {
        const { key } = await client.modelServer.revealKey.mutate();
        await write(key);
        set({ copied: true });
      } catch (error) {
        set({ error: describe(error) });
      }
    },
  }));
}

/** A store made by {@link createModelServerStore}. */
export type ModelServerStore = ReturnType<typeof createModelServerStore>;
