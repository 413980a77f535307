import type { ChatMessage, FinishReason, StreamPart, Usage } from '../chat.js';
import type { AppErrorShape } from '../errors.js';
import type { JsonObject } from '../json.js';

/** The person at the keyboard: what they type is a `user` message to the participants it is addressed to. */
export const userSpeaker = 'user';
/** The app itself (notes such as "the registry changed"); never sent to a model. */
export const systemSpeaker = 'system';
/** A game's programmatic master: its messages are `user` turns of the player they go to. */
export const gameMasterSpeaker = 'game-master';

/** A participant id: 1–32 lower-case letters, digits, `-` or `_`, starting with a letter. */
export const participantIdPattern = /^[a-z][a-z0-9_-]{0,31}$/;

/** Where a turn stands: streaming, finished, stopped by a person, or failed. */
export type TurnStatus = 'streaming' | 'done' | 'stopped' | 'error';

/** Time to first token, duration and rate of one reply. */
export interface TurnTiming {
  /** Milliseconds from the start of the turn to its first text or reasoning; null before (or without) any. */
  first_token_ms: number | null;
  /** Milliseconds from the start of the turn to its end; null while it runs. */
  duration_ms: number | null;
  /** Output tokens per second from the first token to the end; null where unknown (no usage, no text). */
  tokens_per_second: number | null;
}

/** One version of a message: the text, and for a model's reply, how it streamed and ended. */
export interface MessageVersion {
  /** The answer (or what a person typed). */
  text: string;
  /** Reasoning text a model sent apart from its answer (`reasoning-delta` parts); '' when none. */
  reasoning: string;
  status: TurnStatus;
  /** When this version began, ISO 8601. */
  started_at: string;
  /** Why the model stopped (`stop`, `length`, `abort`, `error`); absent while streaming and for typed text. */
  finish_reason?: FinishReason;
  /** The error that ended the reply, when it failed (text that streamed before stays). */
  error?: AppErrorShape;
  /** Token counts the backend reported. */
  usage?: Usage;
  timing?: TurnTiming;
  /** The resolved spec of the speaker when this version was made (absent for people). */
  spec?: JsonObject;
  /** What the person should know that did not stop the reply (a key held back from an untrusted server). */
  warnings?: AppErrorShape[];
  /** A human participant is being asked: answer with this request id. */
  human_request?: { request_id: string; prompt: string };
  /** Turns dropped from the start of the speaker's history so it fitted the model's context (dialogues, games). */
  dropped_turns?: number;
  /**
   * The messages that followed this message while this version was current; kept when another version becomes
   * current (regenerate, edit and resend) and brought back when this one is chosen again, so nothing is lost.
   */
  followers?: TranscriptMessage[];
}

/** One message of a transcript: who said it, to whom, and its versions (one is current). */
export interface TranscriptMessage {
  /** Unique within its session. */
  id: string;
  /** A participant id, or one of {@link reservedSpeakers}. */
  speaker: string;
  /** The participants (and/or `user`) that receive it; a participant sees a message addressed to it as `user`. */
  to: string[];
  /** When the message was first made, ISO 8601. */
  created_at: string;
  /** At least one. */
  versions: MessageVersion[];
  /** Index into `versions`. */
  current: number;
}

/** The current version of a message. */
export function currentVersion(message: TranscriptMessage): MessageVersion {
  const version = message.versions[message.current] ?? message.versions[message.versions.length - 1];
  if (version === undefined) throw new Error(`message ${message.id} has no versions`);
  return version;
}

/** A new version of a model's reply, streaming from `at` (milliseconds since the epoch). */
export function startVersion(at: number, spec?: JsonObject): MessageVersion {
  return {
    text: '',
    reasoning: '',
    status: 'streaming',
    started_at: new Date(at).toISOString(),
    timing: { first_token_ms: null, duration_ms: null, tokens_per_second: null },
    ...(spec === undefined ? {} : { spec }),
  };
}

/** A finished version holding text a person typed (or a game master sent). */
export function typedVersion(text: string, at: number): MessageVersion {
  return { text, reasoning: '', status: 'done', started_at: new Date(at).toISOString() };
}

function finishTiming(version: MessageVersion, at: number): TurnTiming {
  const started = Date.parse(version.started_at);
  const first = version.timing?.first_token_ms ?? null;
  const tokens = version.usage?.output_tokens ?? null;
  const generatingMs = first === null ? 0 : at - (started + first);
  return {
    first_token_ms: first,
    duration_ms: Math.max(0, at - started),
    tokens_per_second: tokens !== null && tokens > 0 && generatingMs > 0 ? (tokens * 1000) / generatingMs : null,
  };
}

