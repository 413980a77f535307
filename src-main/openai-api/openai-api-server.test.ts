import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ggufPresets } from '../../scripts/make-gguf.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import type { AppServices } from '../services.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { createTestServices } from '../testing/services.js';
import type { ServedRequest } from './request-log.js';

// The real `openai` SDK as the client, against the real server on 127.0.0.1, with real backends behind it: the
// programmatic one, local generated GGUF models, and fake OpenAI-compatible servers over HTTP.

const serverKey = 'clemplay-test-server-key-0123456789';
const upstreamKey = 'sk-upstream-secret-abcdefghijklmnop';

let services: AppServices;
let trusted: FakeOpenAIServer;
let foreign: FakeOpenAIServer;
let picky: FakeOpenAIServer;
/** Wants a key, and no registry names it. */
let stranger: FakeOpenAIServer;
let registryPath = '';
let modelsFolder = '';
let outsideModel = '';
let client: OpenAI;
let baseURL = '';
/** Every response any client here got, as far as it was read, for the check that no key ever leaves the server. */
const responseTexts: (() => string)[] = [];

/** `fetch` that keeps a copy of each response as it is read (a tee would keep reading after a client's abort). */
const recordingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  let text = [...response.headers].map(([name, value]) => `${name}: ${value}\n`).join('');
  const decoder = new TextDecoder();
  const body = response.body?.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        text += decoder.decode(chunk, { stream: true });
        controller.enqueue(chunk);
      },
    }),
  );
  responseTexts.push(() => text);
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
};

function sdk(apiKey = serverKey): OpenAI {
  return new OpenAI({ apiKey, baseURL, maxRetries: 0, fetch: recordingFetch });
}

/** Resolves with the first request record that satisfies `test`, as soon as the server's list has one. */
function untilRequest(test: (request: ServedRequest) => boolean): Promise<ServedRequest> {
  return new Promise((resolve) => {
    const check = (): boolean => {
      const found = services.modelServer.log.list().find(test);
      if (found !== undefined) resolve(found);
      return found !== undefined;
    };
    if (check()) return;
    const stop = services.modelServer.onChange(() => {
      if (check()) stop();
    });
  });
}

beforeAll(async () => {
  trusted = await startFakeOpenAIServer({
    // What the trusted server does depends on the last message's text.
    script: (request) => {
      const body = request.body as { messages: { content: string }[] };
      switch (body.messages.at(-1)?.content) {
        case 'fail-429':
          return { type: 'http-error', status: 429, headers: { 'retry-after': '7' } };
        case 'fail-500':
          return { type: 'http-error', status: 500, message: 'the GPU caught fire' };
        case 'fail-mid':
          return {
            type: 'reply',
            text: 'one two three four',
            fault: { type: 'error-event', afterChunks: 2, message: 'out of memory' },
          };
        case 'think':
          return { type: 'reply', reasoning: 'let me see', text: 'forty-two' };
        case 'slow':
          return { type: 'reply', text: Array.from({ length: 200 }, (_, index) => `w${index}`).join(' '), delayMs: 20 };
        default:
          return { type: 'reply', text: 'upstream says hello' };
      }
    },
  });
  foreign = await startFakeOpenAIServer({ script: () => ({ type: 'reply', text: 'foreign reply' }) });
  picky = await startFakeOpenAIServer({ apiKey: 'the-key-picky-wants', script: () => ({ type: 'reply', text: 'x' }) });
  stranger = await startFakeOpenAIServer({ apiKey: 'the-key-it-wants', script: () => ({ type: 'reply', text: 'x' }) });

  const folder = await mkdtemp(join(tmpdir(), 'clemplay-openai-api-'));
  modelsFolder = join(folder, 'models');
  await mkdir(modelsFolder);
  const tiny = await ensureTestModel('tiny');
  await copyFile(tiny, join(modelsFolder, 'tiny.gguf'));
  // A long context, so a generation runs long enough (thousands of tokens) to be stopped from another request.
  const long = await ensureTestModel({ ...ggufPresets.tiny, contextLength: 8192, name: 'clemplay-tiny-long' });
  await copyFile(long, join(modelsFolder, 'long.gguf'));
  outsideModel = join(folder, 'outside.gguf');
  await copyFile(tiny, outsideModel);

  registryPath = join(folder, 'model_registry.json');
  await writeFile(
    registryPath,
    JSON.stringify([
      { model_name: 'echo', backend: 'programmatic', responses: ['Hello from echo'] },
      { model_name: 'counter', backend: 'programmatic', responses: ['one two three four five six'] },
      { model_name: 'gpt-4o-mini', backend: 'programmatic', responses: ['mini'] },
      { model_name: 'echo', backend: 'programmatic', responses: ['a duplicate name, never reached'] },
      { model_name: 'person', backend: 'human' },
      {
        model_name: 'upstream',
        backend: 'openai_compatible',
        model_id: 'fake-model',
        base_url: trusted.baseUrl,
        retries: 0,
      },
      { model_name: 'anywhere', backend: 'openai_compatible', model_id: 'fake-model', base_url: '?url', retries: 0 },
      {
        model_name: 'picky',
        backend: 'openai_compatible',
        model_id: 'fake-model',
        retries: 0,
        base_url: picky.baseUrl,
      },
      {
        model_name: 'tiny',
        backend: 'llamacpp',
        model_path: join(modelsFolder, 'tiny.gguf'),
        threads: 1,
        context_size: 512,
      },
    ]),
  );
  services = await createTestServices({
    registryFiles: [registryPath],
    modelsDirs: [modelsFolder],
    environment: { OPENAI_COMPATIBLE_API_KEY: upstreamKey },
  });
  const status = await services.modelServer.start({ port: 0, apiKey: serverKey });
  baseURL = status.url!;
  client = sdk();
});

