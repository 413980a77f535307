import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LlamaContextOptions, LlamaModel } from 'node-llama-cpp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeNotGguf } from '../../scripts/make-gguf.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import type { ChatMessage, GenerationOptions, StreamPart, Usage } from '../../src-shared/chat.js';
import type { JsonObject } from '../../src-shared/json.js';
import { Participant } from '../conversation/participant.js';
import { type FakeModelServer, startFakeModelServer } from '../llama/fake-model-server.js';
import { createLocalModelService, type LocalModelService } from '../llama/service.js';
import { backend, toChatHistory } from './llamacpp.js';
import { cullEos } from './options.js';
import type { BackendContext, Model } from './types.js';
import { rejection } from '../testing/rejection.js';

let service: LocalModelService;
let context: BackendContext;
let folder = '';
let models = '';
let tiny = '';
let server: FakeModelServer;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'clemplay-llamacpp-'));
  models = join(folder, 'models');
  await mkdir(models);
  tiny = await ensureTestModel('tiny');
  service = createLocalModelService({ modelsDirs: [models], gpu: false, cwd: folder });
  context = { getApiKey: async () => ({ apiKey: undefined }), localModels: service };
  server = await startFakeModelServer({ '/served-tiny.gguf': tiny });
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await server.close();
  await service.dispose();
  await rm(folder, { recursive: true, force: true });
});

const base: JsonObject = { backend: 'llamacpp', model_name: 'tiny', threads: 1, context_size: 512 };
const hello: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hello there' },
];

function make(spec: JsonObject = {}): Promise<Model> {
  return backend.createModel({ ...base, model_path: tiny, ...spec }, context);
}

async function collect(
  model: Model,
  options: GenerationOptions = {},
  messages: ChatMessage[] = hello,
  signal: AbortSignal = new AbortController().signal,
): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of model.generate({ messages, options }, signal)) parts.push(part);
  return parts;
}

function textOf(parts: StreamPart[]): string {
  return parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('');
}

function usageOf(parts: StreamPart[]): Usage | undefined {
  const part = parts.find((candidate) => candidate.type === 'usage');
  return part?.type === 'usage' ? part.usage : undefined;
}

describe('chat', () => {
  it('streams text deltas, then usage, then the end', async () => {
    const model = await make();
    const parts = await collect(model, { max_tokens: 24 });
    const types = parts.map((part) => part.type);
    expect(types.at(-1)).toBe('end');
    expect(types.at(-2)).toBe('usage');
    expect(types.slice(0, -2).every((type) => type === 'text-delta')).toBe(true);
    expect(types.filter((type) => type === 'text-delta').length).toBeGreaterThan(1);
    expect(textOf(parts).length).toBeGreaterThan(0);
    const usage = usageOf(parts);
    expect(usage?.input_tokens).toBeGreaterThan(5);
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'length' });
    expect(usage?.output_tokens).toBe(24);
    await model.dispose();
  });

  // `hello` runs 24 greedy tokens without reaching the end of a turn (the test above), so each limit is what stops it.
  it.each([1, 5, 16])('respects max_tokens %i: exactly that many tokens, then end: length', async (maxTokens) => {
    const model = await make();
    const parts = await collect(model, { max_tokens: maxTokens });
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'length' });
    expect(usageOf(parts)?.output_tokens).toBe(maxTokens);
    // Greedy is deterministic: fewer tokens are a prefix of more.
    expect(textOf(await collect(model, { max_tokens: 24 }))).toContain(textOf(parts));
  });

  it('without max_tokens, stops when the context is full', async () => {
    const parts = await collect(await make({ context_size: 128 }), {}, [{ role: 'user', content: 'Hi' }]);
    const usage = usageOf(parts);
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'length' });
    expect((usage?.input_tokens ?? 0) + (usage?.output_tokens ?? 0)).toBe(256);
  });

  it('takes max_tokens from the spec, and the call over the spec', async () => {
    const model = await make({ max_tokens: 3 });
    expect(usageOf(await collect(model))?.output_tokens).toBe(3);
    expect(usageOf(await collect(model, { max_tokens: 6 }))?.output_tokens).toBe(6);
  });

  it('is deterministic at temperature 0 and ends at a stop string, which is not shown', async () => {
    const model = await make();
    const full = textOf(await collect(model, { max_tokens: 24 }));
    expect(textOf(await collect(model, { max_tokens: 24 }))).toBe(full);
    const match = /[A-Za-z]{2}/.exec(full.slice(3));
    expect(match).not.toBeNull();
    const stop = match![0];
    const parts = await collect(model, { max_tokens: 24, stop: [stop] });
    expect(textOf(parts)).toBe(full.slice(0, full.indexOf(stop)));
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'stop' });
  });

  it("culls clemcore's eos_to_cull from the streamed text", async () => {
    const full = textOf(await collect(await make(), { max_tokens: 24 }));
    const piece = /[A-Za-z]{2}/.exec(full)![0];
    const culled = textOf(await collect(await make({ model_config: { eos_to_cull: piece } }), { max_tokens: 24 }));
    expect(culled).toBe(cullEos(full, piece));
    expect(culled).not.toContain(piece);
  });

  it('continues a prefilled assistant message', () => {
    expect(toChatHistory([{ role: 'user', content: 'Hi' }])).toEqual([
      { type: 'user', text: 'Hi' },
      { type: 'model', response: [] },
    ]);
    expect(toChatHistory([{ role: 'assistant', content: 'Sure,' }])).toEqual([{ type: 'model', response: ['Sure,'] }]);
  });
});

