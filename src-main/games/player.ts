import type { ChatMessage, FinishReason, StreamPart, Usage } from '../../src-shared/chat.js';
import type { AppErrorShape } from '../../src-shared/errors.js';

/** One answer of a player. */
export interface PlayerReply {
  text: string;
  /** Token counts where the backend reports them. */
  usage?: Usage;
  finish_reason?: FinishReason;
  /** Set when the player failed (the backend's error); the episode then ends with this error. */
  error?: AppErrorShape;
  /** The history as it was sent, when it was not the whole history (oldest turns dropped to fit the context). */
  sent?: ChatMessage[];
  /** Messages dropped from the start of the history to fit the model's context. */
  dropped_turns?: number;
}

/**
 * A player of one role in one episode. Its history is its own: what the game master sends it arrives as a `user`
 * message, its answers are its `assistant` turns; `messages` is that history, ending with the master's message.
 */
export interface Player {
  /** True for a model (its answer streams, part by part); false for a rule-based player, called directly. */
  readonly streams: boolean;
  /** The answer to `messages`; a streaming player hands each stream part to `onPart` as it arrives. */
  respond(messages: ChatMessage[], signal: AbortSignal, onPart?: (part: StreamPart) => void): Promise<PlayerReply>;
}