afterAll(async () => {
  await services.dispose();
  await Promise.all([trusted.close(), foreign.close(), picky.close(), stranger.close()]);
});

describe('GET /v1/models', () => {
  it('lists registry names in lookup order, once each, with the backend as owner; no human backend', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((model) => model.id)).toEqual([
      'echo',
      'counter',
      'gpt-4o-mini',
      'upstream',
      'anywhere',
      'picky',
      'tiny',
    ]);
    expect(models.map((model) => model.owned_by)).toEqual([
      'programmatic',
      'programmatic',
      'programmatic',
      'openai_compatible',
      'openai_compatible',
      'openai_compatible',
      'llamacpp',
    ]);
    expect(models.every((model) => model.object === 'model' && model.created > 0)).toBe(true);
    expect((await client.models.retrieve('counter')).owned_by).toBe('programmatic');
    await expect(client.models.retrieve('person')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('POST /v1/chat/completions', () => {
  it('answers a non-streamed completion by registry name, with its source in x-clemplay-source', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'echo', messages: [{ role: 'user', content: 'hi there' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.model).toBe('echo');
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Hello from echo' });
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
    expect(response.headers.get('x-clemplay-source')).toBe(`${registryPath} #0`);
  });

  it('streams a completion by JSON spec, with the usage in a last chunk when asked for', async () => {
    const spec = JSON.stringify({ model_name: 'adhoc', backend: 'programmatic', responses: ['spec says hi'] });
    const { data: stream, response } = await client.chat.completions
      .create({
        model: spec,
        messages: [{ role: 'user', content: 'go' }],
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-clemplay-source')).toBe('query');
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.model === 'adhoc')).toBe(true);
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('spec says hi');
    const finishing = chunks.filter((chunk) => chunk.choices[0]?.finish_reason != null);
    expect(finishing.map((chunk) => chunk.choices[0]!.finish_reason)).toEqual(['stop']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
  });

  it('resolves a JSON spec against the registry (the entry wins where the spec is silent)', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: '{"model_name": "counter", "seed": 3}', messages: [{ role: 'user', content: 'go' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('one two three four five six');
    expect(response.headers.get('x-clemplay-source')).toBe(`${registryPath} #1`);
  });

  it('honours max_tokens, max_completion_tokens and stop; no usage chunk unless asked', async () => {
    const limited = await client.chat.completions.create({
      model: 'counter',
      messages: [{ role: 'user', content: 'go' }],
      max_tokens: 2,
    });
    // The programmatic backend's tokens are words with the space after them.
    expect(limited.choices[0]!.message.content).toBe('one two ');
    expect(limited.choices[0]!.finish_reason).toBe('length');
    expect(limited.usage?.completion_tokens).toBe(2);
    const newer = await client.chat.completions.create({
      model: 'counter',
      messages: [{ role: 'user', content: 'go' }],
      max_completion_tokens: 3,
      max_tokens: 5,
    });
    expect(newer.choices[0]!.message.content).toBe('one two three ');
    const stream = await client.chat.completions.create({
      model: 'counter',
      messages: [{ role: 'user', content: 'go' }],
      stop: [' four'],
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('one two three');
    expect(chunks.every((chunk) => chunk.choices.length === 1 && chunk.usage === undefined)).toBe(true);
  });

  it('passes temperature, top_p and seed on to the model', async () => {
    await client.chat.completions.create({
      model: 'upstream',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      temperature: 0.25,
      top_p: 0.5,
      seed: 11,
      max_tokens: 9,
    });
    const sent = trusted.requests.at(-1)!.body as Record<string, unknown>;
    expect(sent).toMatchObject({ model: 'fake-model', temperature: 0.25, top_p: 0.5, seed: 11, max_tokens: 9 });
    expect(sent['messages']).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi' },
    ]);
  });

  it('sends reasoning as reasoning_content, streamed and not', async () => {
    const whole = await client.chat.completions.create({
      model: 'upstream',
      messages: [{ role: 'user', content: 'think' }],
    });
    expect(whole.choices[0]!.message.content).toBe('forty-two');
    expect(whole.choices[0]!.message).toMatchObject({ reasoning_content: 'let me see' });
    const stream = await client.chat.completions.create({
      model: 'upstream',
      messages: [{ role: 'user', content: 'think' }],
      stream: true,
    });
    let reasoning = '';
    let content = '';
    for await (const chunk of stream) {
      const delta: Record<string, unknown> = { ...chunk.choices[0]?.delta };
      if (typeof delta['reasoning_content'] === 'string') reasoning += delta['reasoning_content'];
      content += chunk.choices[0]?.delta.content ?? '';
    }
    expect(reasoning).toBe('let me see');
    expect(content).toBe('forty-two');
  });

  it('runs a local generated GGUF model named by a JSON spec with a model_path in the models folder', async () => {
    const spec = {
      model_name: 'local-tiny',
      backend: 'llamacpp',
      model_path: 'tiny.gguf',
      threads: 1,
      context_size: 512,
    };
    const completion = await client.chat.completions.create({
      model: JSON.stringify(spec),
      messages: [{ role: 'user', content: 'Hello there' }],
      max_tokens: 4,
      temperature: 0,
    });
    expect(completion.model).toBe('local-tiny');
    expect(completion.choices[0]!.finish_reason).toBe('length');
    expect(completion.usage?.completion_tokens).toBe(4);
    expect(completion.usage?.prompt_tokens).toBeGreaterThan(2);
    expect(typeof completion.choices[0]!.message.content).toBe('string');
  });
});

describe('local models take turns, and a client that leaves frees the model', () => {
  it('queues a second request on the same loaded model, with its place, and runs it once the first client aborts', async () => {
    const spec = JSON.stringify({
      model_name: 'long',
      backend: 'llamacpp',
      model_path: 'long.gguf',
      threads: 1,
      context_size: 8192,
    });
    const messages = [{ role: 'user' as const, content: 'Hello there' }];
    const controller = new AbortController();
    const first = await client.chat.completions.create(
      { model: spec, messages, stream: true, temperature: 0 },
      { signal: controller.signal },
    );
    const iterator = first[Symbol.asyncIterator]();
    // Read up to the first text: the first request holds the model now.
    for (let next = await iterator.next(); (next.value?.choices[0]?.delta.content ?? '') === '';) {
      if (next.done === true) throw new Error('the first request ended before any text');
      next = await iterator.next();
    }
    const running = await untilRequest((request) => request.model === 'long' && request.status === 'running');

    const second = client.chat.completions.create({ model: spec, messages, max_tokens: 3, temperature: 0 });
    const queued = await untilRequest((request) => request.id !== running.id && request.status === 'queued');
    expect(queued.queue_position).toBe(1);

    controller.abort();
    const cancelled = await untilRequest((request) => request.id === running.id && request.status === 'cancelled');
    expect(cancelled.output_tokens).toBeGreaterThan(0);
    // Had the first one run on, it would have filled the 8192-token context.
    expect(cancelled.output_tokens).toBeLessThan(8000);
    const answer = await second;
    expect(answer.choices[0]!.finish_reason).toBe('length');
    expect(answer.usage?.completion_tokens).toBe(3);
    const done = await untilRequest((request) => request.id === queued.id && request.status === 'done');
    expect(done.queue_position).toBeNull();
    expect(services.localModels.status().models.every((model) => model.active_generations === 0)).toBe(true);
  });

  it('stops a remote generation when its client disconnects: the upstream request is closed', async () => {
    const index = trusted.requests.length;
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'upstream', messages: [{ role: 'user', content: 'slow' }], stream: true },
      { signal: controller.signal },
    );
    for await (const chunk of stream) {
      if ((chunk.choices[0]?.delta.content ?? '') !== '') break;
    }
    controller.abort();
    expect(await trusted.outcome(index)).toBe('client-closed');
    const record = await untilRequest((request) => request.model === 'upstream' && request.status === 'cancelled');
    expect(record.output_tokens).toBeGreaterThan(0);
  });
});

describe('errors in OpenAI’s format', () => {
  it('refuses a request without the key, or with a wrong one, with 401', async () => {
    const wrong = await sdk('not-the-key')
      .models.list()
      .catch((error: unknown) => error);
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect((wrong as AuthenticationError).code).toBe('invalid_api_key');
    const bare = await fetch(`${baseURL}/models`);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toBe('Bearer');
    expect(await bare.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_api_key' } });
  });

  it('answers an unknown model with 404 and the nearest registry names', async () => {
    const error = await client.chat.completions
      .create({ model: 'gpt-4o-mnii', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).code).toBe('model_not_found');
    expect((error as NotFoundError).message).toContain('gpt-4o-mini');
  });

  it('answers a bad query or body with 400 naming what is wrong', async () => {
    const badSpec = await client.chat.completions
      .create({ model: '{"model_name": ', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect(badSpec).toBeInstanceOf(BadRequestError);
    expect((badSpec as BadRequestError).param).toBe('model');
    const badOption = await client.chat.completions
      .create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }], temperature: -1 })
      .catch((caught: unknown) => caught);
    expect(badOption).toBeInstanceOf(BadRequestError);
    expect((badOption as BadRequestError).message).toContain('temperature');
    const noMessages = await client.chat.completions
      .create({ model: 'echo', messages: [] })
      .catch((caught: unknown) => caught);
    expect((noMessages as BadRequestError).param).toBe('messages');
    const tools = await client.chat.completions
      .create({
        model: 'echo',
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ type: 'function', function: { name: 'f' } }],
      })
      .catch((caught: unknown) => caught);
    expect((tools as BadRequestError).message).toContain('tools');
    const human = await client.chat.completions
      .create({ model: 'person', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect((human as BadRequestError).message).toContain('human backend');
    const notJson = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serverKey}` },
      body: '{"model":',
    });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it('answers unknown paths with 404, wrong methods with 405 and broken percent-encoding with 400', async () => {
    const headers = { authorization: `Bearer ${serverKey}` };
    expect((await fetch(`${baseURL}/completions`, { method: 'POST', headers })).status).toBe(404);
    const wrong = await fetch(`${baseURL}/chat/completions`, { headers });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    const broken = await fetch(`${baseURL}/models/%ff`, { headers });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: { code: 'invalid_url' } });
  });

  it('passes an upstream 429 on with its retry-after, and other upstream failures as 502', async () => {
    const limited = await client.chat.completions
      .create({ model: 'upstream', messages: [{ role: 'user', content: 'fail-429' }] })
      .catch((caught: unknown) => caught);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect((limited as RateLimitError).headers.get('retry-after')).toBe('7');
    const broken = await client.chat.completions
      .create({ model: 'upstream', messages: [{ role: 'user', content: 'fail-500' }] })
      .catch((caught: unknown) => caught);
    expect(broken).toBeInstanceOf(APIError);
    expect((broken as APIError).status).toBe(502);
    expect((broken as APIError).message).toContain('the GPU caught fire');
  });

  it('sends a failure after streaming began as a last SSE error event, which the SDK raises', async () => {
    const stream = await client.chat.completions.create({
      model: 'upstream',
      messages: [{ role: 'user', content: 'fail-mid' }],
      stream: true,
    });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((caught: unknown) => caught);
    expect(text).toBe('one two');
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toContain('out of memory');
    const record = await untilRequest(
      (request) => request.status === 'error' && request.stream && request.model === 'upstream',
    );
    expect(record.http_status).toBe(200);
  });
});

describe('the trust boundary: specs in requests are untrusted', () => {
  it('sends the upstream key to a server the registry names, never to one the request names', async () => {
    const before = trusted.requests.length;
    await client.chat.completions.create({ model: 'upstream', messages: [{ role: 'user', content: 'hi' }] });
    expect(trusted.requests[before]!.headers.authorization).toBe(`Bearer ${upstreamKey}`);
    // Even a server the user trusts gets no key when the request names it: a program cannot steer the user's keys.
    const trustedByName = JSON.stringify({ model_name: 'anywhere', base_url: trusted.baseUrl });
    await client.chat.completions.create({ model: trustedByName, messages: [{ role: 'user', content: 'hi' }] });
    expect(trusted.requests[before + 1]!.headers.authorization).toBeUndefined();

    const named = JSON.stringify({ model_name: 'x', backend: 'openai_compatible', base_url: foreign.baseUrl });
    const reply = await client.chat.completions.create({ model: named, messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]!.message.content).toBe('foreign reply');
    // An entry's variable bound to the request's URL is the request's URL too.
    const bound = JSON.stringify({ model_name: 'anywhere', base_url: foreign.baseUrl });
    await client.chat.completions.create({ model: bound, messages: [{ role: 'user', content: 'hi' }] });
    expect(foreign.requests).toHaveLength(2);
    expect(foreign.requests.map((request) => request.headers.authorization)).toEqual([undefined, undefined]);
  });

  it('says why when a server the request named wanted a key: 502', async () => {
    const named = JSON.stringify({
      model_name: 'x',
      backend: 'openai_compatible',
      base_url: stranger.baseUrl,
      retries: 0,
    });
    const error = await client.chat.completions
      .create({ model: named, messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect((error as APIError).status).toBe(502);
    expect((error as APIError).code).toBe('untrusted_origin');
    expect((error as APIError).message).toContain(`was not sent to ${new URL(stranger.url).origin}`);
    expect(stranger.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('keeps an upstream key out of the response when the upstream echoes it back', async () => {
    const error = await client.chat.completions
      .create({ model: 'picky', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect((error as APIError).status).toBe(502);
    // The registry named picky, so the key went there, and picky's 401 quoted it back.
    expect(picky.requests.at(-1)!.headers.authorization).toBe(`Bearer ${upstreamKey}`);
    expect((error as APIError).message).not.toContain(upstreamKey);
  });

  it('starts no download for a request', async () => {
    for (const extra of [{ model_uri: 'hf:someone/model:Q4_0' }, { huggingface_id: 'someone/model' }]) {
      const spec = JSON.stringify({ model_name: 'm', backend: 'llamacpp', ...extra });
      const error = await client.chat.completions
        .create({ model: spec, messages: [{ role: 'user', content: 'hi' }] })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).message).toContain('would start a download');
    }
  });

  it('limits a request’s model_path to the models folders', async () => {
    for (const modelPath of [outsideModel, '../outside.gguf']) {
      const spec = JSON.stringify({ model_name: 'm', backend: 'llamacpp', model_path: modelPath });
      const error = await client.chat.completions
        .create({ model: spec, messages: [{ role: 'user', content: 'hi' }] })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).message).toContain('models folders');
    }
    const missing = JSON.stringify({ model_name: 'm', backend: 'llamacpp', model_path: 'absent.gguf' });
    const notFound = await client.chat.completions
      .create({ model: missing, messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect(notFound).toBeInstanceOf(NotFoundError);
    // A registry entry's own path is the registry's business: `tiny` names an absolute path.
    const fromRegistry = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
    });
    expect(fromRegistry.usage?.completion_tokens).toBe(2);
  });

  it('never lets the server’s key or an upstream key into any response', async () => {
    const texts = responseTexts.map((read) => read());
    expect(texts.length).toBeGreaterThan(20);
    for (const text of texts) {
      expect(text).not.toContain(serverKey);
      expect(text).not.toContain(upstreamKey);
    }
  });
});
