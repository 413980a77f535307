import { afterEach, describe, expect, it } from 'vitest';

import type { StreamPart } from '../../src-shared/chat.js';
import { AppError } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { backend as defaultBackend, createOpenAIBackend, listModels } from './openai.js';
import { openAIFlavour, readConnection } from './openai-shared.js';
import type { BackendContext, GenerateRequest, Model } from './types.js';

const backend = createOpenAIBackend({ retry: { baseDelayMs: 5, maxDelayMs: 20 } });
const secretKey = 'sk-proj-TOPSECRET-abcdefghijklmnop';

let server: FakeOpenAIServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

function context(apiKey?: string): BackendContext {
  return { getApiKey: async () => ({ apiKey }) };
}

const hello: GenerateRequest = { messages: [{ role: 'user', content: 'Say hello.' }], options: {} };

async function collect(model: Model, request: GenerateRequest = hello): Promise<StreamPart[]> {
  const parts: StreamPart[] = [];
  for await (const part of model.generate(request, new AbortController().signal)) parts.push(part);
  return parts;
}

function errorOf(parts: readonly StreamPart[]): Extract<StreamPart, { type: 'error' }> {
  const last = parts.at(-1);
  if (last?.type !== 'error') throw new Error(`expected an error part, got ${JSON.stringify(last)}`);
  return last;
}

function specFor(target: FakeOpenAIServer, extra: JsonObject = {}): JsonObject {
  return { model_name: 'gpt-test', backend: 'openai', base_url: target.baseUrl, timeout_s: 2, ...extra };
}

describe('openai backend', { timeout: 10_000 }, () => {
  it('is named openai and defaults to the official API', () => {
    expect(defaultBackend.name).toBe('openai');
    const connection = readConnection(openAIFlavour, { model_name: 'gpt-4o' });
    expect(connection.baseUrl).toBe('https://api.openai.com/v1');
    expect(connection.modelId).toBe('gpt-4o');
    expect(connection.firstTokenTimeoutMs).toBe(120_000);
    expect(connection.stallTimeoutMs).toBe(30_000);
    expect(connection.retry.retries).toBe(2);
  });

  it('bounds retries at 10', () => {
    expect(readConnection(openAIFlavour, { model_name: 'm', retries: 10 }).retry.retries).toBe(10);
    for (const retries of [11, 1e9, -1, 1.5]) {
      expect(() => readConnection(openAIFlavour, { model_name: 'm', retries })).toThrow(
        expect.objectContaining({ code: 'invalid-spec', message: expect.stringContaining('from 0 to 10') }),
      );
    }
  });

  it('keeps credentials out of the base URL it shows', () => {
    const connection = readConnection(openAIFlavour, {
      model_name: 'm',
      base_url: 'https://user:pa55word@proxy.example/v1/?token=abc',
    });
    expect(connection.displayBaseUrl).toBe('https://proxy.example/v1');
  });

  it('needs a key: without one it says where to set it and sends nothing', async () => {
    server = await startFakeOpenAIServer({ script: [{ type: 'reply', text: 'unused' }] });
    const model = await backend.createModel(specFor(server, { api_key: 'sk-in-the-spec-is-ignored' }), context());
    const parts = await collect(model);
    expect(parts).toHaveLength(1);
    const error = errorOf(parts);
    expect(error.error.code).toBe('auth');
    // The spec points openai at another server, so the advice is a key for that server.
    expect(error.error.message).toContain(`No API key for backend openai at ${server.baseUrl}`);
    expect(error.error.message).toContain('OPENAI_API_KEY');
    expect(error.error.message).toContain('`api_key` is ignored');
    expect(JSON.stringify(parts)).not.toContain('sk-in-the-spec');
    expect(server.requests).toHaveLength(0);
  });

  it('sends the key, the organization and max_completion_tokens, and at most 4 stop strings', async () => {
    server = await startFakeOpenAIServer({
      apiKey: secretKey,
      script: [{ type: 'reply', text: ['one', ' two', ' E', 'ND three'] }],
    });
    const model = await backend.createModel(
      specFor(server, { organization: 'org-123', model_id: 'gpt-4o-mini', max_tokens: 64 }),
      context(secretKey),
    );
    const parts = await collect(model, { ...hello, options: { stop: ['a1', 'a2', 'a3', 'a4', 'END'] } });
    const request = server.requests[0];
    expect(request?.headers.authorization).toBe(`Bearer ${secretKey}`);
    expect(request?.headers['openai-organization']).toBe('org-123');
    expect(request?.body).toMatchObject({
      model: 'gpt-4o-mini',
      max_completion_tokens: 64,
      stop: ['a1', 'a2', 'a3', 'a4'],
    });
    expect(request?.body).not.toHaveProperty('max_tokens');
    // The fifth stop string is applied client side.
    const text = parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('');
    expect(text).toBe('one two ');
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'stop' });
  });

  it('says what to do on 401, without the key', async () => {
    server = await startFakeOpenAIServer({ apiKey: 'sk-the-right-one-000000', script: [] });
    const model = await backend.createModel(specFor(server), context(secretKey));
    const parts = await collect(model);
    const error = errorOf(parts);
    expect(error.error.code).toBe('auth');
    expect(error.error.message).toBe(
      'OpenAI said 401: the API key for backend openai is missing or wrong — set it in Settings or OPENAI_API_KEY',
    );
    expect(JSON.stringify(parts)).not.toContain(secretKey);
    expect(JSON.stringify(parts)).not.toContain('TOPSECRET');
  });

  it('maps 403 to auth too', async () => {
    server = await startFakeOpenAIServer({ script: [{ type: 'http-error', status: 403, message: 'no access' }] });
    const model = await backend.createModel(specFor(server), context(secretKey));
    const error = errorOf(await collect(model));
    expect(error.error.code).toBe('auth');
    expect(error.error.message).toContain('OpenAI said 403');
  });

  it('lists models', async () => {
    server = await startFakeOpenAIServer({ apiKey: secretKey, models: ['gpt-4o', 'o3'] });
    expect(await listModels({ base_url: server.baseUrl }, context(secretKey))).toEqual(['gpt-4o', 'o3']);
  });

  it('refuses to list models without a key', async () => {
    await expect(listModels({}, context())).rejects.toBeInstanceOf(AppError);
    await expect(listModels({}, context())).rejects.toMatchObject({ code: 'auth' });
  });
});
