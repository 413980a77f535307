import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNotGguf } from '../../../scripts/make-gguf.js';
import { ensureTestModel } from '../../../scripts/test-models.js';
import { AppError } from '../../../src-shared/errors.js';
import { type FakeModelServer, startFakeModelServer } from '../../llama/fake-model-server.js';
import type { LoadEvent } from '../../llama/service.js';
import { createLocalModelService, type LocalModelService } from '../../llama/service.js';
import type { AppServices } from '../../services.js';
import { createTestServices } from '../../testing/services.js';
import { createCallerFactory, router } from '../trpc.js';
import { type DownloadEvent, localModelsRouter, systemRouter } from './local-models.js';

const testRouter = router({ localModels: localModelsRouter, system: systemRouter });
const createCaller = createCallerFactory(testRouter);

let folder = '';
let models = '';
let tiny = '';
let localModels: LocalModelService;
let services: AppServices;
let server: FakeModelServer;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'clemplay-local-models-api-'));
  models = join(folder, 'models');
  await mkdir(models);
  tiny = await ensureTestModel('tiny');
  await copyFile(tiny, join(models, 'tiny.gguf'));
  await writeNotGguf(join(models, 'broken.gguf'));
  localModels = createLocalModelService({ modelsDirs: [models], gpu: false });
  services = Object.assign(await createTestServices(), { localModels });
  server = await startFakeModelServer({ '/pulled.gguf': tiny });
});

afterAll(async () => {
  await server.close();
  await services.dispose();
  await localModels.dispose();
  await rm(folder, { recursive: true, force: true });
});

function caller(signal?: AbortSignal) {
  return createCaller({ services, transport: 'in-process' }, signal === undefined ? {} : { signal });
}

/** The code of the error a procedure failed with, as clients see it. */
async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    // Queries and mutations wrap the AppError in a TRPCError; a subscription's iterator throws it as it is.
    if (error instanceof AppError) return error.code;
    const cause = error instanceof Error ? error.cause : undefined;
    return cause instanceof AppError ? cause.code : undefined;
  }
  throw new Error('expected a rejection');
}

