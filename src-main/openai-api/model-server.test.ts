import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { apiRouter } from '../api/router.js';
import { createCallerFactory } from '../api/trpc.js';
import { credentialsFileName } from '../credentials/credential-store.js';
import type { ListedEntry } from '../registry/registry-stack.js';
import { rejection } from '../testing/rejection.js';
import { createTestServices } from '../testing/services.js';
import { startSavedModelServer } from './model-server.js';
import { listModels, sourceHeader } from './openai-api-server.js';
import type { ServedRequest } from './request-log.js';

async function programmaticRegistry(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'clemplay-model-server-'));
  const path = join(folder, 'model_registry.json');
  const words = Array.from({ length: 100 }, (_, index) => `w${index}`).join(' ');
  await writeFile(
    path,
    JSON.stringify([{ model_name: 'slow', backend: 'programmatic', responses: [words], delay_ms: 20 }]),
  );
  return path;
}

describe('the server’s own key', () => {
  it('is generated once, stored with the credentials (0600), and the same after a restart and in a new process', async () => {
    const configDir = await mkdtemp(join(tmpdir(), 'clemplay-model-server-config-'));
    const first = await createTestServices({ configDir });
    const started = await first.modelServer.start({ port: 0 });
    expect(started.key_source).toBe('generated');
    const key = first.modelServer.revealKey();
    expect(key).toMatch(/^clemplay-[\w-]{32}$/);
    expect(started.key_hint).toBe(`…${key.slice(-4)}`);
    expect(JSON.stringify(started)).not.toContain(key);
    const file = join(configDir, credentialsFileName);
    expect(await readFile(file, 'utf8')).toContain(key);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await first.modelServer.start({ port: 0 })).key_source).toBe('stored');
    expect(first.modelServer.revealKey()).toBe(key);
    await first.dispose();

    const second = await createTestServices({ configDir });
    expect((await second.modelServer.start({ port: 0 })).key_source).toBe('stored');
    expect(second.modelServer.revealKey()).toBe(key);
    await second.dispose();
  });

  it('comes from --api-key first, then CLEMPLAY_API_KEY, and is refused when too short', async () => {
    const services = await createTestServices({ environment: { CLEMPLAY_API_KEY: 'from-the-environment' } });
    expect((await services.modelServer.start({ port: 0 })).key_source).toBe('environment');
    expect(services.modelServer.revealKey()).toBe('from-the-environment');
    expect((await services.modelServer.start({ port: 0, apiKey: 'from-the-option' })).key_source).toBe('option');
    const short = await rejection(services.modelServer.start({ port: 0, apiKey: 'short' }));
    expect(short.code).toBe('invalid-input');
    expect(short.message).not.toContain('short');
    expect(services.modelServer.status().running).toBe(false);
    await services.dispose();
  });

  it('is only revealed while the server runs', async () => {
    const services = await createTestServices();
    expect((await rejection(Promise.resolve().then(() => services.modelServer.revealKey()))).code).toBe(
      'invalid-input',
    );
    await services.dispose();
  });
});

describe('starting and stopping', () => {
  it('reports a port in use clearly and stays stopped', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const services = await createTestServices({ environment: { CLEMPLAY_API_KEY: 'key-for-this-test' } });
    const error = await rejection(services.modelServer.start({ port }));
    expect(error.code).toBe('network');
    expect(error.message).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(services.modelServer.status()).toMatchObject({ running: false, url: null });
    blocker.close();
    await services.dispose();
  });

  it('ends a stream in flight with a last error event when stopped, and closes the port', async () => {
    const services = await createTestServices({
      registryFiles: [await programmaticRegistry()],
      environment: { CLEMPLAY_API_KEY: 'key-for-this-test' },
    });
    const status = await services.modelServer.start({ port: 0 });
    expect(status.url).toBe(`http://127.0.0.1:${status.port}/v1`);
    const client = new OpenAI({ apiKey: 'key-for-this-test', baseURL: status.url!, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'slow',
      messages: [{ role: 'user', content: 'go' }],
      stream: true,
    });
    let stopping: Promise<unknown> = Promise.resolve();
    const error = await (async () => {
      for await (const chunk of stream) {
        if ((chunk.choices[0]?.delta.content ?? '') !== '') stopping = services.modelServer.stop();
      }
    })().catch((caught: unknown) => caught);
    await stopping;
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toContain('stopping');
    const [record] = services.modelServer.log.list() as [ServedRequest];
    expect(record.status).toBe('cancelled');
    expect(services.modelServer.status().running).toBe(false);
    await expect(fetch(`${status.url}/models`)).rejects.toThrow();
    await services.dispose();
  });
});

describe('the model list and the source header', () => {
  const entry = (model_name: string, backend: string, index: number): ListedEntry => ({
    entry: { model_name, backend },
    index,
    file: '/nonexistent/model_registry.json',
    role: 'explicit',
    lookupSource: '/nonexistent/model_registry.json',
  });

  it('leaves out variable names, the human backend and repeated names; a variable backend is owned by clemplay', async () => {
    const models = await listModels([
      entry('?m', 'openai_compatible', 0),
      entry('alpha', 'openai', 1),
      entry('someone', 'human', 2),
      entry('alpha', 'programmatic', 3),
      entry('beta', '?b', 4),
      entry('\\?literal', 'programmatic', 5),
    ]);
    expect(models).toEqual([
      { id: 'alpha', object: 'model', created: 0, owned_by: 'openai' },
      { id: 'beta', object: 'model', created: 0, owned_by: 'clemplay' },
      { id: '\\?literal', object: 'model', created: 0, owned_by: 'programmatic' },
    ]);
  });

  it('says where a spec came from in ASCII', () => {
    expect(sourceHeader(null)).toBe('query');
    expect(sourceHeader({ file: '/r.json', index: 3, lookupSource: 'official', role: 'official' })).toBe('official #3');
    expect(sourceHeader({ file: '/ü 100%.json', index: 0, lookupSource: '/ü 100%.json', role: 'user' })).toBe(
      '/%C3%BC 100%25.json #0',
    );
  });
});

describe('the Settings switch', () => {
  it('is remembered: the server starts again with the app until it is switched off', async () => {
    const configDir = await mkdtemp(join(tmpdir(), 'clemplay-model-server-switch-'));
    const first = await createTestServices({ configDir });
    const api = createCallerFactory(apiRouter)({ services: first, transport: 'in-process' });
    expect((await api.modelServer.start({ port: 0 })).running).toBe(true);
    expect((await first.settings.read()).model_server).toEqual({ enabled: true, port: 0 });
    await first.dispose();

    const second = await createTestServices({ configDir });
    await startSavedModelServer(second.modelServer, second.settings);
    expect(second.modelServer.state().status.running).toBe(true);
    await createCallerFactory(apiRouter)({ services: second, transport: 'in-process' }).modelServer.stop();
    await second.dispose();

    const third = await createTestServices({ configDir });
    await startSavedModelServer(third.modelServer, third.settings);
    expect(third.modelServer.state().status.running).toBe(false);
    await third.dispose();
  });
});
