import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../services.js';
import { collectChat } from '../testing/collect-chat.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { createTestServices } from '../testing/services.js';

// clemcore kept openai_compatible's base_url (and a key) in key.json; a clemcore user's setup must work unchanged.
let fake: FakeOpenAIServer;
let services: AppServices;

beforeAll(async () => {
  fake = await startFakeOpenAIServer({ apiKey: 'sk-from-key-json-1234' });
  const cwd = mkdtempSync(join(tmpdir(), 'clemplay-keyjson-'));
  mkdirSync(cwd, { recursive: true });
  writeFileSync(
    join(cwd, 'key.json'),
    JSON.stringify({ openai_compatible: { api_key: 'sk-from-key-json-1234', base_url: fake.baseUrl } }),
  );
  services = await createTestServices({ cwd });
});
afterAll(async () => {
  await services.dispose();
  await fake.close();
});

describe('key.json connection settings', () => {
  it('sends an openai_compatible spec without base_url to key.json’s base_url, with its key', async () => {
    fake.enqueue({ type: 'reply', text: 'hello from key.json' });
    const parts = await collectChat(services, { model_name: 'anything', backend: 'openai_compatible', model_id: 'm' });
    expect(parts.map((part) => (part.type === 'text-delta' ? part.text : '')).join('')).toBe('hello from key.json');
    expect(fake.requests.at(-1)?.headers.authorization).toBe('Bearer sk-from-key-json-1234');
  });

  it('lets the spec’s own base_url win over key.json', async () => {
    const query = {
      model_name: 'x',
      backend: 'openai_compatible',
      model_id: 'm',
      base_url: 'http://127.0.0.1:9/v1',
      retries: 0,
    };
    const parts = await collectChat(services, query);
    expect(parts.at(-1)).toMatchObject({ type: 'error', error: { code: 'network' } });
  }, 30_000);
});
