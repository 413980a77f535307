import { create } from 'zustand';
import { applyRunEvent, type RunView } from '../src-shared/games/run-view';
import type { ApiClient, ApiInputs, ApiOutputs } from './api/client';
import { describeFailure as describe } from './api/describe-error';
import { followedItems } from './followed-items';

/** The part of the API client the games store uses (tests pass a client over a real web host). */
export type GamesApi = Pick<ApiClient, 'games'>;

/** A game with its roles and experiments. */
export type GameInfo = ApiOutputs['games']['list'][number];
/** This process's runs and the earlier ones of the results folder. */
export type RunListing = ApiOutputs['games']['runs'];
/** Eval rows and episode outcomes of some models folders. */
export type RunResults = ApiOutputs['games']['results'];
/** An episode read back from the results folder. */
export type SavedEpisodeTranscript = ApiOutputs['games']['episode'];
/** Where an episode of the results folder is. */
export type EpisodePlace = ApiInputs['games']['episode'];

/** One run the page follows. */
export interface RunEntry {
  /** The run as the last event left it; null until the first snapshot arrives. */
  view: RunView | null;
  /** The last action's failure on this run, as `code: message` (cleared by the next success). */
  error: string | null;
}

/** Results loaded for a set of models folders (see {@link resultsKey}). */
export interface ResultsEntry {
  data: RunResults | null;
  error: string | null;
  loading: boolean;
}

/** The key results are kept under: the models folders, and the games when only some are asked for. */
export function resultsKey(folders: readonly string[], games?: readonly string[]): string {
  return JSON.stringify([folders, games ?? null]);
}

/** What the Games page reads and does. */
export interface GamesStoreState {
  games: GameInfo[] | null;
  gamesError: string | null;
  runs: Record<string, RunEntry>;
  listing: RunListing | null;
  listingError: string | null;
  results: Record<string, ResultsEntry>;
  /** The last failure of an action not tied to one run (starting one). */
  error: string | null;
  loadGames(): Promise<void>;
  refreshRuns(): Promise<void>;
  /** Starts a run and returns it (not yet followed: {@link watch} it); null (and `error` set) when it cannot start. */
  start(input: ApiInputs['games']['start']): Promise<RunView | null>;
  /** Follows a run's events (a snapshot, then every change) until the returned function is called. */
  watch(id: string): () => void;
  stop(id: string): Promise<boolean>;
  resume(id: string): Promise<boolean>;
  /** Plays an earlier run of the results folder again: a new run, returned (null and `error` set on failure). */
  resumeSaved(folder: string): Promise<RunView | null>;
  humanReply(id: string, player: string, text: string): Promise<boolean>;
  loadResults(folders: string[], games?: string[]): Promise<RunResults | null>;
  /** One episode of the results folder; null (and `error` set) when it cannot be read. */
  loadEpisode(place: EpisodePlace): Promise<SavedEpisodeTranscript | null>;
}

/**
 * The renderer's view of game runs in main: each watched run is one subscription whose events fold into a view with
 * the shared reducer (the one the run job keeps its own view with). Every action is one API call.
 */
export function createGamesStore(client: GamesApi) {
  return create<GamesStoreState>((set, get) => {
    const items = followedItems<RunEntry>({
      read: (id) => get().runs[id],
      write: (id, entry) => set((state) => ({ runs: { ...state.runs, [id]: entry } })),
      empty: () => ({ view: null, error: null }),
      subscribe: (id) =>
        client.games.subscribe.subscribe(
          { id },
          {
            onData: ({ data }) => items.patch(id, { view: applyRunEvent(items.entry(id).view, data) }),
            onError: (error) => items.patch(id, { error: describe(error) }),
          },
        ),
    });
    const act = items.act;
    /** Starts a run (new, or a saved one again) and follows nothing yet: the page watches the run it shows. */
    const begin = async (call: () => Promise<RunView>): Promise<RunView | null> => {
      try {
        const view = await call();
        set((state) => ({ error: null, runs: { ...state.runs, [view.id]: { view, error: null } } }));
        return view;
      } catch (error) {
        set({ error: describe(error) });
        return null;
      }
    };

    return {
      games: null,
      gamesError: null,
      runs: {},
      listing: null,
      listingError: null,
      results: {},
      error: null,

      async loadGames() {
        try {
          set({ games: await client.games.list.query(), gamesError: null });
        } catch (error) {
          set({ gamesError: describe(error) });
        }
      },

      async refreshRuns() {
        try {
          set({ listing: await client.games.runs.query(), listingError: null });
        } catch (error) {
          set({ listingError: describe(error) });
        }
      },

      start: (input) => begin(() => client.games.start.mutate(input)),

      watch: (id) => items.watch(id),

      stop: (id) => act(id, () => client.games.stop.mutate({ id })),
      resume: (id) => act(id, () => client.games.resume.mutate({ id })),
      resumeSaved: (folder) => begin(() => client.games.resumeSaved.mutate({ folder })),
      humanReply: (id, player, text) => act(id, () => client.games.humanReply.mutate({ run: id, player, text })),

      async loadResults(folders, games) {
        const key = resultsKey(folders, games);
        const previous = get().results[key];
        set((state) => ({
          results: { ...state.results, [key]: { data: previous?.data ?? null, error: null, loading: true } },
        }));
        try {
          const data = await client.games.results.query({ folders, ...(games === undefined ? {} : { games }) });
          set((state) => ({ results: { ...state.results, [key]: { data, error: null, loading: false } } }));
          return data;
        } catch (error) {
          set((state) => ({
            results: {
              ...state.results,
              [key]: { data: previous?.data ?? null, error: describe(error), loading: false },
            },
          }));
          return null;
        }
      },

      async loadEpisode(place) {
        try {
          return await client.games.episode.query(place);
        } catch (error) {
          set({ error: describe(error) });
          return null;
        }
      },
    };
  });
}

/** A store made by {@link createGamesStore}. */
export type GamesStore = ReturnType<typeof createGamesStore>;
