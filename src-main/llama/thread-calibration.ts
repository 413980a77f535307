/**
 * `threads: "auto"` is measured, not guessed: the best thread count for token generation depends on the machine
 * (on one 2-core VM 1 thread ran 3× faster than 2, on another they tie) and on the model's size, and no rule about
 * cores predicts it. So the first time a model of a size class loads, a few tokens are generated with each
 * candidate thread count, the fastest is kept, and the choice is cached per machine and llama.cpp build in
 * `thread-calibration.json` in the data folder. Measuring takes about a second for a small model and a few for a
 * large one, once.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, hostname } from 'node:os';
import { join } from 'node:path';
import type { LlamaModel, Token } from 'node-llama-cpp';
import { writeFileAtomic } from '../files/atomic-write.js';
import { autoThreadCount, physicalCoreCount } from './threads.js';

/** Tokens per second with one thread count, from one timed generation. */
export interface ThreadMeasurement {
  threads: number;
  /** Generated tokens per second after the first token. */
  tokens_per_second: number;
}

/** The thread count chosen for one size class of models on this machine and llama.cpp build. */
export interface ThreadCalibration {
  /** The model size class, e.g. `64–256 MiB` (by GGUF file size). */
  size_class: string;
  /** CPU or GPU: where the model's layers ran when it was measured. */
  offload: 'cpu' | 'gpu';
  /** The thread count `threads: "auto"` uses for this class. */
  threads: number;
  /** Every timed generation, in the order run. */
  measurements: ThreadMeasurement[];
  /** ISO 8601 time of the measurement. */
  measured_at: string;
  /** The file it was measured on (its name only). */
  model_file: string;
}

/** What a calibration is valid for: this machine and this llama.cpp build. */
export interface CalibrationIdentity {
  /** Host name, CPU model and the cores this process may use. */
  machine: string;
  /** llama.cpp release, binary build and compute backend, e.g. `b6000 prebuilt cpu`. */
  llama_cpp: string;
}

interface CalibrationFile {
  version: 1;
  calibrations: (ThreadCalibration & CalibrationIdentity)[];
}

/** The calibration cache's file in a data folder. */
export function threadCalibrationPath(dataDir: string): string {
  return join(dataDir, 'thread-calibration.json');
}

/** This machine as calibrations are keyed: a home folder shared between machines keeps one entry per machine. */
export function machineIdentity(): string {
  return `${hostname()}, ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} usable cores`;
}

const mebibyte = 2 ** 20;
/** Class boundaries in bytes: powers of 4 from 64 MiB. */
const classBounds = [64, 256, 1024, 4096, 16_384, 65_536].map((size) => size * mebibyte);

function sizeLabel(bytes: number): string {
  return bytes >= 1024 * mebibyte ? `${bytes / (1024 * mebibyte)} GiB` : `${bytes / mebibyte} MiB`;
}

/** The size class of a model file: threads that suit a 100 MB model say little about a 10 GB one. */
export function sizeClassOf(fileBytes: number): string {
  const upper = classBounds.findIndex((bound) => fileBytes < bound);
  if (upper === 0) return `under ${sizeLabel(classBounds[0] as number)}`;
  if (upper === -1) return `${sizeLabel(classBounds.at(-1) as number)} and more`;
  const [low, high] = [sizeLabel(classBounds[upper - 1] as number), sizeLabel(classBounds[upper] as number)];
  // `64–256 MiB`, but `256 MiB–1 GiB`.
  return low.slice(-3) === high.slice(-3) ? `${low.slice(0, -4)}–${high}` : `${low}–${high}`;
}

/**
 * The thread counts to try: every count up to the usable cores on small machines; on big ones, powers of two plus
 * the physical core count and its half (the usual optima), so that calibration stays short.
 */