describe('localModels', () => {
  it('list: the files in the models folders, with what each is or why it cannot load', async () => {
    const list = await caller().localModels.list();
    expect(list.folders).toEqual([{ path: models, exists: true }]);
    expect(list.models.map((model) => model.file_name)).toEqual(['broken.gguf', 'tiny.gguf']);
    expect(list.models[1]).toMatchObject({
      architecture: 'llama',
      parameter_count: 147_776,
      quantization: 'F32',
      context_length: 512,
      has_chat_template: true,
      supported: true,
      problem: null,
    });
    expect(list.models[0]?.problem).toMatchObject({
      code: 'model-load',
      message: expect.stringMatching(/not a GGUF file/),
    });
    // A file that is not a GGUF still has a size: the list shows what is on disk, not "0 B".
    expect(list.models[0]?.size_bytes).toBe((await stat(join(models, 'broken.gguf'))).size);
    expect(list.models[0]?.size_bytes).toBeGreaterThan(0);
  });

  it('inspect: one file in depth; a missing one is not-found', async () => {
    const details = await caller().localModels.inspect({ path: join(models, 'tiny.gguf') });
    expect(details.metadata['general.name']).toBe('clemplay-tiny');
    expect(details.tensor_types).toEqual({ F32: 21 });
    expect(await errorCode(caller().localModels.inspect({ path: join(models, 'gone.gguf') }))).toBe('not-found');
  });

  it('estimate: memory for the settings asked for and for auto', async () => {
    const estimate = await caller().localModels.estimate({
      path: join(models, 'tiny.gguf'),
      context_size: 256,
      parallel: 2,
    });
    expect(estimate.requested).toMatchObject({ gpu_layers: 0, context_size: 256 });
    expect(estimate.auto).toMatchObject({ gpu_layers: 0, context_size: 512, total_layers: 3 });
    expect(estimate.requested.memory.model_ram_bytes).toBeGreaterThan(500_000);
    expect(estimate.requested.memory.context_ram_bytes).toBeGreaterThan(0);
    expect(estimate.fits).toBe(true);
    expect(estimate.available.ram_total_bytes).toBeGreaterThan(estimate.available.ram_free_bytes);
  });

  it('load: progress, then the loaded model; status lists it; unload removes it', async () => {
    const events: LoadEvent[] = [];
    for await (const event of await caller().localModels.load({
      spec: { model_path: 'tiny.gguf', threads: 1, context_size: 256 },
    })) {
      events.push(event);
    }
    const last = events.at(-1);
    expect(last?.type).toBe('loaded');
    expect(events.slice(0, -1).every((event) => event.type === 'progress')).toBe(true);
    expect(events.length).toBeGreaterThan(1);
    const id = last?.type === 'loaded' ? last.model.id : '';
    const status = await caller().localModels.status();
    expect(status.models).toEqual([expect.objectContaining({ id, state: 'ready', path: join(models, 'tiny.gguf') })]);
    expect(status).toMatchObject({ models_dirs: [models], idle_unload_ms: 600_000, memory_limit_bytes: null });
    expect(await caller().localModels.unload({ id })).toEqual({ unloaded: [id] });
    expect((await caller().localModels.status()).models).toEqual([]);
    expect(await errorCode(caller().localModels.unload({ id }))).toBe('not-found');
  });

  it('load: a bad spec or file fails the subscription with its code', async () => {
    const drain = async (spec: Record<string, string | number>): Promise<void> => {
      for await (const _event of await caller().localModels.load({ spec })) {
        // Progress is not what this test is about.
      }
    };
    expect(await errorCode(drain({ model_path: 'broken.gguf' }))).toBe('model-load');
    expect(await errorCode(drain({ model_path: 'tiny.gguf', gpu_layers: 'many' }))).toBe('invalid-spec');
  });

  it('download: progress, then where the file is; unreachable servers fail with network', async () => {
    const events: DownloadEvent[] = [];
    for await (const event of await caller().localModels.download({ uri: `${server.url}/pulled.gguf` }))
      events.push(event);
    expect(events.at(-1)).toMatchObject({ type: 'done', path: join(models, 'pulled.gguf'), already_present: false });
    expect(events.some((event) => event.type === 'progress')).toBe(true);
    const closed = await startFakeModelServer({});
    await closed.close();
    const attempt = async (): Promise<void> => {
      for await (const _event of await caller().localModels.download({ uri: `${closed.url}/x.gguf` })) {
        // Nothing arrives.
      }
    };
    expect(await errorCode(attempt())).toBe('network');
  });

  it('download: only into a models folder, under a name that is a model file', async () => {
    const drain = async (input: { uri: string; dir?: string; file_name?: string }): Promise<void> => {
      for await (const _event of await caller().localModels.download(input)) {
        // Only the outcome counts.
      }
    };
    const uri = `${server.url}/pulled.gguf`;
    const elsewhere = join(folder, 'elsewhere');
    expect(await errorCode(drain({ uri, dir: elsewhere }))).toBe('invalid-input');
    expect(await errorCode(drain({ uri, dir: 'models' }))).toBe('invalid-input');
    expect(await errorCode(drain({ uri, dir: models, file_name: '../escaped.gguf' }))).toBe('invalid-input');
    expect(await errorCode(drain({ uri, dir: models, file_name: '.bashrc' }))).toBe('invalid-input');
    expect(await readdir(folder)).not.toContain('elsewhere');
    expect(await readdir(folder)).not.toContain('escaped.gguf');
    const events: DownloadEvent[] = [];
    for await (const event of await caller().localModels.download({ uri, dir: models, file_name: 'named.gguf' }))
      events.push(event);
    expect(events.at(-1)).toMatchObject({ type: 'done', path: join(models, 'named.gguf') });
    await rm(join(models, 'named.gguf'));
  });

  it('inspect and estimate read only files in a models folder; a linked .gguf there is listed and loads', async () => {
    const outside = join(folder, 'outside');
    await mkdir(outside, { recursive: true });
    await copyFile(tiny, join(outside, 'blob'));
    expect(await errorCode(caller().localModels.inspect({ path: join(outside, 'blob') }))).toBe('invalid-input');
    expect(await errorCode(caller().localModels.estimate({ path: join(outside, 'blob') }))).toBe('invalid-input');
    expect(await errorCode(caller().localModels.inspect({ path: join(models, '..', 'outside', 'blob') }))).toBe(
      'invalid-input',
    );
    expect(await errorCode(caller().localModels.inspect({ path: '/etc/passwd' }))).toBe('invalid-input');

    // The Hugging Face cache's layout: the .gguf is a link, its target is a blob elsewhere.
    await symlink(join(outside, 'blob'), join(models, 'linked.gguf'));
    try {
      const listed = (await caller().localModels.list()).models.find((model) => model.file_name === 'linked.gguf');
      expect(listed).toMatchObject({ path: join(models, 'linked.gguf'), architecture: 'llama', problem: null });
      expect((await caller().localModels.inspect({ path: join(models, 'linked.gguf') })).tensor_count).toBe(21);
      const events: LoadEvent[] = [];
      const load = await caller().localModels.load({
        spec: { backend: 'llamacpp', model_path: join(models, 'linked.gguf'), context_size: 256 },
      });
      for await (const event of load) events.push(event);
      expect(events.at(-1)).toMatchObject({ type: 'loaded', model: { state: 'ready' } });
      await caller().localModels.unload({ path: join(models, 'linked.gguf') });
    } finally {
      await rm(join(models, 'linked.gguf'));
    }
  });

  it('addToRegistry: saves the entry for a file to the user registry, where lookups find it', async () => {
    const saved = await caller().localModels.addToRegistry({
      path: join(models, 'tiny.gguf'),
      model_name: 'my-tiny',
    });
    const expected = {
      model_name: 'my-tiny',
      backend: 'llamacpp',
      model_path: join(models, 'tiny.gguf'),
      open_weight: true,
      context_size: '512',
    };
    expect(saved.entry).toEqual(expected);
    expect(saved.already).toBe(false);
    const userRegistry = services.registry.files().find((file) => file.role === 'user');
    expect(saved.file).toBe(userRegistry?.path);
    expect(JSON.parse(await readFile(saved.file, 'utf8'))).toEqual([expected]);
    expect(services.registry.resolve('my-tiny').spec).toMatchObject(expected);

    // A second click adds nothing: the same entry is already there.
    const again = await caller().localModels.addToRegistry({ path: join(models, 'tiny.gguf'), model_name: 'my-tiny' });
    expect(again).toEqual({ ...saved, already: true });
    expect(JSON.parse(await readFile(saved.file, 'utf8'))).toEqual([expected]);
  });

  it('rejects bad input', async () => {
    await expect(caller().localModels.estimate({ path: tiny, gpu_layers: -1 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(caller().localModels.inspect({ path: '' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('system', () => {
  it('gpu: the compute backend, memory and cores', async () => {
    const info = await caller().system.gpu();
    expect(info).toMatchObject({ backend: 'cpu', devices: [], vram: null, supports_gpu_offloading: false });
    expect(info.cpu.auto_threads).toBeGreaterThanOrEqual(1);
  });
});
