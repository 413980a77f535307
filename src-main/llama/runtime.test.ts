import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { GgufInsights, Llama, LlamaContext, LlamaContextOptions, LlamaModel } from 'node-llama-cpp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ggufPresets, writeGguf, writeNotGguf, writeTruncatedGguf } from '../../scripts/make-gguf.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import type { JsonObject } from '../../src-shared/json.js';
import { describeLoadFailure, formatBytes, LlamaLog, type LlamaLogLine } from './failures.js';
import { type LoadProgress, LocalModelRuntime, type LocalModelRuntimeOptions } from './runtime.js';
import { type LoadSettings, readLoadSettings } from './settings.js';
import { rejection } from '../testing/rejection.js';

let runtime: LocalModelRuntime;
let llama: Llama;
let folder = '';
let tiny = '';
const others: LocalModelRuntime[] = [];

function settings(spec: JsonObject = {}): LoadSettings {
  return readLoadSettings({ threads: 1, context_size: 256, ...spec });
}

/** Another runtime on the same Llama instance (one per test file), with other options. */
function runtimeWith(options: LocalModelRuntimeOptions): LocalModelRuntime {
  const made = new LocalModelRuntime({ ...options, llama });
  others.push(made);
  return made;
}

/** Waits until `check` holds (work that goes on after a promise settled, such as disposing). */
async function eventually(what: string, check: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(check(), `waiting until ${what}`).toBe(true), { timeout: 10_000, interval: 10 });
}

/**
 * Records every model and context node-llama-cpp makes from now on (to check that each was disposed), and runs
 * `afterContext` right after a context is made — the moment between the context and the load's last steps.
 */
async function trackHandles(afterContext: () => void = () => undefined): Promise<{
  models: LlamaModel[];
  contexts: LlamaContext[];
}> {
  const nl = await runtime.module();
  const models: LlamaModel[] = [];
  const contexts: LlamaContext[] = [];
  const loadModel = llama.loadModel.bind(llama);
  vi.spyOn(llama, 'loadModel').mockImplementation(async (options) => {
    const model = await loadModel(options);
    models.push(model);
    return model;
  });
  const createContext = nl.LlamaModel.prototype.createContext;
  vi.spyOn(nl.LlamaModel.prototype, 'createContext').mockImplementation(async function (
    this: LlamaModel,
    options?: LlamaContextOptions,
  ) {
    const context = await createContext.call(this, options);
    contexts.push(context);
    afterContext();
    return context;
  });
  return { models, contexts };
}

