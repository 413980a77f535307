import { create } from 'zustand';
import { applySessionEvent, type SessionView, type VoteWinner } from '../src-shared/conversation/session';
import type { ApiClient, ApiInputs, ApiOutputs } from './api/client';
import { describeFailure as describe } from './api/describe-error';
import { followedItems } from './followed-items';

/** The part of the API client the session store uses (tests pass a client over a real web host). */
export type SessionApi = Pick<ApiClient, 'sessions'>;

/** One session the renderer follows. */
export interface SessionEntry {
  /** The session as the last event left it; null until the first snapshot arrives. */
  view: SessionView | null;
  /** The last action's failure on this session, as `code: message` (shown once, cleared by the next action). */
  error: string | null;
}

type ListEntry = ApiOutputs['sessions']['list'][number];
type Leaderboard = ApiOutputs['sessions']['leaderboard'];

/** What the Chat and Pair pages read and do. */
export interface SessionStoreState {
  sessions: Record<string, SessionEntry>;
  list: ListEntry[];
  listError: string | null;
  leaderboard: Leaderboard | null;
  /** The last failure of an action not tied to one session (making one, listing). */
  error: string | null;
  /** Follows a session's events (a snapshot, then every change) until the returned function is called. */
  watch(id: string): () => void;
  /** Makes a session and follows it; null (and `error` set) when it cannot be made. */
  create(input: ApiInputs['sessions']['create']): Promise<SessionView | null>;
  send(id: string, text: string, to?: string[]): Promise<boolean>;
  stop(id: string, participant?: string): Promise<void>;
  regenerate(id: string, messageId: string): Promise<boolean>;
  edit(id: string, messageId: string, text: string): Promise<boolean>;
  selectVersion(id: string, messageId: string, version: number): Promise<boolean>;
  humanReply(id: string, participant: string, text: string): Promise<boolean>;
  configure(id: string, change: Omit<ApiInputs['sessions']['configure'], 'id'>): Promise<boolean>;
  reResolve(id: string, participant: string): Promise<boolean>;
  startDialogue(id: string, opening: string, turns: number): Promise<boolean>;
  vote(id: string, winner: VoteWinner): Promise<boolean>;
  rename(id: string, title: string): Promise<boolean>;
  remove(id: string): Promise<boolean>;
  exportSession(id: string, format: 'json' | 'markdown'): Promise<string | null>;
  refreshList(): Promise<void>;
  refreshLeaderboard(): Promise<void>;
}

/**
 * The renderer's view of conversations in main: each watched session is one subscription whose events fold into a
 * view with the shared reducer (the same one the CLI and the tests use). Nothing conversational happens here: every
 * action is one API call, and its effect arrives as events.
 */
export function createSessionStore(client: SessionApi) {
  return create<SessionStoreState>((set, get) => {
    const items = followedItems<SessionEntry>({
      read: (id) => get().sessions[id],
      write: (id, entry) => set((state) => ({ sessions: { ...state.sessions, [id]: entry } })),
      empty: () => ({ view: null, error: null }),
      subscribe: (id) =>
        client.sessions.subscribe.subscribe(
          { id },
          {
            onData: ({ data }) => items.patch(id, { view: applySessionEvent(items.entry(id).view, data) }),
            onError: (error) => items.patch(id, { error: describe(error) }),
          },
        ),
    });
    const act = items.act;

    return {
      sessions: {},
      list: [],
      listError: null,
      leaderboard: null,
      error: null,

      watch: (id) => items.watch(id),

      async create(input) {
        try {
          const view = await client.sessions.create.mutate(input);
          set((state) => ({ error: null, sessions: { ...state.sessions, [view.id]: { view, error: null } } }));
          return view;
        } catch (error) {
          set({ error: describe(error) });
          return null;
        }
      },

      send: (id, text, to) =>
        act(id, () => client.sessions.send.mutate({ id, text, ...(to === undefined ? {} : { to }) })),
      async stop(id, participant) {
        await act(id, () => client.sessions.stop.mutate({ id, ...(participant === undefined ? {} : { participant }) }));
      },
      regenerate: (id, messageId) => act(id, () => client.sessions.regenerate.mutate({ id, message_id: messageId })),
      edit: (id, messageId, text) => act(id, () => client.sessions.edit.mutate({ id, message_id: messageId, text })),
      selectVersion: (id, messageId, version) =>
        act(id, () => client.sessions.selectVersion.mutate({ id, message_id: messageId, version })),
      humanReply: (id, participant, text) =>
        act(id, () => client.sessions.humanReply.mutate({ id, participant, text })),
      configure: (id, change) => act(id, () => client.sessions.configure.mutate({ id, ...change })),
      reResolve: (id, participant) => act(id, () => client.sessions.reResolve.mutate({ id, participant })),
      startDialogue: (id, opening, turns) => act(id, () => client.sessions.dialogue.mutate({ id, opening, turns })),
      async vote(id, winner) {
        const done = await act(id, () => client.sessions.vote.mutate({ id, winner }));
        if (done) await get().refreshLeaderboard();
        return done;
      },
      rename: (id, title) => act(id, () => client.sessions.rename.mutate({ id, title })),
      async remove(id) {
        const done = await act(id, () => client.sessions.delete.mutate({ id }));
        if (done) {
          items.forget(id);
          set((state) => {
            const { [id]: _removed, ...rest } = state.sessions;
            return { sessions: rest, list: state.list.filter((item) => item.id !== id) };
          });
        }
        return done;
      },
      async exportSession(id, format) {
        let content: string | null = null;
        await act(id, async () => {
          content = (await client.sessions.export.query({ id, format })).content;
        });
        return content;
      },
      async refreshList() {
        try {
          set({ list: await client.sessions.list.query(), listError: null });
        } catch (error) {
          set({ listError: describe(error) });
        }
      },
      async refreshLeaderboard() {
        try {
          set({ leaderboard: await client.sessions.leaderboard.query() });
        } catch (error) {
          set({ error: describe(error) });
        }
      },
    };
  });
}

/** A store made by {@link createSessionStore}. */
export type SessionStore = ReturnType<typeof createSessionStore>;
