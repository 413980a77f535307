import type { ChatMessage, GenerationOptions, StreamPart } from '../../src-shared/chat.js';
import { AppError, toAppErrorShape } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { mergeGenerationOptions, normalizeMessages, readSpecSetting, StopStringFilter } from './options.js';
import type { Backend, GenerateRequest, Model } from './types.js';

/** What a programmatic spec says to answer. */
interface Script {
  /** Answers in order, one per assistant turn; the last repeats when they run out. Null: echo the last user message. */
  responses: string[] | null;
  /** Milliseconds between streamed words; default 0 (still one event-loop turn per word, so stop works). */
  delayMs: number;
}

/** The spec's scripted `responses` (top level or `model_config`); null when it has none, `invalid-spec` when bad. */
export function readResponses(spec: JsonObject): string[] | null {
  const responses = readSpecSetting(spec, 'responses');
  if (responses === undefined) return null;
  const list = responses.value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string')) {
    throw new AppError(
      'invalid-spec',
      `the programmatic spec's \`${responses.path}\` must be a non-empty list of strings`,
    );
  }
  return list as string[];
}

/** The scripted answer for this turn: counted from the assistant turns so far, the last answer repeating. */
export function scriptedAnswer(responses: readonly string[], messages: readonly ChatMessage[]): string {
  const turn = messages.filter((message) => message.role === 'assistant').length;
  return responses[Math.min(turn, responses.length - 1)] ?? '';
}

function readScript(spec: JsonObject): Script {
  const responses = readResponses(spec);
  const echo = readSpecSetting(spec, 'echo');
  if (echo !== undefined && typeof echo.value !== 'boolean') {
    throw new AppError('invalid-spec', `the programmatic spec's \`${echo.path}\` must be true or false`);
  }
  const delay = readSpecSetting(spec, 'delay_ms');
  if (delay !== undefined && (typeof delay.value !== 'number' || delay.value < 0 || delay.value > 60_000)) {
    throw new AppError(
      'invalid-spec',
      `the programmatic spec's \`${delay.path}\` must be milliseconds from 0 to 60000`,
    );
  }
  if (echo?.value === true && responses !== null) {
    throw new AppError('invalid-spec', 'a programmatic spec has either `responses` or `echo: true`, not both');
  }
  return {
    responses,
    delayMs: typeof delay?.value === 'number' ? delay.value : 0,
  };
}

/** The answer for this turn: stateless (counted from the conversation), so every replay of a chat is the same. */
function answerFor(script: Script, messages: readonly ChatMessage[]): string {
  if (script.responses !== null) return scriptedAnswer(script.responses, messages);
  return [...messages].reverse().find((message) => message.role === 'user')?.content ?? '';
}

/** Words with their trailing white space, so the deltas concatenate back to the answer exactly. */
function words(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text === '' ? [] : [text]);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    // setImmediate-like turn when ms is 0, so an abort arriving over a socket is seen between words.
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

class ProgrammaticModel implements Model {
  constructor(
    readonly spec: JsonObject,
    private readonly script: Script,
  ) {}

  async *generate(request: GenerateRequest, signal: AbortSignal): AsyncIterable<StreamPart> {
    let options: GenerationOptions;
    try {
      options = mergeGenerationOptions(this.spec, request.options);
    } catch (error) {
      yield { type: 'error', error: toAppErrorShape(error), partial: false };
      return;
    }
    const messages = normalizeMessages(request.messages);
    const inputTokens = messages.reduce((sum, message) => sum + words(message.content).length, 0);
    const stops = new StopStringFilter(options.stop ?? []);
    let outputTokens = 0;
    const usage = (): StreamPart => ({
      type: 'usage',
      usage: { input_tokens: inputTokens, output_tokens: outputTokens },
    });
    for (const word of words(answerFor(this.script, messages))) {
      await pause(this.script.delayMs, signal);
      const early = signal.aborted
        ? 'abort'
        : options.max_tokens !== undefined && outputTokens >= options.max_tokens
          ? 'length'
          : null;
      if (early !== null) {
        // Text held back as a possible start of a stop string was generated: it belongs to the reply.
        const held = stops.flush();
        if (held !== '') yield { type: 'text-delta', text: held };
        yield usage();
        yield { type: 'end', reason: early };
        return;
      }
      outputTokens += 1;
      const text = stops.push(word);
      if (text !== '') yield { type: 'text-delta', text };
      if (stops.stopped) break;
    }
    const rest = stops.stopped ? '' : stops.flush();
    if (rest !== '') yield { type: 'text-delta', text: rest };
    yield usage();
    yield { type: 'end', reason: 'stop' };
  }

  async dispose(): Promise<void> {}
}

/** Scripted, deterministic players: `responses` in order (one per assistant turn), or `echo`. No network. */
export const backend: Backend = {
  name: 'programmatic',
  async createModel(spec) {
    return new ProgrammaticModel(spec, readScript(spec));
  },
};