beforeAll(async () => {
  runtime = new LocalModelRuntime({ gpu: false });
  llama = await runtime.getLlama();
  folder = await mkdtemp(join(tmpdir(), 'clemplay-runtime-'));
  tiny = await ensureTestModel('tiny');
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

afterAll(async () => {
  for (const other of others) await other.dispose();
  await runtime.dispose();
  await rm(folder, { recursive: true, force: true });
});

describe('loading', () => {
  it('reports progress, then keeps the model for the next caller with the same settings', async () => {
    const progress: LoadProgress[] = [];
    const loaded = await runtime.load(tiny, settings(), { onProgress: (step) => progress.push(step) });
    expect(loaded).toMatchObject({
      path: tiny,
      state: 'ready',
      progress: 1,
      settings: { context_size: 256, threads: 1 },
    });
    expect(loaded.resolved).toMatchObject({ gpu_layers: 0, context_size: 256 });
    expect(loaded.memory.ram_bytes).toBeGreaterThan(500_000);
    expect(progress.at(-1)).toEqual({ phase: 'context', fraction: 1 });
    expect(progress.some((step) => step.phase === 'load' && step.fraction > 0 && step.fraction < 1)).toBe(true);
    const fractions = progress.map((step) => step.fraction);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));

    const again = await runtime.load(tiny, settings());
    expect(again.id).toBe(loaded.id);
    expect(runtime.status().filter((model) => model.path === tiny)).toHaveLength(1);
  });

  it('loads the same file again with other settings, and unloads by id or all', async () => {
    const small = await runtime.load(tiny, settings());
    const large = await runtime.load(tiny, settings({ context_size: 512 }));
    expect(large.id).not.toBe(small.id);
    expect(large.resolved?.context_size).toBe(512);
    expect(runtime.status().map((model) => model.id)).toEqual(expect.arrayContaining([small.id, large.id]));

    expect(await runtime.unload({ id: small.id })).toEqual([small.id]);
    expect(runtime.status().map((model) => model.id)).not.toContain(small.id);
    await expect(runtime.unload({ id: small.id })).rejects.toMatchObject({ code: 'not-found' });
    await runtime.unload();
    expect(runtime.status()).toEqual([]);
  });

  it.each<[string, (progress: LoadProgress) => boolean]>([
    ['while the weights load', (step) => step.phase === 'load' && step.fraction > 0],
    ['when the context phase begins', (step) => step.phase === 'context'],
    ['after the context is made, while the memory estimates run', () => false],
  ])('cancels a load mid-way when its only caller gives up: %s', async (name, abortAt) => {
    const own = runtimeWith({});
    const controller = new AbortController();
    const made = await trackHandles(() => {
      if (name.startsWith('after')) controller.abort();
    });
    const loading = own.load(tiny, settings({ context_size: 320 }), {
      signal: controller.signal,
      onProgress: (step) => {
        if (abortAt(step)) controller.abort();
      },
    });
    expect((await rejection(loading)).code).toBe('aborted');
    expect(controller.signal.aborted).toBe(true);
    await eventually(
      'the cancelled load is gone and all it made is disposed',
      () =>
        own.status().length === 0 &&
        made.models.every((model) => model.disposed) &&
        made.contexts.every((context) => context.disposed),
    );
    if (name.startsWith('after')) expect(made.contexts).toHaveLength(1);
    vi.restoreAllMocks();
    expect((await own.load(tiny, settings({ context_size: 320 }))).state).toBe('ready');
    expect(own.status()).toHaveLength(1);
  });

  it('an unload during the last steps of a load wins: the load fails, nothing stays loaded', async () => {
    const own = runtimeWith({});
    let unloading: Promise<string[]> | undefined;
    const made = await trackHandles(() => {
      unloading = own.unload();
    });
    const error = await rejection(own.load(tiny, settings()));
    expect(error.code).toBe('aborted');
    await unloading;
    expect(own.status()).toEqual([]);
    expect(made.models.every((model) => model.disposed)).toBe(true);
  });

  it('one file under two spellings of its path is one loaded model', async () => {
    const own = runtimeWith({});
    const loaded = await own.load(tiny, settings());
    const doubled = await own.load(`${dirname(tiny)}//${basename(tiny)}`, settings());
    expect(doubled.id).toBe(loaded.id);
    expect(doubled.path).toBe(tiny);
    expect(own.status()).toHaveLength(1);
    expect(await own.unload({ path: `${dirname(tiny)}/./${basename(tiny)}` })).toEqual([loaded.id]);
  });
});