export function threadCandidates(
  usableCores: number = availableParallelism(),
  physicalCores: number = physicalCoreCount(),
): number[] {
  const limit = Math.max(1, usableCores);
  if (limit <= 8) return Array.from({ length: limit }, (_, index) => index + 1);
  const candidates = new Set<number>([autoThreadCount(physicalCores), Math.min(physicalCores, limit), limit]);
  for (let count = 1; count < limit; count *= 2) candidates.add(count);
  return [...candidates].sort((a, b) => a - b);
}

/** Fewer threads win unless more are faster by this fraction: they leave cores to the rest of the app, and a few percent is noise. */
export const fewerThreadsTolerance = 0.05;

/**
 * The decision rule: the best rate of each thread count (over its runs), then the fewest threads within
 * {@link fewerThreadsTolerance} of the fastest. Throws when nothing was measured.
 */
export function chooseThreads(measurements: readonly ThreadMeasurement[]): number {
  const best = new Map<number, number>();
  for (const { threads, tokens_per_second: rate } of measurements) {
    if (!Number.isFinite(rate) || rate <= 0) continue;
    best.set(threads, Math.max(rate, best.get(threads) ?? 0));
  }
  if (best.size === 0) throw new Error('no thread count could be measured');
  const fastest = Math.max(...best.values());
  const good = [...best]
    .filter(([, rate]) => rate >= fastest * (1 - fewerThreadsTolerance))
    .map(([threads]) => threads);
  return Math.min(...good);
}

/** How {@link measureThreads} times each thread count. */
export interface MeasureOptions {
  /** Tokens generated per timed run (the first is not timed); default 12. */
  tokens?: number;
  /** A run stops early after this long (large models on slow CPUs); default 1500 ms. */
  maxRunMs?: number;
  /** Passes over the candidates, alternating their order so that no count always runs first; default 2. */
  rounds?: number;
  signal?: AbortSignal;
}

/** Times greedy generation on `model` with each thread count, each in a small context of its own. */
export async function measureThreads(
  model: LlamaModel,
  candidates: readonly number[],
  options: MeasureOptions = {},
): Promise<ThreadMeasurement[]> {
  const tokens = options.tokens ?? 12;
  const maxRunMs = options.maxRunMs ?? 1500;
  const rounds = options.rounds ?? 2;
  const prompt: Token[] = model.tokenize('The sea and the wind');
  if (prompt.length === 0 && model.tokens.bos !== null) prompt.push(model.tokens.bos);
  const measurements: ThreadMeasurement[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? candidates : [...candidates].reverse();
    for (const threads of order) {
      options.signal?.throwIfAborted();
      const context = await model.createContext({ contextSize: 256, sequences: 1, threads });
      try {
        const sequence = context.getSequence();
        let first = 0;
        let last = 0;
        let count = 0;
        for await (const _token of sequence.evaluate(prompt, { temperature: 0 })) {
          count += 1;
          last = performance.now();
          if (count === 1) first = last;
          if (count >= tokens || last - first > maxRunMs) break;
        }
        // 0 says "could not be timed" (fewer than two tokens): the decision rule skips it.
        const rate = count >= 2 && last > first ? ((count - 1) * 1000) / (last - first) : 0;
        measurements.push({ threads, tokens_per_second: rate });
      } finally {
        await context.dispose();
      }
    }
  }
  return measurements;
}

/** What a calibrated thread count came from: measured now, or read from the cache. */
export interface ThreadChoice {
  threads: number;
  source: 'measured' | 'cached';
  calibration: ThreadCalibration;
}

/** Options of {@link ThreadCalibrator}. */
export interface ThreadCalibratorOptions {
  /** The cache file; without one, calibrations last for the process only (tests). */
  file?: string;
  /** Which machine and build the cached calibrations must match; default: this machine and `llamaCpp` given later. */
  machine?: string;
  /** Timing options (tests shorten them). */
  measure?: MeasureOptions;
  /** Thread counts to try; default {@link threadCandidates}. */
  candidates?: readonly number[];
}