describe('stopping', () => {
  it('stops mid-generation quickly, with the usage so far and end: abort', async () => {
    const model = await make();
    const controller = new AbortController();
    const parts: StreamPart[] = [];
    let abortedAt = 0;
    for await (const part of model.generate({ messages: hello, options: {} }, controller.signal)) {
      parts.push(part);
      if (part.type === 'text-delta' && abortedAt === 0) {
        abortedAt = performance.now();
        controller.abort();
      }
    }
    expect(performance.now() - abortedAt).toBeLessThan(2_000);
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'abort' });
    const usage = usageOf(parts);
    expect(parts.at(-2)?.type).toBe('usage');
    expect(usage?.output_tokens).toBeGreaterThanOrEqual(1);
    expect(usage?.output_tokens).toBeLessThan(100);
  });

  it('gives the sequence back when the reader stops reading', async () => {
    const model = await make({ parallel: 1 });
    for await (const part of model.generate({ messages: hello, options: {} }, new AbortController().signal)) {
      if (part.type === 'text-delta') break;
    }
    expect((await collect(model, { max_tokens: 4 })).at(-1)).toEqual({ type: 'end', reason: 'length' });
    expect(service.status().models.every((loaded) => loaded.active_generations === 0)).toBe(true);
  });

  it('a disposed model ends its generations with abort, and the loaded model stays', async () => {
    const model = await make();
    const parts: StreamPart[] = [];
    for await (const part of model.generate({ messages: hello, options: {} }, new AbortController().signal)) {
      parts.push(part);
      if (parts.length === 2) await model.dispose();
    }
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'abort' });
    expect(service.status().models.some((loaded) => loaded.path === tiny)).toBe(true);
  });

  it('unloading the model ends its generations with abort; the next one loads it again', async () => {
    const model = await make({ context_size: 448 });
    const parts: StreamPart[] = [];
    let unloading: Promise<string[]> | undefined;
    for await (const part of model.generate({ messages: hello, options: {} }, new AbortController().signal)) {
      parts.push(part);
      // Not awaited here: the unload waits for this generation, which needs this loop to go on reading.
      if (parts.length === 2) unloading = service.unload({ path: tiny });
    }
    await unloading;
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'abort' });
    expect((await collect(model, { max_tokens: 2 })).at(-1)).toEqual({ type: 'end', reason: 'length' });
  });
});

