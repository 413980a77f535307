import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ggufPresets } from '../../scripts/make-gguf.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import { LocalModelRuntime } from './runtime.js';
import { readLoadSettings } from './settings.js';
import {
  chooseThreads,
  sizeClassOf,
  ThreadCalibrator,
  type ThreadCalibratorOptions,
  threadCandidates,
  type ThreadMeasurement,
} from './thread-calibration.js';

const measured = (pairs: [number, number][]): ThreadMeasurement[] =>
  pairs.map(([threads, rate]) => ({ threads, tokens_per_second: rate }));

describe('the decision rule', () => {
  it.each([
    [
      'one thread far ahead (a 2-core VM)',
      [
        [1, 186],
        [2, 45],
      ],
      1,
    ],
    [
      'two threads clearly ahead',
      [
        [1, 100],
        [2, 130],
      ],
      2,
    ],
    [
      'a tie within 5 % keeps fewer threads',
      [
        [1, 100],
        [2, 104],
      ],
      1,
    ],
    [
      'the best run of each count counts',
      [
        [1, 90],
        [2, 120],
        [1, 125],
        [2, 110],
      ],
      1,
    ],
    [
      'more counts: the fewest within 5 % of the fastest',
      [
        [1, 50],
        [2, 95],
        [3, 99],
        [4, 100],
      ],
      2,
    ],
    [
      'runs that could not be timed are skipped',
      [
        [1, 0],
        [2, 80],
        [1, Number.NaN],
      ],
      2,
    ],
  ] as [string, [number, number][], number][])('%s', (_name, pairs, expected) => {
    expect(chooseThreads(measured(pairs))).toBe(expected);
  });

  it('refuses to choose from nothing', () => {
    expect(() => chooseThreads(measured([[1, 0]]))).toThrow(/no thread count/);
  });
});

describe('size classes and candidates', () => {
  it.each([
    [700_000, 'under 64 MiB'],
    [84_000_000, '64–256 MiB'],
    [400 * 2 ** 20, '256 MiB–1 GiB'],
    [4.5 * 2 ** 30, '4–16 GiB'],
    [100 * 2 ** 30, '64 GiB and more'],
  ])('%d bytes is %s', (bytes, label) => {
    expect(sizeClassOf(bytes)).toBe(label);
  });

  it('tries every count on small machines, a spread on big ones', () => {
    expect(threadCandidates(2, 2)).toEqual([1, 2]);
    expect(threadCandidates(1, 1)).toEqual([1]);
    expect(threadCandidates(64, 32)).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(threadCandidates(24, 12)).toEqual([1, 2, 4, 6, 8, 12, 16, 24]);
  });
});

