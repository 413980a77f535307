import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamPart } from '../../src-shared/chat.js';
import type { JsonObject } from '../../src-shared/json.js';
import { collectChat } from '../testing/collect-chat.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { createTestServices } from '../testing/services.js';
import { listBackendModels } from './loader.js';

// A registry in the working directory comes first in the stack, and a cloned repository can bring one that sends a
// model to its own server. A backend-wide key (an environment variable, a key set without base_url) must go only to
// servers the user trusts; the fake server records the Authorization header of every request it gets.
const compatibleKey = 'sk-compatible-key-00000000-SAFE';
const openAiKey = 'sk-real-openai-key-000000000000-SAFE';
const environment = { OPENAI_COMPATIBLE_API_KEY: compatibleKey, OPENAI_API_KEY: openAiKey };
let fake: FakeOpenAIServer;

beforeAll(async () => {
  fake = await startFakeOpenAIServer();
});
afterAll(() => fake.close());

function entry(backend = 'openai_compatible'): JsonObject {
  return { model_name: 'cloned', backend, model_id: 'm', base_url: fake.baseUrl, retries: 0 };
}

/** Services whose working folder holds a registry naming the fake server (what a cloned repository can do). */
async function withWorkingDirectoryRegistry(entries: JsonObject[]) {
  const home = mkdtempSync(join(tmpdir(), 'clemplay-key-scope-'));
  const cwd = join(home, 'clone');
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(cwd, 'model_registry.json'), JSON.stringify(entries));
  return createTestServices({ cwd, environment, configDir: join(home, 'config') });
}

function lastRequestAuthorization(): string | undefined {
  return fake.requests.at(-1)?.headers.authorization;
}

function warnings(parts: StreamPart[]): Extract<StreamPart, { type: 'warning' }>[] {
  return parts.filter((part): part is Extract<StreamPart, { type: 'warning' }> => part.type === 'warning');
}

describe('where a backend-wide key may go', () => {
  it('openai_compatible from a working-directory registry: asked without the key, with a warning naming the origin', async () => {
    const services = await withWorkingDirectoryRegistry([entry()]);
    fake.enqueue({ type: 'reply', text: 'ok' });
    const parts = await collectChat(services, 'cloned');
    expect(parts.at(-1)).toEqual({ type: 'end', reason: 'stop' });
    expect(lastRequestAuthorization()).toBeUndefined();
    const origin = new URL(fake.baseUrl).origin;
    expect(warnings(parts)).toEqual([
      {
        type: 'warning',
        warning: {
          code: 'untrusted-origin',
          message: expect.stringContaining(`was not sent to ${origin}`),
          details: { backend: 'openai_compatible', origin },
        },
      },
    ]);
    expect(warnings(parts)[0]?.warning.message).toContain(`clemplay trust ${origin}`);
    expect(JSON.stringify(parts)).not.toContain(compatibleKey);
  });

  it('the same origin once trusted (settings, as `clemplay trust` does) gets the key', async () => {
    const services = await withWorkingDirectoryRegistry([entry()]);
    await services.trustedOrigins.add(fake.baseUrl);
    fake.enqueue({ type: 'reply', text: 'ok' });
    const parts = await collectChat(services, 'cloned');
    expect(warnings(parts)).toEqual([]);
    expect(lastRequestAuthorization()).toBe(`Bearer ${compatibleKey}`);
  });

  it('an origin named in the user registry, or in a --registry file, is trusted', async () => {
    const home = mkdtempSync(join(tmpdir(), 'clemplay-key-scope-'));
    const configDir = join(home, 'config');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, 'model_registry.json'), JSON.stringify([entry()]));
    const user = await createTestServices({ environment, configDir });
    fake.enqueue({ type: 'reply', text: 'ok' });
    await collectChat(user, 'cloned');
    expect(lastRequestAuthorization()).toBe(`Bearer ${compatibleKey}`);

    const explicit = await createTestServices({
      environment,
      registryFiles: [join(configDir, 'model_registry.json')],
    });
    fake.enqueue({ type: 'reply', text: 'ok' });
    await collectChat(explicit, 'cloned');
    expect(lastRequestAuthorization()).toBe(`Bearer ${compatibleKey}`);
  });

  it('a spec that names its own server (as an API request may) is not trusted either', async () => {
    const services = await createTestServices({ environment });
    fake.enqueue({ type: 'reply', text: 'ok' });
    const parts = await collectChat(services, entry());
    expect(warnings(parts)).toHaveLength(1);
    expect(lastRequestAuthorization()).toBeUndefined();
  });

  it('openai pointed at an untrusted server refuses before sending anything', async () => {
    const services = await withWorkingDirectoryRegistry([entry('openai')]);
    const before = fake.requests.length;
    const parts = await collectChat(services, 'cloned');
    expect(parts).toEqual([
      {
        type: 'error',
        partial: false,
        error: expect.objectContaining({
          code: 'untrusted-origin',
          message: expect.stringContaining('Nothing was sent'),
        }),
      },
    ]);
    expect(fake.requests.length).toBe(before);
    expect(JSON.stringify(parts)).not.toContain(openAiKey);
  });

  it('the backend-wide OpenAI key still goes only to OpenAI, even to a trusted server', async () => {
    const services = await createTestServices({ environment });
    await services.trustedOrigins.add(fake.baseUrl);
    const before = fake.requests.length;
    const parts = await collectChat(services, entry('openai'));
    expect(parts.at(-1)).toMatchObject({
      type: 'error',
      error: { code: 'auth', message: expect.stringContaining('only sent to https://api.openai.com/v1') },
    });
    expect(fake.requests.length).toBe(before);
  });

  it('a key stored for that server, or for its origin, goes there whoever named it', async () => {
    const services = await withWorkingDirectoryRegistry([entry(), entry('openai')]);
    await services.credentials.set('openai', 'sk-for-this-server-0000000-HERE', fake.baseUrl);
    fake.enqueue({ type: 'reply', text: 'ok' });
    const openai = await collectChat(services, { model_name: 'cloned', backend: 'openai' });
    expect(openai.at(-1)).toEqual({ type: 'end', reason: 'stop' });
    expect(lastRequestAuthorization()).toBe('Bearer sk-for-this-server-0000000-HERE');

    await services.credentials.set('openai_compatible', 'sk-for-the-origin-000000-HERE', new URL(fake.baseUrl).origin);
    fake.enqueue({ type: 'reply', text: 'ok' });
    const compatible = await collectChat(services, 'cloned');
    expect(warnings(compatible)).toEqual([]);
    expect(lastRequestAuthorization()).toBe('Bearer sk-for-the-origin-000000-HERE');
  });

  it('a server that wants the key it was not given: the error says why it was not sent', async () => {
    const strict = await startFakeOpenAIServer({ apiKey: compatibleKey });
    try {
      const services = await createTestServices({ environment });
      const parts = await collectChat(services, { ...entry(), base_url: strict.baseUrl });
      expect(parts.at(-1)).toMatchObject({
        type: 'error',
        error: { code: 'untrusted-origin', message: expect.stringContaining('It was asked without one and refused') },
      });
      expect(strict.requests.at(-1)?.headers.authorization).toBeUndefined();
      const models = listBackendModels({ ...entry(), base_url: strict.baseUrl }, services.backendContext);
      await expect(models).rejects.toMatchObject({ code: 'untrusted-origin' });
    } finally {
      await strict.close();
    }
  });
});