describe('cancelling while the model is made', () => {
  it('a download stops when the chat is stopped: aborted, nothing loaded', async () => {
    const controller = new AbortController();
    const seen = server.requests.length;
    server.mode = 'hang';
    try {
      const making = backend.createModel(
        { ...base, model_uri: `${server.url}/served-tiny.gguf`, context_size: 416 },
        context,
        controller.signal,
      );
      // Without the signal, this would wait for the server until the connect timeout (15 s), then fail with network.
      while (server.requests.length === seen) await new Promise((resolve) => setTimeout(resolve, 10));
      controller.abort();
      const error = await rejection(making);
      expect(error.code).toBe('aborted');
    } finally {
      server.mode = 'serve';
    }
    expect(service.status().models.filter((loaded) => loaded.settings.context_size === 416)).toEqual([]);
  });

  it('a chat stopped while its model loads ends with aborted, and leaves nothing loaded', async () => {
    const nl = await service.runtime.module();
    const controller = new AbortController();
    const createContext = nl.LlamaModel.prototype.createContext;
    const made: LlamaModel[] = [];
    // Stopped in the middle of the load: the weights are in, the context is being made.
    vi.spyOn(nl.LlamaModel.prototype, 'createContext').mockImplementation(async function (
      this: LlamaModel,
      options?: LlamaContextOptions,
    ) {
      made.push(this);
      controller.abort();
      return createContext.call(this, options);
    });
    const spec = { ...base, model_path: tiny, context_size: 432 };
    const parts: StreamPart[] = [];
    const dependencies = {
      registry: {
        resolve: () => ({
          spec,
          source: null,
          provenance: { file: null, lookupSource: null, index: null, fromQuery: [], fromEntry: [], bindings: {} },
        }),
      },
      backendContext: context,
    };
    const participant = new Participant({ id: 'model', label: 'Model', query: spec }, dependencies);
    for await (const part of participant.reply(hello, controller.signal)) parts.push(part);
    // A stop while the model loads is a stop like any other: usage so far, then end: abort.
    expect(parts.map((part) => part.type)).toEqual(['usage', 'end']);
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'abort' });
    expect(made).toHaveLength(1);
    // The load's clean-up goes on after the chat ended: the model is disposed, then the entry leaves the list.
    const cleanedUp = (): boolean =>
      made.every((model) => model.disposed) &&
      service.status().models.every((loaded) => loaded.settings.context_size !== 432);
    // Waits for that state (the bound is only how long a loaded machine may take, not an expectation of speed).
    await vi.waitFor(() => expect(cleanedUp()).toBe(true), { timeout: 20_000, interval: 10 });
    expect(made.every((model) => model.disposed)).toBe(true);
    expect(service.status().models.filter((loaded) => loaded.settings.context_size === 432)).toEqual([]);
  });
});

describe('two chats on one model', () => {
  const other: ChatMessage[] = [{ role: 'user', content: 'What is the game about?' }];

  it.each([1, 2])('do not disturb each other (parallel: %i)', async (parallel) => {
    const model = await make({ parallel });
    const aloneFirst = textOf(await collect(model, { max_tokens: 20 }, hello));
    const aloneSecond = textOf(await collect(model, { max_tokens: 20 }, other));
    const [first, second] = await Promise.all([
      collect(model, { max_tokens: 20 }, hello),
      collect(model, { max_tokens: 20 }, other),
    ]);
    expect(textOf(first)).toBe(aloneFirst);
    expect(textOf(second)).toBe(aloneSecond);
    expect(usageOf(first)?.output_tokens).toBe(20);
    expect(usageOf(second)?.output_tokens).toBe(20);
    const loaded = service
      .status()
      .models.filter(
        (candidate) =>
          candidate.path === tiny &&
          candidate.settings.parallel === parallel &&
          candidate.settings.context_size === 512,
      );
    expect(loaded).toHaveLength(1);
  });
});

describe('chat templates', () => {
  it("uses a named node-llama-cpp wrapper or a Jinja template from the spec (clemcore's custom_chat_template)", async () => {
    const named = await collect(await make({ chat_template: 'general' }), { max_tokens: 2 });
    const custom = await collect(
      await make({
        model_config: {
          custom_chat_template:
            "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}{% endfor %}" +
            "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}",
        },
      }),
      { max_tokens: 2 },
    );
    const auto = await collect(await make(), { max_tokens: 2 });
    expect(named.at(-1)).toEqual({ type: 'end', reason: 'length' });
    expect(custom.at(-1)).toEqual({ type: 'end', reason: 'length' });
    expect(
      new Set([usageOf(named)?.input_tokens, usageOf(custom)?.input_tokens, usageOf(auto)?.input_tokens]).size,
    ).toBe(3);
  });

  it('rejects an unknown wrapper name when the model is made, listing the names', async () => {
    const error = await rejection(make({ chat_template: 'no-such-wrapper' }));
    expect(error.code).toBe('invalid-spec');
    expect(error.message).toMatch(/names no chat wrapper node-llama-cpp has: "no-such-wrapper".*chatML/);
  });
});

