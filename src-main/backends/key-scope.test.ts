import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamPart } from '../../src-shared/chat.js';
import { collectChat } from '../testing/collect-chat.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { createTestServices } from '../testing/services.js';

// A registry in the working directory comes first in the stack; a cloned repository could point the openai backend
// at its own server. The user's OpenAI key must not follow it there.
const openAiKey = 'sk-real-openai-key-000000000000-SAFE';
let fake: FakeOpenAIServer;

beforeAll(async () => {
  fake = await startFakeOpenAIServer();
});
afterAll(() => fake.close());

async function run(services: Awaited<ReturnType<typeof createTestServices>>): Promise<StreamPart[]> {
  return collectChat(services, { model_name: 'gpt-4o', backend: 'openai', base_url: fake.baseUrl, retries: 0 });
}

describe('where an OpenAI key may go', () => {
  it('never sends the backend-wide OpenAI key to another base_url', async () => {
    const services = await createTestServices({ environment: { OPENAI_API_KEY: openAiKey } });
    const before = fake.requests.length;
    const parts = await run(services);
    expect(parts.at(-1)).toMatchObject({
      type: 'error',
      error: { code: 'auth', message: expect.stringContaining('only sent to https://api.openai.com/v1') },
    });
    expect(fake.requests.length).toBe(before);
    expect(JSON.stringify(parts)).not.toContain(openAiKey);
  });

  it('sends a key filed for that base_url', async () => {
    const services = await createTestServices({ environment: { OPENAI_API_KEY: openAiKey } });
    await services.credentials.set('openai', 'sk-for-this-server-0000000-HERE', fake.baseUrl);
    fake.enqueue({ type: 'reply', text: 'ok' });
    const parts = await run(services);
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'stop' });
    expect(fake.requests.at(-1)?.headers.authorization).toBe('Bearer sk-for-this-server-0000000-HERE');
  });
});