/**
 * Folds one stream part into a reply: the one reducer the engine, the Chat and Pair pages, the CLI and the tests
 * all use, so a reply reads the same everywhere. `at` is when the part arrived (milliseconds since the epoch; the
 * engine stamps it, clients replay the stamp). Parts after the end are ignored.
 */
export function applyStreamPart(version: MessageVersion, part: StreamPart, at: number): MessageVersion {
  if (version.status !== 'streaming') return version;
  const firstToken = (): TurnTiming => {
    const timing = version.timing ?? { first_token_ms: null, duration_ms: null, tokens_per_second: null };
    return timing.first_token_ms === null
      ? { ...timing, first_token_ms: Math.max(0, at - Date.parse(version.started_at)) }
      : timing;
  };
  switch (part.type) {
    case 'text-delta': {
      const { human_request: _asked, ...rest } = version;
      return { ...rest, text: version.text + part.text, timing: firstToken() };
    }
    case 'reasoning-delta':
      return { ...version, reasoning: version.reasoning + part.text, timing: firstToken() };
    case 'usage':
      return { ...version, usage: part.usage };
    case 'warning':
      return { ...version, warnings: [...(version.warnings ?? []), part.warning] };
    case 'human-input-needed':
      return { ...version, human_request: { request_id: part.request_id, prompt: part.prompt } };
    case 'end': {
      const { human_request: _asked, ...rest } = version;
      const ended: MessageVersion = {
        ...rest,
        status: part.reason === 'abort' ? 'stopped' : 'done',
        finish_reason: part.reason,
      };
      return { ...ended, timing: finishTiming(ended, at) };
    }
    case 'error': {
      const { human_request: _asked, ...rest } = version;
      const ended: MessageVersion = { ...rest, status: 'error', finish_reason: 'error', error: part.error };
      return { ...ended, timing: finishTiming(ended, at) };
    }
  }
}

/** Replaces the current version of a message. */
export function withCurrentVersion(message: TranscriptMessage, version: MessageVersion): TranscriptMessage {
  const versions = [...message.versions];
  versions[message.current] = version;
  return { ...message, versions };
}

/**
 * What one participant has seen, as chat messages for its model: its system prompt, its own current replies as
 * `assistant` turns and every message addressed to it as `user` turns. Another participant's reply reaches it only
 * when addressed to it (a dialogue), and then as a `user` turn, never as its own. Replies that failed or were stopped
 * before any text are left out.
 */
export function historyFor(
  participantId: string,
  messages: readonly TranscriptMessage[],
  system?: string,
): ChatMessage[] {
  const history: ChatMessage[] =
    system !== undefined && system.trim() !== '' ? [{ role: 'system', content: system }] : [];
  for (const message of messages) {
    const version = currentVersion(message);
    if (version.text === '' && version.status !== 'done') continue;
    if (message.speaker === participantId) history.push({ role: 'assistant', content: version.text });
    else if (message.to.includes(participantId)) history.push({ role: 'user', content: version.text });
  }
  return history;
}

/**
 * The rule for a history that does not fit a model's context, in dialogues and games: keep the system prompt and the
 * newest message, and drop the oldest turns after the system prompt one at a time — dropping a following assistant
 * turn with its user turn, so the kept history still starts with a `user` message — until the estimate fits.
 * Returns the history to send and how many messages were dropped; `fits` is false when even the system prompt and the
 * newest message are too long.
 */
export function fitHistory(
  history: readonly ChatMessage[],
  fits: (candidate: readonly ChatMessage[]) => boolean,
): { history: ChatMessage[]; dropped: number; fits: boolean } {
  const head = history[0]?.role === 'system' ? [history[0]] : [];
  const body = history.slice(head.length);
  let start = 0;
  const candidate = (): ChatMessage[] => [...head, ...body.slice(start)];
  while (!fits(candidate())) {
    if (body.length - start <= 1) return { history: candidate(), dropped: start, fits: false };
    start += 1;
    while (body.length - start > 1 && body[start]?.role === 'assistant') start += 1;
  }
  return { history: candidate(), dropped: start, fits: true };
}

/**
 * A rough token count where the model cannot count itself: four characters a token and four tokens of framing per
 * message, the usual rule of thumb for English text and OpenAI-style chat templates. It errs high on purpose.
 */
export function estimateTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, message) => sum + Math.ceil(message.content.length / 4) + 4, 0);
}
