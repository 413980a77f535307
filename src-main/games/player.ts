import type { ChatMessage, FinishReason, Usage } from '../../src-shared/chat.js';
import type { AppErrorShape } from '../../src-shared/errors.js';

/** One answer of a player. */
export interface PlayerReply {
  text: string;
  /** Token counts where the backend reports them. */
  usage?: Usage;
  finish_reason?: FinishReason;
  /** Set when the player failed (the backend's error); the episode then ends with this error. */
  error?: AppErrorShape;
}

/**
 * A player of one role in one episode. Its history is its own: what the game master sends it arrives as a `user`
 * message, its answers are its `assistant` turns; `messages` is that history, ending with the master's message.
 */
export interface Player {
  respond(messages: readonly ChatMessage[], signal: AbortSignal): Promise<PlayerReply>;
}
