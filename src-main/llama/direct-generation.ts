/**
 * Generation straight on a context sequence, for the common case: a chat template without thought segments or
 * function calling, and no repeat penalty. node-llama-cpp's LlamaChat does much more per token (segment tracking, a
 * token stream regulator, function-call syntax detection, two stop detectors) and costs the main thread about half
 * as much again as the bare evaluate loop on a 150M model (bench/RESULTS.md, llamacpp); this loop costs little more
 * than the bare one. Everything else still goes through LlamaChat.
 */
import type {
  ChatWrapper,
  ChatWrapperGeneratedContextState,
  LlamaContextSequence,
  LlamaModel,
  Token,
} from 'node-llama-cpp';
import { StopStringFilter } from '../backends/options.js';
import type { SamplingSettings } from './settings.js';

/** Why a direct generation ended. */
export type DirectStopReason = 'stop' | 'max-tokens' | 'abort';

/** Bytes of one character a token may leave unfinished: up to three more tokens complete a UTF-8 sequence. */
const maxPendingTokens = 4;
/** Tokens of context the detokenizer gets before the new ones, so that spaces between words come out right. */
const detokenizeContext = 8;

/** Keys of a chat wrapper's `segments` settings that configure segments rather than define a segment type. */
const segmentOptionKeys = new Set(['closeAllSegments', 'reiterateStackAfterFunctionCalls']);

/** Whether {@link generateDirectly} can produce what LlamaChat would for this template, state and sampling. */
export function canGenerateDirectly(
  wrapper: ChatWrapper,
  state: ChatWrapperGeneratedContextState,
  sampling: SamplingSettings,
): boolean {
  // Templates of reasoning models define segment types (`thought`, `comment`); LlamaChat streams those apart.
  const segments = wrapper.settings.segments ?? {};
  if (Object.keys(segments).some((key) => !segmentOptionKeys.has(key))) return false;
  if (sampling.repeatPenalty !== undefined && sampling.repeatPenalty !== 1) return false;
  return (
    state.prefixTriggers === undefined &&
    state.noPrefixTrigger === undefined &&
    state.rerender === undefined &&
    state.ignoreStartText === undefined &&
    state.functionCall === undefined
  );
}

/**
 * The template's stop triggers: a single special token is matched by its id (its text may not be shown at all);
 * anything else by its text, with the caller's stop strings.
 */
function stopConditions(
  model: LlamaModel,
  state: ChatWrapperGeneratedContextState,
  stop: readonly string[],
): { tokens: Set<Token>; texts: string[] } {
  const tokens = new Set<Token>();
  const texts = [...stop];
  for (const trigger of state.stopGenerationTriggers) {
    if (trigger.values.every((value) => typeof value === 'string')) {
      texts.push(trigger.values.join(''));
      continue;
    }
    const triggerTokens = trigger.tokenize(model.tokenizer, 'trimLeadingSpace');
    if (triggerTokens.length === 1) tokens.add(triggerTokens[0] as Token);
    else texts.push(model.detokenize(triggerTokens, false));
  }
  return { tokens, texts };
}

/** One generation: the prompt's tokens, where to run it, how to sample and when to stop. */
export interface DirectGeneration {
  model: LlamaModel;
  sequence: LlamaContextSequence;
  state: ChatWrapperGeneratedContextState;
  /** `state.contextText` tokenized (the caller counts them for usage). */
  inputTokens: Token[];
  sampling: SamplingSettings;
  /** The most tokens to generate. */
  maxTokens: number;
  signal: AbortSignal;
  /** Called with the count of tokens generated so far, after each one. */
  onTokens(count: number): void;
}

/** Streams the reply's text; returns why it ended. */
export async function* generateDirectly(generation: DirectGeneration): AsyncGenerator<string, DirectStopReason> {
  const { model, sequence, sampling, signal } = generation;
  const stops = stopConditions(model, generation.state, sampling.stop);
  const filter = new StopStringFilter(stops.texts);
  // What the sequence already holds of this prompt (the conversation so far) is kept; at least the last token is
  // evaluated again, since its logits are what the first new token is sampled from.
  const input = generation.inputTokens;
  const last = input.at(-1);
  if (last === undefined) throw new Error('the prompt is empty');
  await sequence.adaptStateToTokens(input.slice(0, -1), false);
  const toEvaluate = input.slice(sequence.nextTokenIndex);
  const recent: Token[] = input.slice(-detokenizeContext);
  const pending: Token[] = [];
  let generated = 0;
  let reason: DirectStopReason = 'stop';
  const tokens = sequence.evaluate(toEvaluate, {
    ...(sampling.temperature === undefined ? {} : { temperature: sampling.temperature }),
    ...(sampling.topK === undefined ? {} : { topK: sampling.topK }),
    ...(sampling.topP === undefined ? {} : { topP: sampling.topP }),
    ...(sampling.minP === undefined ? {} : { minP: sampling.minP }),
    ...(sampling.seed === undefined ? {} : { seed: sampling.seed }),
  });
  for await (const token of tokens) {
    if (signal.aborted) {
      reason = 'abort';
      break;
    }
    generated += 1;
    generation.onTokens(generated);
    if (stops.tokens.has(token) || model.isEogToken(token)) break;
    pending.push(token);
    const text = model.detokenize(pending, false, recent);
    // A character split across tokens: wait for the rest of its bytes (a few tokens at most). Cut off by max tokens,
    // the unfinished character is dropped, as LlamaChat does.
    if (text.endsWith('\uFFFD') && pending.length < maxPendingTokens) {
      if (generated < generation.maxTokens) continue;
      reason = 'max-tokens';
      break;
    }
    recent.push(...pending);
    recent.splice(0, recent.length - detokenizeContext);
    pending.length = 0;
    const shown = filter.push(text);
    if (shown !== '') yield shown;
    if (filter.stopped) break;
    if (generated >= generation.maxTokens) {
      reason = 'max-tokens';
      break;
    }
  }
  if (reason !== 'abort' && signal.aborted) reason = 'abort';
  if (reason !== 'abort') {
    const rest = filter.flush();
    if (rest !== '') yield rest;
  }
  return reason;
}
