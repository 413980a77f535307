import { afterEach, describe, expect, it } from 'vitest';

import { StreamPartBatch, type StreamPart } from '../../src-shared/chat.js';
import type { JsonObject } from '../../src-shared/json.js';
import {
  startFakeOpenAIServer,
  type FakeBehaviour,
  type FakeOpenAIServer,
  type FakeOpenAIServerOptions,
} from '../testing/fake-openai-server.js';
import { backend as defaultBackend, createOpenAICompatibleBackend, listModels } from './openai-compatible.js';
import type { BackendContext, GenerateRequest, Model } from './types.js';
import { rejection } from '../testing/rejection.js';

const fastRetries = { retry: { baseDelayMs: 5, maxDelayMs: 20 } };
const backend = createOpenAICompatibleBackend(fastRetries);
const secretKey = 'sk-test-SECRET-key-0123456789';

let server: FakeOpenAIServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: FakeOpenAIServerOptions = {}): Promise<FakeOpenAIServer> {
  server = await startFakeOpenAIServer(options);
  return server;
}

function context(apiKey?: string): BackendContext {
  return { getApiKey: async () => ({ apiKey }) };
}

function specFor(target: FakeOpenAIServer, extra: JsonObject = {}): JsonObject {
  return {
    model_name: 'fake',
    backend: 'openai_compatible',
    model_id: 'fake-model',
    base_url: target.baseUrl,
    timeout_s: 2,
    stall_timeout_s: 1,
    ...extra,
  };
}

async function modelFor(script: FakeBehaviour[], extra: JsonObject = {}, apiKey?: string): Promise<Model> {
  const target = await start({ script });
  return backend.createModel(specFor(target, extra), context(apiKey));
}

const hello: GenerateRequest = { messages: [{ role: 'user', content: 'Say hello.' }], options: {} };

async function collect(
  model: Model,
  request: GenerateRequest = hello,
  signal: AbortSignal = new AbortController().signal,
): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of model.generate(request, signal)) parts.push(part);
  return parts;
}

function textOf(parts: readonly StreamPart[]): string {
  return parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('');
}

/**
 * The parts with consecutive deltas of one kind joined: the backend hands on each network read's tokens as one part,
 * so how the text is split depends on how the bytes arrived, and only the text and the order of kinds are fixed.
 */
function joinDeltas(parts: readonly StreamPart[]): StreamPart[] {
  const batch = new StreamPartBatch();
  for (const part of parts) batch.add(part);
  return batch.take();
}

function lastPart(parts: readonly StreamPart[]): StreamPart | undefined {
  return parts.at(-1);
}

function errorOf(parts: readonly StreamPart[]): Extract<StreamPart, { type: 'error' }> {
  const last = lastPart(parts);
  if (last?.type !== 'error') throw new Error(`expected an error part, got ${JSON.stringify(last)}`);
  return last;
}

