import { toAppErrorShape, type AppErrorShape } from './errors.js';

/** Who said a message. */
export type Role = 'system' | 'user' | 'assistant';

/** One chat message. */
export interface ChatMessage {
  role: Role;
  content: string;
}

/**
 * Per-call generation options. Each one left out falls back to the spec's own value of the same name
 * (top level or under `model_config`), then to the backend's default.
 */
export interface GenerationOptions {
  /** Sampling temperature, 0..2; default: the backend's (OpenAI: 1). */
  temperature?: number;
  /** Upper bound on generated tokens; default: the backend's. */
  max_tokens?: number;
  /** Nucleus sampling mass, 0..1. */
  top_p?: number;
  /** Sampling seed, for backends that honour one. */
  seed?: number;
  /** Strings that end generation when produced (not included in the output). */
  stop?: string[];
}

/** Token counts of one generation; `null` where the backend did not say. */
export interface Usage {
  /** Tokens in the prompt. */
  input_tokens: number | null;
  /** Tokens generated so far. */
  output_tokens: number | null;
}

/** Why a generation ended. */
export type FinishReason = 'stop' | 'length' | 'abort' | 'error';

/** One part of a streamed generation (a discriminated union on `type`). */
export type StreamPart =
  | { type: 'text-delta'; text: string }
  | { type: 'reasoning-delta'; text: string }
  | { type: 'usage'; usage: Usage }
  /** Something the person should know that does not stop the reply (a key held back from an untrusted server). */
  | { type: 'warning'; warning: AppErrorShape }
  /** The human backend waits for a person: answer with `chat.humanReply` and this `request_id`. */
  | { type: 'human-input-needed'; request_id: string; prompt: string }
  | { type: 'end'; reason: Exclude<FinishReason, 'error'> }
  /** The generation failed; `partial` is true when text streamed before the error (and was kept). */
  | { type: 'error'; error: AppErrorShape; partial: boolean };

/**
 * Stream parts gathered in order, consecutive deltas of one kind joined into one part when taken — the one way parts
 * that piled up are merged (a network read's tokens, a burst a busy consumer did not take yet). A delta costs a
 * string in a list, not a part object or a concatenation of its own.
 */
export class StreamPartBatch {
  private readonly parts: StreamPart[] = [];
  private open: { type: 'text-delta' | 'reasoning-delta'; pieces: string[] } | null = null;

  /** Whether nothing is waiting. */
  get empty(): boolean {
    return this.parts.length === 0 && this.open === null;
  }

  add(part: StreamPart): void {
    if (part.type === 'text-delta' || part.type === 'reasoning-delta') this.delta(part.type, part.text);
    else {
      this.close();
      this.parts.push(part);
    }
  }

  /** A delta, without making a part for it. */
  delta(type: 'text-delta' | 'reasoning-delta', text: string): void {
    if (this.open?.type !== type) {
      this.close();
      this.open = { type, pieces: [] };
    }
    this.open.pieces.push(text);
  }

  /** Everything gathered, deltas joined; the batch is empty afterwards. */
  take(): StreamPart[] {
    this.close();
    return this.parts.splice(0);
  }

  private close(): void {
    if (this.open === null) return;
    const { type, pieces } = this.open;
    this.parts.push({ type, text: pieces.length === 1 ? pieces[0]! : pieces.join('') });
    this.open = null;
  }
}

/**
 * How a generation that failed before any output ends: if it was stopped, as a stop (usage so far, `end: abort`),
 * since a stop is the person's choice and not a failure; otherwise as the error.
 */
export function endBeforeOutput(error: unknown, stopped: boolean): StreamPart[] {
  return stopped
    ? [
        { type: 'usage', usage: { input_tokens: null, output_tokens: 0 } },
        { type: 'end', reason: 'abort' },
      ]
    : [{ type: 'error', error: toAppErrorShape(error), partial: false }];
}