describe('measuring on a real model', () => {
  let runtime: LocalModelRuntime;
  let llama: Llama;
  let folder = '';
  let tiny: LlamaModel;
  let tinyOther: LlamaModel;
  const build = 'test-build cpu';

  function calibrator(options: ThreadCalibratorOptions = {}): ThreadCalibrator {
    return new ThreadCalibrator({
      file: join(folder, 'thread-calibration.json'),
      machine: 'test machine',
      candidates: [1, 2],
      measure: { tokens: 4, rounds: 2 },
      ...options,
    });
  }

  beforeAll(async () => {
    runtime = new LocalModelRuntime({ gpu: false });
    llama = await runtime.getLlama();
    folder = await mkdtemp(join(tmpdir(), 'clemplay-threads-'));
    tiny = await llama.loadModel({ modelPath: await ensureTestModel('tiny'), gpuLayers: 0 });
    // Another file of the same size class: the cache is per class, not per file.
    tinyOther = await llama.loadModel({
      modelPath: await ensureTestModel({ ...ggufPresets.tiny, seed: 99 }),
      gpuLayers: 0,
    });
  });

  afterAll(async () => {
    await tiny.dispose();
    await tinyOther.dispose();
    await runtime.dispose();
    await rm(folder, { recursive: true, force: true });
  });

  it('measures every candidate, keeps the rule’s choice, and caches it for the size class', async () => {
    const target = { fileBytes: 700_000, fileName: 'tiny.gguf', llamaCpp: build, offload: 'cpu' as const };
    const first = await calibrator().threadsFor(tiny, target);
    expect(first.source).toBe('measured');
    // Two rounds over two candidates, each a real timed generation.
    expect(first.calibration.measurements.map((entry) => entry.threads)).toEqual([1, 2, 2, 1]);
    for (const entry of first.calibration.measurements) expect(entry.tokens_per_second).toBeGreaterThan(0);
    expect(first.threads).toBe(chooseThreads(first.calibration.measurements));
    expect(first.calibration).toMatchObject({ size_class: 'under 64 MiB', offload: 'cpu', model_file: 'tiny.gguf' });

    const saved = JSON.parse(await readFile(join(folder, 'thread-calibration.json'), 'utf8'));
    expect(saved).toEqual({
      version: 1,
      calibrations: [{ ...first.calibration, machine: 'test machine', llama_cpp: build }],
    });

    // A new process (a new calibrator on the same file) loading another model of the class measures nothing.
    const again = await calibrator().threadsFor(tinyOther, { ...target, fileName: 'other.gguf' });
    expect(again).toEqual({ threads: first.threads, source: 'cached', calibration: first.calibration });
    expect(await calibrator().list(build)).toEqual([first.calibration]);
  });

  it('measures again for another llama.cpp build or another machine, and keeps both', async () => {
    const target = { fileBytes: 700_000, fileName: 'tiny.gguf', llamaCpp: 'newer-build cpu', offload: 'cpu' as const };
    expect((await calibrator().threadsFor(tiny, target)).source).toBe('measured');
    expect((await calibrator({ machine: 'another machine' }).threadsFor(tiny, target)).source).toBe('measured');
    const saved = JSON.parse(await readFile(join(folder, 'thread-calibration.json'), 'utf8'));
    expect(saved.calibrations.map((entry: { machine: string; llama_cpp: string }) => entry.llama_cpp)).toEqual([
      build,
      'newer-build cpu',
      'newer-build cpu',
    ]);
  });

  it('measures once when several loads ask at the same time', async () => {
    const shared = calibrator({ file: join(folder, 'concurrent.json') });
    const target = { fileBytes: 700_000, fileName: 'tiny.gguf', llamaCpp: build, offload: 'cpu' as const };
    const [one, two] = await Promise.all([shared.threadsFor(tiny, target), shared.threadsFor(tinyOther, target)]);
    expect(two).toBe(one);
    expect(await shared.list(build)).toHaveLength(1);
  });

  it('a load with threads "auto" uses the measurement; a spec count or the setting wins over it', async () => {
    const path = await ensureTestModel('tiny');
    let setting: number | 'auto' = 'auto';
    const loads = new LocalModelRuntime({
      llama,
      threadCalibrator: calibrator({ file: join(folder, 'runtime.json') }),
      threadsSetting: async () => setting,
    });
    try {
      const auto = await loads.load(path, readLoadSettings({ context_size: 256 }));
      expect(auto.settings.threads).toBe('auto');
      expect(auto.resolved).toMatchObject({ threads_from: 'measured' });
      const info = await loads.gpuInfo();
      expect(info.threads.setting).toBe('auto');
      expect(info.threads.calibrations).toHaveLength(1);
      expect(info.threads.calibrations[0]?.threads).toBe(auto.resolved?.threads);
      await loads.unload();

      expect((await loads.load(path, readLoadSettings({ context_size: 256 }))).resolved).toMatchObject({
        threads_from: 'cached',
        threads: auto.resolved?.threads,
      });
      expect((await loads.load(path, readLoadSettings({ context_size: 256, threads: 2 }))).resolved).toMatchObject({
        threads_from: 'spec',
        threads: 2,
      });
      await loads.unload();
      setting = 3;
      expect((await loads.load(path, readLoadSettings({ context_size: 256 }))).resolved).toMatchObject({
        threads_from: 'setting',
        threads: 3,
      });
    } finally {
      await loads.dispose();
    }
  });
});