describe('failures are typed, say why, and leave the runtime working', () => {
  it.each<[string, (path: string) => Promise<void>, string, RegExp]>([
    ['a missing file', async () => undefined, 'not-found', /No model file at .*case-0\.gguf/],
    ['not a GGUF', (path) => writeNotGguf(path), 'model-load', /is not a GGUF file/],
    ['truncated tensor data', (path) => writeTruncatedGguf(path), 'model-load', /is truncated or corrupt/],
    ['truncated metadata', (path) => writeTruncatedGguf(path, 'metadata'), 'corrupt', /is corrupt at byte .*truncated/],
    [
      'an unsupported architecture',
      (path) => writeGguf(path, { ...ggufPresets.tiny, architecture: 'made-up-arch' }).then(() => undefined),
      'model-load',
      /architecture "made-up-arch", which this llama\.cpp/,
    ],
  ])('%s', async (_name, write, code, message) => {
    const index = ['missing', 'not', 'data', 'metadata', 'arch'].findIndex((prefix) => _name.includes(prefix));
    const path = join(folder, `case-${Math.max(index, 0)}.gguf`);
    await write(path);
    const error = await rejection(runtime.load(path, settings()));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(runtime.status().some((model) => model.path === path)).toBe(false);
    expect((await runtime.load(tiny, settings())).state).toBe('ready');
  });

  it('a file llama.cpp itself rejects: the reason comes from its log', async () => {
    // A header that passes every check of ours, but a tokenizer llama.cpp does not know.
    const path = join(folder, 'bad-tokenizer.gguf');
    const bytes = await readFile(tiny);
    const key = bytes.indexOf('tokenizer.ggml.model');
    bytes.write('bogus', bytes.indexOf('llama', key), 'latin1');
    await writeFile(path, bytes);
    const error = await rejection(runtime.load(path, settings()));
    expect(error.code).toBe('model-load');
    expect(error.message).toMatch(/Could not load .*bad-tokenizer\.gguf: .*unknown tokenizer: 'bogus'/);
    expect((await runtime.load(tiny, settings())).state).toBe('ready');
  });
});

describe('sequences', () => {
  it('lends one sequence per generation and queues the rest', async () => {
    const controller = new AbortController();
    const first = await runtime.acquire(tiny, settings(), controller.signal);
    let secondReady = false;
    const second = runtime.acquire(tiny, settings(), controller.signal).then((lease) => {
      secondReady = true;
      return lease;
    });
    const waitingController = new AbortController();
    const third = runtime.acquire(tiny, settings(), waitingController.signal);
    // Both wait in line for the one sequence; only a release can hand it on.
    await vi.waitFor(() =>
      expect(
        runtime.status().find((model) => model.path === tiny && model.settings.context_size === 256),
      ).toMatchObject({ active_generations: 1, waiting_generations: 2, unload_at: null }),
    );
    expect(secondReady).toBe(false);

    waitingController.abort();
    expect((await rejection(third)).code).toBe('aborted');
    first.release();
    first.release();
    const lease = await second;
    expect(lease.sequence).toBe(first.sequence);
    lease.release();
  });

  it('gives each of `parallel` generations its own sequence', async () => {
    const signal = new AbortController().signal;
    const leases = await Promise.all([0, 1].map(() => runtime.acquire(tiny, settings({ parallel: 2 }), signal)));
    expect(leases[0]?.sequence).not.toBe(leases[1]?.sequence);
    for (const lease of leases) lease.release();
  });

  it('unloading stops generations in flight and waits for them', async () => {
    const disposeTimeoutMs = 60_000;
    const own = runtimeWith({ disposeTimeoutMs });
    const lease = await own.acquire(tiny, settings({ context_size: 384 }), new AbortController().signal);
    // The wait for running generations is bounded by disposeTimeoutMs: on fake timers, the test moves the clock.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const unloading = own.unload({ path: tiny });
    expect(lease.signal.aborted).toBe(true);
    let done = false;
    void unloading.then(() => (done = true));
    // Until a moment before the bound, the unload waits: the model and its context stay, in use.
    await vi.advanceTimersByTimeAsync(disposeTimeoutMs - 1);
    expect(done).toBe(false);
    expect(lease.sequence.context.disposed).toBe(false);
    expect(own.status()).toMatchObject([{ state: 'unloading', active_generations: 1 }]);
    // node-llama-cpp frees the model on real timers.
    vi.useRealTimers();
    lease.release();
    await unloading;
    expect(lease.sequence.context.disposed).toBe(true);
    expect(own.status()).toEqual([]);
  });
});

