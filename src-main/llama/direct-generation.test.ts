import type { ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestModel } from '../../scripts/test-models.js';
import { toChatHistory } from '../backends/llamacpp.js';
import { canGenerateDirectly, type DirectStopReason, generateDirectly } from './direct-generation.js';
import { LocalModelRuntime } from './runtime.js';
import type { SamplingSettings } from './settings.js';

// The direct loop must say what LlamaChat says: both run greedy on the same real (generated) model and prompt.

let runtime: LocalModelRuntime;
let llama: Llama;
let model: LlamaModel;
let context: LlamaContext;
let sequence: LlamaContextSequence;
let wrapper: ChatWrapper;

beforeAll(async () => {
  runtime = new LocalModelRuntime({ gpu: false });
  llama = await runtime.getLlama();
  model = await llama.loadModel({ modelPath: await ensureTestModel('tiny'), gpuLayers: 0 });
  context = await model.createContext({ contextSize: 512, threads: 1, sequences: 1 });
  sequence = context.getSequence();
  const nl = await runtime.module();
  wrapper = nl.resolveChatWrapper(model);
});

afterAll(async () => {
  await context.dispose();
  await model.dispose();
  await runtime.dispose();
});

const greedy: SamplingSettings = { temperature: 0, stop: [] };

async function viaLlamaChat(text: string, maxTokens: number, stop: string[] = []): Promise<string> {
  const nl = await runtime.module();
  const chat = new nl.LlamaChat({ contextSequence: sequence, chatWrapper: wrapper, autoDisposeSequence: false });
  try {
    const result = await chat.generateResponse(toChatHistory([{ role: 'user', content: text }]), {
      maxTokens,
      temperature: 0,
      repeatPenalty: false,
      ...(stop.length > 0 ? { customStopTriggers: stop } : {}),
    });
    return result.response;
  } finally {
    chat.dispose({ disposeSequence: false });
  }
}

async function direct(
  text: string,
  maxTokens: number,
  sampling: SamplingSettings = greedy,
  signal: AbortSignal = new AbortController().signal,
): Promise<{ text: string; reason: DirectStopReason; tokens: number }> {
  const state = wrapper.generateContextState({ chatHistory: toChatHistory([{ role: 'user', content: text }]) });
  expect(canGenerateDirectly(wrapper, state, sampling)).toBe(true);
  let tokens = 0;
  const parts = generateDirectly({
    model,
    sequence,
    state,
    inputTokens: state.contextText.tokenize(model.tokenizer),
    sampling,
    maxTokens,
    signal,
    onTokens: (count) => {
      tokens = count;
    },
  });
  let output = '';
  let next = await parts.next();
  while (next.done !== true) {
    output += next.value;
    next = await parts.next();
  }
  return { text: output, reason: next.value, tokens };
}

describe('generating directly on the sequence', () => {
  it('gives the text LlamaChat gives, greedy, for several prompts', async () => {
    for (const prompt of ['Hello there', 'Tell me about the sea', 'Once upon a time']) {
      const expected = await viaLlamaChat(prompt, 40);
      const got = await direct(prompt, 40);
      expect(got.text).toBe(expected);
      expect(got.tokens).toBeGreaterThan(0);
      expect(got.tokens).toBeLessThanOrEqual(40);
    }
  });

  it('keeps what the sequence holds of the prompt and still answers the same', async () => {
    const first = await direct('Tell me about the sea', 24);
    // The same prompt again: all but its last token is already in the sequence.
    expect(await direct('Tell me about the sea', 24)).toEqual(first);
  });

  it('ends at max tokens with `max-tokens`', async () => {
    const got = await direct('Once upon a time', 5);
    expect(got.tokens).toBe(5);
    expect(got.reason).toBe('max-tokens');
  });

  it('ends before a stop string, as LlamaChat does', async () => {
    const full = await viaLlamaChat('Tell me about the sea', 40);
    // A stop string from the middle of what the model says.
    const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 3);
    expect(stop.trim()).not.toBe('');
    const got = await direct('Tell me about the sea', 40, { ...greedy, stop: [stop] });
    expect(got.text).toBe(full.slice(0, full.indexOf(stop)));
    expect(got.reason).toBe('stop');
    expect(got.text).toBe(await viaLlamaChat('Tell me about the sea', 40, [stop]));
  });

  it('ends with `abort` when its signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    expect((await direct('Hello there', 40, greedy, controller.signal)).reason).toBe('abort');
  });

  it('leaves a repeat penalty to LlamaChat', () => {
    const state = wrapper.generateContextState({ chatHistory: toChatHistory([{ role: 'user', content: 'Hi' }]) });
    expect(canGenerateDirectly(wrapper, state, { ...greedy, repeatPenalty: 1.1 })).toBe(false);
    expect(canGenerateDirectly(wrapper, state, { ...greedy, repeatPenalty: 1 })).toBe(true);
  });
});
