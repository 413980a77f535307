import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamPart } from '../../src-shared/chat.js';
import { startWebHost, type WebHost } from '../host/web-host.js';
import type { AppServices } from '../services.js';
import { connectApiClient, type WebSocketApiClient } from '../testing/api-client.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { createTestServices } from '../testing/services.js';
import type { ResolvedPart } from './chat-service.js';

// The chat API end to end over the web host's WebSocket, as the renderer uses it.
type Part = StreamPart | ResolvedPart;

let fake: FakeOpenAIServer;
let services: AppServices;
let host: WebHost;
let client: WebSocketApiClient;

beforeAll(async () => {
  fake = await startFakeOpenAIServer({ models: ['tiny-model', 'other-model'] });
  const folder = mkdtempSync(join(tmpdir(), 'clemplay-chat-'));
  const registry = join(folder, 'model_registry.json');
  writeFileSync(
    registry,
    JSON.stringify([
      { model_name: 'scripted', backend: 'programmatic', responses: ['first answer', 'second answer'] },
      { model_name: 'slow', backend: 'programmatic', responses: ['one two three four five six seven'], delay_ms: 100 },
      { model_name: 'local', backend: 'openai_compatible', model_id: 'tiny-model', base_url: fake.baseUrl },
      { model_name: 'person', backend: 'human' },
      { model_name: 'hf', backend: 'huggingface_local' },
    ]),
  );
  services = await createTestServices({ registryFiles: [registry] });
  host = await startWebHost({ services, rendererDir: folder });
  client = connectApiClient(host);
});

afterAll(async () => {
  client.close();
  await host.close();
  await services.dispose();
  await fake.close();
});

/** Collects a whole stream; `onPart` may act on parts as they come (answer a human, unsubscribe). */
function collect(
  input: Parameters<WebSocketApiClient['api']['chat']['stream']['subscribe']>[0],
  onPart?: (part: Part, stop: () => void) => void,
): Promise<Part[]> {
  return new Promise((resolve, reject) => {
    const parts: Part[] = [];
    const subscription = client.api.chat.stream.subscribe(input, {
      onData: (part) => {
        parts.push(part);
        onPart?.(part, () => {
          subscription.unsubscribe();
          resolve(parts);
        });
        if (part.type === 'end' || part.type === 'error') resolve(parts);
      },
      onError: reject,
      onComplete: () => resolve(parts),
    });
  });
}

const text = (parts: Part[]): string => parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('');

describe('chat API over the web host', () => {
  it('streams a programmatic reply: resolved spec first, text, usage, end', async () => {
    const parts = await collect({ query: 'scripted', messages: [{ role: 'user', content: 'hi' }] });
    expect(parts[0]).toMatchObject({ type: 'resolved', spec: { model_name: 'scripted', backend: 'programmatic' } });
    expect(text(parts)).toBe('first answer');
    expect(parts.find((part) => part.type === 'usage')).toMatchObject({ usage: { output_tokens: 2 } });
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'stop' });
  });

  it('answers programmatic responses in order, one per assistant turn', async () => {
    const parts = await collect({
      query: 'scripted',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: 'again' },
      ],
    });
    expect(text(parts)).toBe('second answer');
  });

  it('echoes with the special name mock, honouring max_tokens', async () => {
    const parts = await collect({
      query: 'mock',
      messages: [{ role: 'user', content: 'say these five words back' }],
      options: { max_tokens: 3 },
    });
    expect(text(parts)).toBe('say these five ');
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'length' });
  });

  it('streams from an OpenAI-compatible server and cancels its HTTP request on unsubscribe', async () => {
    fake.enqueue({ type: 'reply', text: 'a b c d e f g h i j k l m n o p', delayMs: 50 });
    const before = fake.requests.length;
    const parts = await collect({ query: 'local', messages: [{ role: 'user', content: 'go' }] }, (part, stop) => {
      if (part.type === 'text-delta') stop();
    });
    expect(parts.some((part) => part.type === 'text-delta')).toBe(true);
    expect(await fake.outcome(before)).toBe('client-closed');
  });

  it('asks a person through human-input-needed and takes the answer from chat.humanReply', async () => {
    const parts = await collect({ query: 'person', messages: [{ role: 'user', content: 'your move?' }] }, (part) => {
      if (part.type === 'human-input-needed') {
        expect(part.prompt).toBe('your move?');
        void client.api.chat.humanReply.mutate({ request_id: part.request_id, text: 'e4' });
      }
    });
    expect(text(parts)).toBe('e4');
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'stop' });
    expect(services.humanInput.waiting).toBe(0);
  });

  it('withdraws the question when the client stops waiting', async () => {
    await collect({ query: 'human', messages: [{ role: 'user', content: 'hello?' }] }, (part, stop) => {
      if (part.type === 'human-input-needed') stop();
    });
    await expect.poll(() => services.humanInput.waiting, { timeout: 2000 }).toBe(0);
    await expect(client.api.chat.humanReply.mutate({ request_id: 'nobody-waits', text: 'x' })).rejects.toMatchObject({
      data: { app: { code: 'not-found' } },
    });
  });

  it('reports resolution and backend problems as error parts', async () => {
    const noMatch = await collect({
      query: '{"model_name": "x", "temperature": 2',
      messages: [{ role: 'user', content: 'a' }],
    });
    expect(noMatch).toEqual([
      expect.objectContaining({ type: 'error', error: expect.objectContaining({ code: 'invalid-spec' }) }),
    ]);
    const clemcoreOnly = await collect({ query: 'hf', messages: [{ role: 'user', content: 'a' }] });
    expect(clemcoreOnly.at(-1)).toMatchObject({
      type: 'error',
      error: { code: 'invalid-spec', message: expect.stringContaining('openai_compatible') },
    });
  });

  it('rejects invalid input before anything runs', async () => {
    await expect(collect({ query: 'scripted', messages: [] })).rejects.toMatchObject({
      data: { app: { code: 'invalid-input' } },
    });
  });

  it('lists backends with their availability, and a server’s models', async () => {
    const backends = await client.api.backends.list.query();
    expect(backends.map((backend) => backend.name)).toEqual([
      'openai',
      'openai_compatible',
      'llamacpp',
      'programmatic',
      'human',
    ]);
    expect(backends.find((backend) => backend.name === 'programmatic')?.available).toBe(true);
    expect(await client.api.backends.listModels.query('local')).toEqual(['tiny-model', 'other-model']);
  });
});