describe('unloading on its own', () => {
  it('after the idle time, counted from the end of the last generation', async () => {
    // The idle timer is set when the load ends: fake from the start, so that every timer the runtime sets is.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const idleUnloadMs = 60_000;
    const idle = runtimeWith({ idleUnloadMs });
    const lease = await idle.acquire(tiny, settings(), new AbortController().signal);
    // In use, a model stays however long the generation takes.
    await vi.advanceTimersByTimeAsync(2 * idleUnloadMs);
    expect(idle.status()).toMatchObject([{ state: 'ready', unload_at: null }]);
    expect(lease.signal.aborted).toBe(false);
    lease.release();
    expect(idle.status()[0]?.unload_at).toBe(Date.now() + idleUnloadMs);
    await vi.advanceTimersByTimeAsync(idleUnloadMs - 1);
    expect(idle.status()).toMatchObject([{ state: 'ready' }]);
    await vi.advanceTimersByTimeAsync(1);
    expect(idle.status()).toMatchObject([{ state: 'unloading' }]);
    await eventually('the idle model left', () => idle.status().length === 0);
  });

  it('when memory is needed: idle models make room, models in use do not', async () => {
    const nl = await runtime.module();
    const insights = await nl.GgufInsights.from(await nl.readGgufFileInfo(tiny), llama);
    const need = async (contextSize: number): Promise<number> => {
      const estimate = await runtime.estimate(insights, settings({ context_size: contextSize }));
      return estimate.memory.ram_bytes + estimate.memory.vram_bytes;
    };
    const limit = Math.max(await need(256), await need(512)) + 100_000;
    expect(limit).toBeLessThan((await need(256)) + (await need(512)));
    const limited = runtimeWith({ memoryLimitBytes: limit });
    const first = await limited.load(tiny, settings());
    const second = await limited.load(tiny, settings({ context_size: 512 }));
    expect(limited.status().map((model) => model.id)).toEqual([second.id]);

    const lease = await limited.acquire(tiny, settings({ context_size: 512 }), new AbortController().signal);
    const error = await rejection(limited.load(tiny, settings()));
    expect(error.code).toBe('out-of-memory');
    expect(error.message).toMatch(
      /needs about [\d.]+ MiB, but the memory limit of [\d.]+ MiB leaves [\d.]+ (KiB|bytes) beside the models in use/,
    );
    expect(error.details).toMatchObject({ limit_bytes: limit });
    lease.release();
    expect((await limited.load(tiny, settings())).id).toBe(first.id);
  });

  it("node-llama-cpp's own out-of-memory refusal says how much was needed and how much is free", async () => {
    await llama.setRamCap(1_500_000);
    try {
      const error = await rejection(runtime.load(tiny, settings({ context_size: 512 })));
      expect(error.code).toBe('out-of-memory');
      expect(error.message).toMatch(
        /^Not enough memory to load .*: it needs about [\d.]+ MiB of RAM \(weights [\d.]+ KiB, context of 512 tokens × 1 [\d.]+ MiB\), but only [\d.]+ GiB of RAM is free \(and node-llama-cpp's RAM cap is 1\.4 MiB\)/,
      );
      expect(error.details).toMatchObject({ needed_ram_bytes: expect.any(Number), free_ram_bytes: expect.any(Number) });
    } finally {
      await llama.setRamCap(null);
    }
    expect((await runtime.load(tiny, settings({ context_size: 512 }))).state).toBe('ready');
  });

  it('unloads first the model idle longest, counting a model never used from when it loaded', async () => {
    const nl = await runtime.module();
    const insights = await nl.GgufInsights.from(await nl.readGgufFileInfo(tiny), llama);
    const need = async (contextSize: number): Promise<number> => {
      const estimate = await runtime.estimate(insights, settings({ context_size: contextSize }));
      return estimate.memory.ram_bytes + estimate.memory.vram_bytes;
    };
    // Room for all three but a byte: loading the third unloads exactly one of the first two.
    const limited = runtimeWith({ memoryLimitBytes: (await need(256)) + (await need(320)) + (await need(384)) - 1 });
    // Date is the test's clock (still running on): the next model loads a minute after the first was last used.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const used = await limited.load(tiny, settings());
    (await limited.acquire(tiny, settings(), new AbortController().signal)).release();
    vi.setSystemTime(Date.now() + 60_000);
    const justLoaded = await limited.load(tiny, settings({ context_size: 320 }));
    const third = await limited.load(tiny, settings({ context_size: 384 }));
    expect(limited.status().map((model) => model.id)).toEqual([justLoaded.id, third.id]);
    expect(limited.status().map((model) => model.id)).not.toContain(used.id);
  });

  it('a model that fails to dispose still leaves, and does not fail the load that made room', async () => {
    const nl = await runtime.module();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const insights = await nl.GgufInsights.from(await nl.readGgufFileInfo(tiny), llama);
    const need = async (contextSize: number): Promise<number> => {
      const estimate = await runtime.estimate(insights, settings({ context_size: contextSize }));
      return estimate.memory.ram_bytes + estimate.memory.vram_bytes;
    };
    const limited = runtimeWith({ memoryLimitBytes: Math.max(await need(256), await need(512)) + 100_000 });
    await limited.load(tiny, settings());
    const dispose = nl.LlamaContext.prototype.dispose;
    vi.spyOn(nl.LlamaContext.prototype, 'dispose').mockImplementationOnce(async function (this: LlamaContext) {
      await dispose.call(this);
      throw new Error('the native side said no');
    });
    const second = await limited.load(tiny, settings({ context_size: 512 }));
    await eventually('the evicted model left', () => limited.status().length === 1);
    expect(limited.status().map((model) => model.id)).toEqual([second.id]);
    expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/the native side said no/), expect.anything());
  });

  it('a model that fails to dispose after its idle time still leaves', async () => {
    const nl = await runtime.module();
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const idle = runtimeWith({ idleUnloadMs: 20 });
    const dispose = nl.LlamaModel.prototype.dispose;
    await idle.load(tiny, settings());
    vi.spyOn(nl.LlamaModel.prototype, 'dispose').mockImplementationOnce(async function (this: LlamaModel) {
      await dispose.call(this);
      throw new Error('the native side said no');
    });
    await eventually('the idle model left', () => idle.status().length === 0);
    expect((await idle.load(tiny, settings())).state).toBe('ready');
  });

  it('a model a load evicts between loading it and lending a sequence is loaded again for the caller', async () => {
    const own = runtimeWith({});
    const loaded = await own.load(tiny, settings());
    const acquiring = own.acquire(tiny, settings(), new AbortController().signal);
    // The gap another load's makeRoom can fall into: `ready` has answered, the caller holds nothing yet.
    const unloading = own.unload({ id: loaded.id });
    const lease = await acquiring;
    expect(lease.signal.aborted).toBe(false);
    lease.release();
    await unloading;
    expect(own.status()).toMatchObject([{ id: loaded.id, state: 'ready' }]);
  });

  it('a model bigger than the limit on its own fails without unloading anything', async () => {
    const tinyLimit = runtimeWith({ memoryLimitBytes: 1024 });
    const error = await rejection(tinyLimit.load(tiny, settings()));
    expect(error.code).toBe('out-of-memory');
    expect(error.message).toMatch(/the memory limit of 1\.0 KiB leaves 1\.0 KiB/);
  });
});