describe('openai_compatible backend', { timeout: 10_000 }, () => {
  it('is named openai_compatible', () => {
    expect(defaultBackend.name).toBe('openai_compatible');
  });

  it('streams text, then usage, then end: stop, from a well-formed request', async () => {
    const target = await start({ script: [{ type: 'reply', text: 'Hello there, friend.' }] });
    const model = await backend.createModel(
      specFor(target, {
        seed: 7,
        api_key: 'sk-from-the-spec-must-not-be-used',
        model_config: {
          max_tokens: 50,
          temperature: 0.9,
          extra_body: { top_k: 20, chat_template_kwargs: { enable_thinking: false }, model: 'not-this' },
        },
      }),
      context(),
    );
    const parts = await collect(model, {
      messages: [
        { role: 'system', content: '' },
        { role: 'user', content: 'Hi.' },
        { role: 'user', content: 'Say hello.' },
      ],
      options: { temperature: 0.2 },
    });
    expect(joinDeltas(parts)).toEqual([
      { type: 'text-delta', text: 'Hello there, friend.' },
      { type: 'usage', usage: { input_tokens: 3, output_tokens: 3 } },
      { type: 'end', reason: 'stop' },
    ]);
    expect(target.requests).toHaveLength(1);
    const request = target.requests[0];
    expect(request?.path).toBe('/v1/chat/completions');
    expect(request?.body).toEqual({
      model: 'fake-model',
      messages: [{ role: 'user', content: 'Hi.\n\nSay hello.' }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      seed: 7,
      max_tokens: 50,
      top_k: 20,
      chat_template_kwargs: { enable_thinking: false },
    });
    // No key: no Authorization header at all, and never the spec's api_key.
    expect(request?.headers.authorization).toBeUndefined();
    expect(JSON.stringify(request?.headers)).not.toContain('sk-from-the-spec');
  });

  it('sends the key from the context as a bearer token', async () => {
    const model = await modelFor([{ type: 'reply', text: 'ok' }], {}, secretKey);
    await collect(model);
    expect(server?.requests[0]?.headers.authorization).toBe(`Bearer ${secretKey}`);
  });

  it('streams reasoning deltas from reasoning_content and from reasoning', async () => {
    const model = await modelFor([
      { type: 'reply', reasoning: 'Let me think.', text: 'Four.' },
      { type: 'reply', reasoning: 'Hmm', reasoningField: 'reasoning', text: 'Yes.' },
    ]);
    const first = joinDeltas(await collect(model));
    expect(first.slice(0, 2)).toEqual([
      { type: 'reasoning-delta', text: 'Let me think.' },
      { type: 'text-delta', text: 'Four.' },
    ]);
    const second = joinDeltas(await collect(model));
    expect(second.slice(0, 2)).toEqual([
      { type: 'reasoning-delta', text: 'Hmm' },
      { type: 'text-delta', text: 'Yes.' },
    ]);
  });

  it('ends with length when the server says so', async () => {
    const model = await modelFor([{ type: 'reply', text: 'cut', finishReason: 'length' }]);
    expect(lastPart(await collect(model))).toEqual({ type: 'end', reason: 'length' });
  });

  it('maps 401 to auth with a message naming the key setting, without the key, and does not retry', async () => {
    const target = await start({ apiKey: 'the-right-key', script: [{ type: 'reply', text: 'x' }] });
    const model = await backend.createModel(specFor(target), context(secretKey));
    const parts = await collect(model);
    const error = errorOf(parts);
    expect(error.error.code).toBe('auth');
    expect(error.error.message).toContain(`The server at ${target.baseUrl} said 401`);
    expect(error.error.message).toContain('the API key for backend openai_compatible is missing or wrong');
    expect(error.error.message).toContain('OPENAI_COMPATIBLE_API_KEY');
    expect(error.error.message).toContain('optional');
    expect(error.partial).toBe(false);
    expect(JSON.stringify(parts)).not.toContain(secretKey);
    // The server echoed the key; the details keep its message with the key taken out.
    expect(error.error.details?.['server_message']).toContain('Incorrect API key provided');
    expect(target.requests).toHaveLength(1);
  });

  it('waits for Retry-After on 429, then succeeds', async () => {
    const model = await modelFor([
      { type: 'http-error', status: 429, message: 'Rate limit reached', headers: { 'retry-after': '1' } },
      { type: 'reply', text: 'made it' },
    ]);
    const started = Date.now();
    const parts = await collect(model);
    const elapsed = Date.now() - started;
    expect(textOf(parts)).toBe('made it');
    expect(lastPart(parts)).toEqual({ type: 'end', reason: 'stop' });
    expect(server?.requests).toHaveLength(2);
    const gap = (server?.requests[1]?.receivedAt ?? 0) - (server?.requests[0]?.receivedAt ?? 0);
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(5000);
  });

  it('gives up on 429 after the retries with rate-limit', async () => {
    const limited: FakeBehaviour = { type: 'http-error', status: 429, headers: { 'retry-after-ms': '10' } };
    const model = await modelFor([limited, limited, limited]);
    const error = errorOf(await collect(model));
    expect(error.error.code).toBe('rate-limit');
    expect(error.error.message).toContain('429');
    expect(server?.requests).toHaveLength(3);
  });

  it('does not retry an exhausted quota', async () => {
    const model = await modelFor([{ type: 'http-error', status: 429, code: 'insufficient_quota' }]);
    const error = errorOf(await collect(model));
    expect(error.error.code).toBe('rate-limit');
    expect(error.error.message).toContain('quota');
    expect(server?.requests).toHaveLength(1);
  });

  it('maps 500 three times to network after 3 tries', async () => {
    const failure: FakeBehaviour = { type: 'http-error', status: 500, message: 'CUDA out of luck' };
    const model = await modelFor([failure, failure, failure, { type: 'reply', text: 'too late' }]);
    const parts = await collect(model);
    const error = errorOf(parts);
    expect(error.error.code).toBe('network');
    expect(error.error.message).toContain(`Server error 500 from ${server?.baseUrl}`);
    expect(error.error.message).toContain('after 3 tries');
    expect(error.error.details).toMatchObject({ status: 500, tries: 3, server_message: 'CUDA out of luck' });
    expect(error.partial).toBe(false);
    expect(parts).toHaveLength(1);
    expect(server?.requests).toHaveLength(3);
  });

  it('retries a 500 and succeeds', async () => {
    const model = await modelFor([
      { type: 'http-error', status: 503 },
      { type: 'reply', text: 'fine' },
    ]);
    expect(textOf(await collect(model))).toBe('fine');
  });

  it('honours the spec’s retries', async () => {
    const model = await modelFor(
      [
        { type: 'http-error', status: 500 },
        { type: 'reply', text: 'never' },
      ],
      {
        retries: 0,
      },
    );
    expect(errorOf(await collect(model)).error.code).toBe('network');
    expect(server?.requests).toHaveLength(1);
  });

  it('keeps the partial text on a connection reset mid-stream and does not retry', async () => {
    const model = await modelFor([
      { type: 'reply', text: 'one two three four', fault: { type: 'reset', afterChunks: 2 } },
      { type: 'reply', text: 'a retry would show this' },
    ]);
    const parts = await collect(model);
    expect(textOf(parts)).toBe('one two');
    const error = errorOf(parts);
    expect(error.error.code).toBe('network');
    expect(error.error.message).toContain('broke off');
    expect(error.partial).toBe(true);
    expect(server?.requests).toHaveLength(1);
  });

  it('retries a connection reset that came before any text', async () => {
    const model = await modelFor([
      { type: 'reply', text: 'lost', fault: { type: 'reset', afterChunks: 0 } },
      { type: 'reply', text: 'second try' },
    ]);
    const parts = await collect(model);
    expect(textOf(parts)).toBe('second try');
    expect(server?.requests).toHaveLength(2);
  });

  it('maps a malformed chunk to network, keeping the text', async () => {
    const model = await modelFor([{ type: 'reply', text: 'good then', fault: { type: 'malformed', afterChunks: 1 } }]);
    const parts = await collect(model);
    expect(textOf(parts)).toBe('good');
    const error = errorOf(parts);
    expect(error.error.code).toBe('network');
    expect(error.error.message).toContain('malformed');
    expect(error.partial).toBe(true);
  });

  it('times out a stalled stream, keeping the text, and closes the request', async () => {
    const model = await modelFor([{ type: 'reply', text: 'one two three', fault: { type: 'stall', afterChunks: 2 } }], {
      stall_timeout_s: 0.3,
    });
    const parts = await collect(model);
    expect(textOf(parts)).toBe('one two');
    const error = errorOf(parts);
    expect(error.error.code).toBe('timeout');
    expect(error.error.message).toContain('stalled');
    expect(error.error.message).toContain('stall_timeout_s');
    expect(error.partial).toBe(true);
    expect(await server?.outcome(0)).toBe('client-closed');
  });

  it('times out when no first token comes, without retrying', async () => {
    const model = await modelFor([{ type: 'reply', text: 'never', fault: { type: 'stall', afterChunks: 0 } }], {
      timeout_s: 0.3,
    });
    const parts = await collect(model);
    const error = errorOf(parts);
    expect(error.error.code).toBe('timeout');
    expect(error.error.message).toContain('timeout_s');
    expect(error.partial).toBe(false);
    expect(server?.requests).toHaveLength(1);
    expect(await server?.outcome(0)).toBe('client-closed');
  });

  it('stops quickly on abort with usage and end: abort, and really cancels the request', async () => {
    const model = await modelFor([{ type: 'reply', text: 'word '.repeat(40), delayMs: 50 }]);
    const controller = new AbortController();
    const parts: StreamPart[] = [];
    let abortedAt = 0;
    for await (const part of model.generate(hello, controller.signal)) {
      parts.push(part);
      if (part.type === 'text-delta' && abortedAt === 0) {
        abortedAt = Date.now();
        controller.abort();
      }
    }
    const stoppedAfter = Date.now() - abortedAt;
    expect(stoppedAfter).toBeLessThan(1000);
    // What arrived before the stop is kept, and counted: one output token per word (a slow machine may read more
    // than one of the server's chunks at once).
    const text = textOf(parts);
    expect(text).toMatch(/^word( word)*$/);
    expect(text.split(' ').length).toBeLessThan(40);
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { input_tokens: null, output_tokens: text.split(' ').length } },
      { type: 'end', reason: 'abort' },
    ]);
    expect(await server?.outcome(0)).toBe('client-closed');
  });

  it('ends at once with end: abort when aborted before it starts, sending nothing', async () => {
    const model = await modelFor([{ type: 'reply', text: 'unused' }]);
    const controller = new AbortController();
    controller.abort();
    expect(await collect(model, hello, controller.signal)).toEqual([
      { type: 'usage', usage: { input_tokens: null, output_tokens: 0 } },
      { type: 'end', reason: 'abort' },
    ]);
    expect(server?.requests).toHaveLength(0);
  });

  it('stops while waiting for the key store', async () => {
    const target = await start();
    const waitingForever: BackendContext = { getApiKey: () => new Promise(() => undefined) };
    const model = await backend.createModel(specFor(target), waitingForever);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    expect(await collect(model, hello, controller.signal)).toEqual([
      { type: 'usage', usage: { input_tokens: null, output_tokens: 0 } },
      { type: 'end', reason: 'abort' },
    ]);
  });

  it('ends running generations with end: abort on dispose', async () => {
    const model = await modelFor([{ type: 'reply', text: 'word '.repeat(40), delayMs: 50 }]);
    const parts: StreamPart[] = [];
    for await (const part of model.generate(hello, new AbortController().signal)) {
      parts.push(part);
      if (part.type === 'text-delta') await model.dispose();
    }
    expect(lastPart(parts)).toEqual({ type: 'end', reason: 'abort' });
    expect(await server?.outcome(0)).toBe('client-closed');
  });

  it('cancels the request when the caller stops reading', async () => {
    const model = await modelFor([{ type: 'reply', text: 'word '.repeat(40), delayMs: 50 }]);
    for await (const part of model.generate(hello, new AbortController().signal)) {
      if (part.type === 'text-delta') break;
    }
    expect(await server?.outcome(0)).toBe('client-closed');
  });

  it('maps an error event mid-stream to network, keeping the text', async () => {
    const model = await modelFor([
      { type: 'reply', text: 'partial answer', fault: { type: 'error-event', afterChunks: 1, message: 'engine died' } },
    ]);
    const parts = await collect(model);
    expect(textOf(parts)).toBe('partial');
    const error = errorOf(parts);
    expect(error.error.code).toBe('network');
    expect(error.error.message).toContain('engine died');
    expect(error.partial).toBe(true);
  });

  it('treats a stream that ends without finish_reason as broken, keeping the text', async () => {
    const model = await modelFor([{ type: 'reply', text: 'half of it', fault: { type: 'end-early', afterChunks: 2 } }]);
    const parts = await collect(model);
    expect(textOf(parts)).toBe('half of');
    expect(errorOf(parts).error).toMatchObject({ code: 'network' });
    expect(errorOf(parts).error.message).toContain('ended before the model finished');
  });

  it('culls eos_to_cull without ever showing the marker', async () => {
    const model = await modelFor(
      [
        { type: 'reply', text: ['Hello', ' world<|', 'im_', 'end|>'] },
        { type: 'reply', text: ['No', ' marker'] },
      ],
      { model_config: { eos_to_cull: '<\\|im_end\\|>' } },
    );
    const parts = await collect(model);
    expect(textOf(parts)).toBe('Hello world');
    expect(parts.some((part) => part.type === 'text-delta' && part.text.includes('<'))).toBe(false);
    expect(textOf(await collect(model))).toBe('No marker');
  });

  it('applies stop strings client side too, ending with stop and cancelling the request', async () => {
    const model = await modelFor([{ type: 'reply', text: ['Hello ', 'ST', 'OP', ' more', ' and more'], delayMs: 30 }]);
    const parts = await collect(model, { ...hello, options: { stop: ['STOP'] } });
    expect(textOf(parts)).toBe('Hello ');
    expect(parts.slice(-2)).toEqual([
      { type: 'usage', usage: { input_tokens: null, output_tokens: 3 } },
      { type: 'end', reason: 'stop' },
    ]);
    expect(server?.requests[0]?.body).toMatchObject({ stop: ['STOP'] });
    expect(await server?.outcome(0)).toBe('client-closed');
  });

  it('never puts the API key into an error, even when the server echoes it', async () => {
    const echo = `bad request with ${secretKey} and Bearer ${secretKey}`;
    const model = await modelFor(
      [
        { type: 'http-error', status: 400, message: echo },
        { type: 'http-error', status: 500, message: echo },
      ],
      { retries: 0 },
      secretKey,
    );
    const badRequest = await collect(model);
    expect(errorOf(badRequest).error.code).toBe('invalid-input');
    expect(errorOf(badRequest).error.message).toContain('rejected the request (400)');
    const serverError = await collect(model);
    for (const parts of [badRequest, serverError]) {
      expect(JSON.stringify(parts)).not.toContain(secretKey);
      expect(JSON.stringify(parts)).not.toContain('SECRET');
    }
  });

  it('maps 404 to not-found naming the model id', async () => {
    const model = await modelFor([{ type: 'http-error', status: 404, message: 'The model does not exist' }]);
    const error = errorOf(await collect(model));
    expect(error.error.code).toBe('not-found');
    expect(error.error.message).toContain('fake-model');
  });

  it('maps a refused connection to network after the retries', async () => {
    const target = await start();
    const spec = specFor(target);
    await target.close();
    const model = await backend.createModel(spec, context());
    const error = errorOf(await collect(model));
    expect(error.error.code).toBe('network');
    expect(error.error.message).toContain('Could not connect');
    expect(error.error.details).toMatchObject({ tries: 3 });
  });

  it('reports a bad per-call option as an error part', async () => {
    const model = await modelFor([]);
    const error = errorOf(await collect(model, { ...hello, options: { max_tokens: -1 } }));
    expect(error.error.code).toBe('invalid-input');
    expect(server?.requests).toHaveLength(0);
  });

  it('rejects a spec without base_url, naming the key', async () => {
    const error = await rejection(
      backend.createModel({ model_name: 'local', backend: 'openai_compatible' }, context()),
    );
    expect(error.code).toBe('invalid-spec');
    expect(error.message).toContain('`base_url`');
    expect(error.details).toEqual({ key_path: 'base_url' });
  });

  it('rejects a spec without a model id, a bad base_url or a bad setting', async () => {
    const noModel = await rejection(backend.createModel({ base_url: 'http://127.0.0.1:1/v1' }, context()));
    expect(noModel.message).toContain('model_id');
    const badUrl = await rejection(backend.createModel({ model_name: 'm', base_url: 'localhost:8080' }, context()));
    expect(badUrl.message).toContain('http://');
    const badTimeout = await rejection(
      backend.createModel({ model_name: 'm', base_url: 'http://127.0.0.1:1/v1', timeout_s: 0 }, context()),
    );
    expect(badTimeout.message).toContain('timeout_s');
    const badEos = await rejection(
      backend.createModel(
        { model_name: 'm', base_url: 'http://127.0.0.1:1/v1', model_config: { eos_to_cull: '(' } },
        context(),
      ),
    );
    expect(badEos.message).toContain('model_config.eos_to_cull');
  });

  it('uses model_name when there is no model_id', async () => {
    const target = await start({ script: [{ type: 'reply', text: 'ok' }] });
    const model = await backend.createModel({ model_name: 'llama-3', base_url: target.baseUrl }, context());
    await collect(model);
    expect(target.requests[0]?.body).toMatchObject({ model: 'llama-3' });
  });
});

describe('listModels (openai_compatible)', { timeout: 10_000 }, () => {
  it('lists the ids the server offers, needing only base_url', async () => {
    const target = await start({ models: ['qwen3-8b', 'llama-3.1-8b'] });
    expect(await listModels({ base_url: target.baseUrl }, context())).toEqual(['qwen3-8b', 'llama-3.1-8b']);
    expect(target.requests[0]?.path).toBe('/v1/models');
  });

  it('maps errors like generation does, without the key', async () => {
    const target = await start({ apiKey: 'the-right-key' });
    const error = await rejection(listModels({ base_url: target.baseUrl }, context(secretKey)));
    expect(error.code).toBe('auth');
    expect(error.message).toContain('401');
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(secretKey);
  });

  it('maps a refused connection to network', async () => {
    const target = await start();
    const spec = { base_url: target.baseUrl };
    await target.close();
    const error = await rejection(listModels(spec, context(), undefined, fastRetries));
    expect(error.code).toBe('network');
  });
});