describe('failures', () => {
  it.each<[string, JsonObject, string, RegExp]>([
    ['no source', {}, 'invalid-spec', /needs one of `model_path`/],
    ['a bad setting', { model_path: 'x.gguf', gpu_layers: 'lots' }, 'invalid-spec', /`gpu_layers` must be/],
    [
      'a missing file',
      { model_path: 'nowhere.gguf' },
      'not-found',
      /No model file "nowhere\.gguf": looked at .*nowhere\.gguf/,
    ],
    [
      'a clemcore glob that cannot be resolved offline',
      { huggingface_id: 'u/r', model_config: { filename: '*odd*' } },
      'invalid-spec',
      /needs the repository's file list/,
    ],
  ])('%s is an error when the model is made', async (_name, spec, code, message) => {
    const error = await rejection(backend.createModel({ ...base, ...spec }, context));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('a file that is not a GGUF is a model-load error; the backend still works afterwards', async () => {
    const path = join(folder, 'not.gguf');
    await writeNotGguf(path);
    const error = await rejection(make({ model_path: path }));
    expect(error.code).toBe('model-load');
    expect((await collect(await make(), { max_tokens: 1 })).at(-1)?.type).toBe('end');
  });

  it('counts a prompt the way a generation does, before it is sent', async () => {
    const model = await make({ context_size: 256 });
    const messages = [{ role: 'user' as const, content: 'hello world '.repeat(5) }];
    const measured = await model.measure!(messages);
    expect(measured.context_size).toBe(256);
    const parts = await collect(model, { max_tokens: 1 }, messages);
    expect(usageOf(parts)?.input_tokens).toBe(measured.tokens);
  });

  it('a conversation longer than the context is an error part, not a crash', async () => {
    const model = await make({ context_size: 64 });
    const parts = await collect(model, {}, [{ role: 'user', content: 'hello world '.repeat(60) }]);
    expect(parts).toEqual([
      {
        type: 'error',
        partial: false,
        error: expect.objectContaining({
          code: 'context-overflow',
          message: expect.stringMatching(/is \d+ tokens long, but the model's context holds \d+ — shorten it/),
        }),
      },
    ]);
  });

  it('a bad per-call option is an error part', async () => {
    const parts = await collect(await make(), { max_tokens: 0 });
    expect(parts).toEqual([
      { type: 'error', partial: false, error: expect.objectContaining({ code: 'invalid-input' }) },
    ]);
  });
});

describe('where the weights come from', () => {
  it('a relative model_path is found in a models folder', async () => {
    await copyFile(tiny, join(models, 'copied.gguf'));
    const model = await backend.createModel({ ...base, model_path: 'copied.gguf' }, context);
    expect((await collect(model, { max_tokens: 1 })).at(-1)?.type).toBe('end');
  });

  it("clemcore's huggingface_id with a quantization glob finds an earlier download", async () => {
    await copyFile(tiny, join(models, 'hf_someone_tiny-model.F32.gguf'));
    const model = await backend.createModel(
      { ...base, huggingface_id: 'someone/tiny-model-GGUF', model_config: { filename: '*F32.gguf' } },
      context,
    );
    expect((await collect(model, { max_tokens: 1 })).at(-1)?.type).toBe('end');
  });

  it('a model_uri is downloaded into the first models folder, then loaded', async () => {
    const model = await backend.createModel({ ...base, model_uri: `${server.url}/served-tiny.gguf` }, context);
    expect(service.status().models.some((loaded) => loaded.path === join(models, 'served-tiny.gguf'))).toBe(true);
    expect((await collect(model, { max_tokens: 1 })).at(-1)?.type).toBe('end');
  });
});