describe('failure messages', () => {
  it('reads the reason from llama.cpp log lines, including ones that name no known cause', () => {
    const at = 0;
    const truncated = describeLoadFailure(
      new Error('Failed to load model'),
      [
        {
          level: 'error',
          message: "llama_model_load: error loading model: tensor 'x' data is not within the file bounds",
          at,
        },
      ],
      '/m.gguf',
    );
    expect(truncated.code).toBe('model-load');
    expect(truncated.message).toMatch(
      /^\/m\.gguf is truncated or corrupt .*\(llama\.cpp: tensor 'x' data is not within/,
    );
    const memory = describeLoadFailure(
      new Error('Failed to load model'),
      [
        {
          level: 'error',
          message: 'ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 99',
          at,
        },
      ],
      '/m.gguf',
    );
    expect(memory.code).toBe('out-of-memory');
    const other = describeLoadFailure(new Error('Failed to load model'), [], '/m.gguf');
    expect(other.message).toBe('Could not load /m.gguf: Failed to load model');
  });

  it('waits briefly for a log line that comes after the failure', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const log = new LlamaLog();
    const since = performance.now();
    setTimeout(() => log.add('error', 'llama_model_load: error loading model: late'), 10);
    let late: LlamaLogLine | undefined | 'waiting' = 'waiting';
    void log.waitFor(/error loading model/, since, 1000).then((line) => (late = line));
    // The line ends the wait when it comes, long before the limit.
    await vi.advanceTimersByTimeAsync(10);
    expect(late).toMatchObject({ message: expect.stringMatching(/late/) });

    let never: LlamaLogLine | undefined | 'waiting' = 'waiting';
    void log.waitFor(/never/, since, 10).then((line) => (never = line));
    await vi.advanceTimersByTimeAsync(9);
    expect(never).toBe('waiting');
    await vi.advanceTimersByTimeAsync(1);
    expect(never).toBeUndefined();
  });

  it('formats sizes as people read them', () => {
    expect([0, 1023, 1024, 1536, 10 * 2 ** 20, 7.42 * 2 ** 30].map(formatBytes)).toEqual([
      '0 bytes',
      '1023 bytes',
      '1.0 KiB',
      '1.5 KiB',
      '10.0 MiB',
      '7.4 GiB',
    ]);
  });
});