/** Measures and caches thread choices; one per process (the local-model runtime holds it). */
export class ThreadCalibrator {
  private cache: Promise<CalibrationFile> | undefined;
  private readonly inFlight = new Map<string, Promise<ThreadChoice>>();
  private readonly machine: string;

  constructor(private readonly options: ThreadCalibratorOptions = {}) {
    this.machine = options.machine ?? machineIdentity();
  }

  /** Where calibrations are kept, or null when only in memory. */
  get file(): string | null {
    return this.options.file ?? null;
  }

  private read(): Promise<CalibrationFile> {
    this.cache ??= (async () => {
      if (this.options.file === undefined) return { version: 1, calibrations: [] };
      try {
        const parsed = JSON.parse(await readFile(this.options.file, 'utf8')) as Partial<CalibrationFile>;
        // A file from another version (or edited by hand into another shape) is a cache: measure again.
        return parsed.version === 1 && Array.isArray(parsed.calibrations)
          ? { version: 1, calibrations: parsed.calibrations }
          : { version: 1, calibrations: [] };
      } catch {
        return { version: 1, calibrations: [] };
      }
    })();
    return this.cache;
  }

  /** The calibrations valid on this machine with this llama.cpp build. */
  async list(llamaCpp: string): Promise<ThreadCalibration[]> {
    const file = await this.read();
    return file.calibrations
      .filter((entry) => entry.machine === this.machine && entry.llama_cpp === llamaCpp)
      .map(({ machine: _machine, llama_cpp: _llamaCpp, ...calibration }) => calibration);
  }

  /**
   * The thread count for a model: from the cache for its size class, else measured on it now (once, however many
   * loads ask at the same time) and saved. A cache that cannot be written is reported by the caller's `onWarning`
   * and the choice is still used.
   */
  async threadsFor(
    model: LlamaModel,
    target: { fileBytes: number; fileName: string; llamaCpp: string; offload: 'cpu' | 'gpu' },
    onWarning: (message: string) => void = () => undefined,
    signal?: AbortSignal,
  ): Promise<ThreadChoice> {
    const sizeClass = sizeClassOf(target.fileBytes);
    const cached = (await this.list(target.llamaCpp)).find(
      (entry) => entry.size_class === sizeClass && entry.offload === target.offload,
    );
    if (cached !== undefined) return { threads: cached.threads, source: 'cached', calibration: cached };
    const key = JSON.stringify([target.llamaCpp, sizeClass, target.offload]);
    let running = this.inFlight.get(key);
    if (running === undefined) {
      running = (async (): Promise<ThreadChoice> => {
        const measurements = await measureThreads(model, this.options.candidates ?? threadCandidates(), {
          ...this.options.measure,
          ...(signal === undefined ? {} : { signal }),
        });
        const calibration: ThreadCalibration = {
          size_class: sizeClass,
          offload: target.offload,
          threads: chooseThreads(measurements),
          measurements,
          measured_at: new Date().toISOString(),
          model_file: target.fileName,
        };
        await this.save({ ...calibration, machine: this.machine, llama_cpp: target.llamaCpp }).catch((error: unknown) =>
          onWarning(`The thread calibration could not be saved to ${this.options.file}: ${String(error)}`),
        );
        return { threads: calibration.threads, source: 'measured', calibration };
      })().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, running);
    }
    return running;
  }

  private async save(entry: ThreadCalibration & CalibrationIdentity): Promise<void> {
    const file = await this.read();
    file.calibrations = [
      ...file.calibrations.filter(
        (other) =>
          !(
            other.machine === entry.machine &&
            other.llama_cpp === entry.llama_cpp &&
            other.size_class === entry.size_class &&
            other.offload === entry.offload
          ),
      ),
      entry,
    ];
    if (this.options.file !== undefined) {
      await writeFileAtomic(this.options.file, `${JSON.stringify(file, null, 2)}\n`);
    }
  }
}
