import type { GenerationOptions, StreamPart } from '../chat.js';
import type { AppErrorShape } from '../errors.js';
import type { JsonObject } from '../json.js';
import { applyStreamPart, withCurrentVersion, currentVersion, type TranscriptMessage } from './transcript.js';

/** What a session is: a chat with one model, two models side by side, two models talking, or a game episode. */
export type SessionKind = 'chat' | 'pair' | 'dialogue' | 'game';

/** The registry entry a participant's spec came from (null: the query named a backend and was used as it is). */
export interface SpecSource {
  /** The registry file, absolute path. */
  file: string;
  /** The entry's 0-based position in its file. */
  index: number;
  /** `official`, or the file's path. */
  lookupSource: string;
  /** Which layer of the stack the file is. */
  role: string;
}

/** What a participant is doing now. */
export type ParticipantStatus = 'idle' | 'loading' | 'streaming' | 'waiting-human';

/** How full a participant's context is. */
export interface ContextMeter {
  /** Tokens its history takes now (prompt of the next turn, before the new message); null until known. */
  used: number | null;
  /** The model's context size in tokens; null where unknown (a remote model without `context_size`). */
  size: number | null;
  /** True when the model counted the tokens itself, false for an estimate (four characters a token). */
  exact: boolean;
}

/** One participant of a session as clients see it. In blind mode before the vote, what would name it is null. */
export interface ParticipantView {
  /** `model` in a chat, `a`/`b` in Pair and dialogues, the role in games. */
  id: string;
  /** What to call it: `Model A`, or the model's name. */
  label: string;
  /** What was typed to pick the model; null while hidden (blind). */
  query: string | JsonObject | null;
  /** Its system prompt. */
  system?: string;
  /** Its generation options (temperature, max_tokens, top_p, seed, stop). */
  options?: GenerationOptions;
  /** The resolved spec; null while hidden or when the query did not resolve. */
  spec: JsonObject | null;
  source: SpecSource | null;
  /** The spec's backend; null while hidden. */
  backend: string | null;
  status: ParticipantStatus;
  /** Why the query does not resolve (any more); the participant cannot answer until it is changed. */
  error?: AppErrorShape;
  /** The registry changed since the spec was resolved and the query now resolves differently ("re-resolve?"). */
  registry_changed: boolean;
  context: ContextMeter;
  /** True in blind mode before the vote. */
  hidden: boolean;
}

/** A blind vote's verdict; `tie` and `both-bad` count as a tie in the ratings. */
/** What a blind vote can say. */
export const voteWinners = ['a', 'b', 'tie', 'both-bad'] as const;
export type VoteWinner = (typeof voteWinners)[number];

/** Blind mode of a Pair session. */
export interface BlindState {
  /** True once the person voted (then the names show). */
  revealed: boolean;
  vote?: VoteWinner;
}

/** A dialogue between `a` and `b`. */
export interface DialogueState {
  /** Replies asked for in all. */
  turns: number;
  /** Replies given so far. */
  done: number;
  running: boolean;
}

/** A session as clients see it. */
export interface SessionView {
  id: string;
  kind: SessionKind;
  title: string;
  /** ISO 8601. */
  created_at: string;
  /** ISO 8601. */
  updated_at: string;
  participants: ParticipantView[];
  messages: TranscriptMessage[];
  blind?: BlindState;
  dialogue?: DialogueState;
  /** Why the last save failed (the session goes on in memory and is saved again with the next change). */
  save_error?: string;
}

/**
 * What a session subscription delivers. The first event of a subscription is a `snapshot` (unless it resumed after an
 * event it had seen); the rest fold into it with {@link applySessionEvent}.
 */
export type SessionEvent =
  | { type: 'snapshot'; session: SessionView }
  /** A new message, or a new state of a message with this id (a new version, another version chosen). */
  | { type: 'message'; message: TranscriptMessage; at: number }
  /** Messages from this index on were set aside (with the version they followed). */
  | { type: 'truncate'; length: number; at: number }
  /**
   * A stream part of the current version of a message; `at` in milliseconds since the epoch. Deltas merged for a slow
   * reader ({@link mergeSessionEvents}) carry `since`, when the first of them arrived (the reply's first token time).
   */
  | { type: 'part'; message_id: string; part: StreamPart; at: number; since?: number }
  | { type: 'participant'; participant: ParticipantView }
  | { type: 'session'; title?: string; dialogue?: DialogueState; blind?: BlindState };

/** Folds an event into a session view: the one reducer of session state, used by the engine's clients and tests. */
export function applySessionEvent(session: SessionView | null, event: SessionEvent): SessionView | null {
  if (event.type === 'snapshot') return event.session;
  if (session === null) return null;
  switch (event.type) {
    case 'message': {
      const index = session.messages.findIndex((message) => message.id === event.message.id);
      const messages =
        index === -1
          ? [...session.messages, event.message]
          : session.messages.map((message, position) => (position === index ? event.message : message));
      return { ...session, messages, updated_at: new Date(event.at).toISOString() };
    }
    case 'truncate':
      return {
        ...session,
        messages: session.messages.slice(0, event.length),
        updated_at: new Date(event.at).toISOString(),
      };
    case 'part': {
      const messages = session.messages.map((message) =>
        message.id === event.message_id
          ? withCurrentVersion(message, applyStreamPart(currentVersion(message), event.part, event.since ?? event.at))
          : message,
      );
      return { ...session, messages, updated_at: new Date(event.at).toISOString() };
    }
    case 'participant':
      return {
        ...session,
        participants: session.participants.map((participant) =>
          participant.id === event.participant.id ? event.participant : participant,
        ),
      };
    case 'session': {
      const { type: _type, ...change } = event;
      return { ...session, ...change };
    }
  }
}

/**
 * One event saying what `earlier` then `later` say — consecutive text (or reasoning) deltas of one message joined —
 * or null when they do not merge. Folding the merged event gives the same session as folding both.
 */
export function mergeSessionEvents(earlier: SessionEvent, later: SessionEvent): SessionEvent | null {
  if (earlier.type !== 'part' || later.type !== 'part' || earlier.message_id !== later.message_id) return null;
  const first = earlier.part;
  const second = later.part;
  if ((first.type !== 'text-delta' && first.type !== 'reasoning-delta') || second.type !== first.type) return null;
  return {
    type: 'part',
    message_id: later.message_id,
    part: { type: first.type, text: first.text + second.text },
    at: later.at,
    since: earlier.since ?? earlier.at,
  };
}

/** Whether any participant of the session is answering or being asked right now. */
export function isSessionBusy(session: SessionView): boolean {
  return (
    session.participants.some((participant) => participant.status !== 'idle') || session.dialogue?.running === true
  );
}