describe('estimates', () => {
  it('asks node-llama-cpp for `gpu_layers: auto` with the context the load will make', async () => {
    const asked: unknown[] = [];
    const gpuLlama = { gpu: 'cuda', supportsGpuOffloading: true } as unknown as Llama;
    const insights = {
      totalLayers: 33,
      trainContextSize: 4096,
      configurationResolver: {
        resolveModelGpuLayersV2: (gpuLayers: unknown, options: unknown) => {
          asked.push([gpuLayers, options]);
          return Promise.resolve({ gpuLayers: 20, useMmap: true });
        },
      },
      estimateModelResourceRequirementsV2: () => Promise.resolve({ cpuRam: 1, gpuVram: 2 }),
      estimateContextResourceRequirementsV2: () => Promise.resolve({ cpuRam: 3, gpuVram: 4 }),
    } as unknown as GgufInsights;
    const gpu = new LocalModelRuntime({ llama: gpuLlama });
    const estimate = await gpu.estimate(insights, settings({ context_size: 1024, parallel: 2 }));
    expect(estimate).toMatchObject({ gpu_layers: 20, context_size: 1024, memory: { ram_bytes: 4, vram_bytes: 6 } });
    expect(asked).toEqual([
      [{ fitContext: { contextSize: 2048 } }, expect.objectContaining({ defaultContextFlashAttention: 'auto' })],
    ]);
  });
});

describe('the machine', () => {
  it('says which compute backend and how much memory there is', async () => {
    const info = await runtime.gpuInfo();
    expect(info.backend).toBe('cpu');
    expect(info.vram).toBeNull();
    expect(info.ram.total_bytes).toBeGreaterThan(info.ram.free_bytes);
    expect(info.cpu.auto_threads).toBeGreaterThanOrEqual(1);
  });
});

describe('shutting down', () => {
  it('returns even after llama.cpp rejected a file, and refuses loads afterwards', async () => {
    // node-llama-cpp 3.21.1 waits forever in llama.dispose() after a failed load (above); dispose must not.
    await runtime.dispose();
    expect(runtime.status()).toEqual([]);
    await expect(runtime.load(tiny, settings())).rejects.toMatchObject({ code: 'aborted' });
  });
});
