import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import type {
  ChatWrapper,
  GgufInsights,
  Llama,
  LlamaContext,
  LlamaContextOptions,
  LlamaContextSequence,
  LlamaModel,
  LlamaModelOptions,
} from 'node-llama-cpp';
import { AppError } from '../../src-shared/errors.js';
import { describeLoadFailure, formatBytes, LlamaLog, loadFailureLinePattern } from './failures.js';
import { checkArchitecture, checkComplete, checkGgufMagic, readGgufHeader } from './gguf-file.js';
import { loadNodeLlamaCpp, type NodeLlamaCppModule } from './node-llama.js';
import { autoContextSizeCap, type ChatTemplateSetting, type LoadSettings, loadKey } from './settings.js';
import { ThreadCalibrator, type ThreadCalibration } from './thread-calibration.js';
import { autoThreadCount, physicalCoreCount } from './threads.js';

/** Options of {@link LocalModelRuntime}; every one has a default for a normal run. */
export interface LocalModelRuntimeOptions {
  /** `auto` (default): CUDA, Vulkan or Metal when node-llama-cpp finds one, else the CPU; `false`: CPU only. */
  gpu?: 'auto' | false;
  /** Unload a model this many milliseconds after its last generation ended; default 600000 (10 min); 0 never. */
  idleUnloadMs?: number;
  /** The most bytes (RAM + VRAM) loaded models may take together; default: no limit but free memory. */
  memoryLimitBytes?: number;
  /** How long `dispose` waits for node-llama-cpp to let go; default 5000 ms. */
  disposeTimeoutMs?: number;
  /** A Llama instance to use rather than making one; the runtime then never disposes it. */
  llama?: Llama;
  /** Measures and caches `threads: "auto"`; default: measured once per process, kept in memory only. */
  threadCalibrator?: ThreadCalibrator;
  /** The user's `threads` setting, read at each load; default `auto` (measured). A spec's own count wins. */
  threadsSetting?: () => Promise<number | 'auto'>;
}

/** Default idle time before a model is unloaded. */
export const defaultIdleUnloadMs = 10 * 60 * 1000;

/** How a load is going. */
export interface LoadProgress {
  /** `load`: reading the weights; `context`: reserving the context (KV cache). */
  phase: 'load' | 'context';
  /** Of the whole load, 0..1: the `load` phase runs from 0 to 0.9 (and always ends at 0.9), `context` from 0.9 to 1. */
  fraction: number;
}

/** Memory a model takes or would take, in bytes. */
export interface MemoryUse {
  /** Weights in RAM (mapped files count in full). */
  model_ram_bytes: number;
  /** KV cache and compute buffers in RAM. */
  context_ram_bytes: number;
  model_vram_bytes: number;
  context_vram_bytes: number;
  ram_bytes: number;
  vram_bytes: number;
}

/** What a load setting resolves to for one file on this machine. */
export interface ResolvedLoad {
  /** Layers on the GPU (0 on the CPU). */
  gpu_layers: number;
  /** Layers the model has (its blocks plus the output layer). */
  total_layers: number;
  /** Tokens per sequence. */
  context_size: number;
  memory: MemoryUse;
}

/**
 * Where a loaded model's thread count came from: the spec, the `threads` setting, a measurement made for this load,
 * the calibration cache, or the fallback (half the physical cores) when measuring failed.
 */
export type ThreadSource = 'spec' | 'setting' | 'measured' | 'cached' | 'fallback';

/** One loaded (or loading) model, as `localModels.status` lists it. */
export interface LoadedModelStatus {
  /** Stable for a file and its load settings; `localModels.unload` takes it. */
  id: string;
  path: string;
  file_name: string;
  state: 'loading' | 'ready' | 'unloading';
  /** Load progress, 0..1. */
  progress: number;
  /** What it was loaded with: requested settings, and the resolved numbers once loaded. */
  settings: {
    gpu_layers: 'auto' | 'max' | number;
    context_size: 'auto' | number;
    threads: 'auto' | number;
    batch_size: 'auto' | number;
    flash_attention: 'auto' | boolean;
    parallel: number;
  };
  /**
   * Resolved once loaded: layers on the GPU, tokens per sequence, batch size, flash attention (`auto`: llama.cpp
   * decides), and the CPU threads in use (with how they were chosen).
   */
  resolved: {
    gpu_layers: number;
    context_size: number;
    batch_size: number;
    flash_attention: 'auto' | boolean;
    threads: number;
    threads_from: ThreadSource;
  } | null;
  /** Estimated memory use. */
  memory: { ram_bytes: number; vram_bytes: number };
  /** Generations running now. */
  active_generations: number;
  /** Generations waiting for a free sequence. */
  waiting_generations: number;
  /** Milliseconds since the epoch. */
  loaded_at: number | null;
  last_used_at: number | null;
  /** When it will be unloaded if nobody uses it (milliseconds since the epoch); null while in use or never. */
  unload_at: number | null;
}

/** GPU and memory of this machine, as node-llama-cpp sees them. */
export interface GpuInfo {
  /** The compute backend node-llama-cpp picked. */
  backend: 'cuda' | 'vulkan' | 'metal' | 'cpu';
  /** GPU device names (empty on the CPU). */
  devices: string[];
  /** Whether model layers can be offloaded to a GPU. */
  supports_gpu_offloading: boolean;
  /** Bytes; null on the CPU backend. */
  vram: { total_bytes: number; used_bytes: number; free_bytes: number } | null;
  ram: { total_bytes: number; free_bytes: number };
  /**
   * Cores this process may use (CPU affinity applied), and the thread count used where `threads: "auto"` could not
   * be measured.
   */
  cpu: { physical_cores: number; logical_cores: number; auto_threads: number };
  /** How `threads: "auto"` is resolved: the user's setting, and what was measured on this machine and build. */
  threads: {
    /** The `threads` setting: `auto` (measure) or a count every model without a spec count uses. */
    setting: 'auto' | number;
    /** The thread count measured fastest per model size class on this machine with this llama.cpp build. */
    calibrations: ThreadCalibration[];
    /** The file calibrations are cached in; null when they last for this process only. */
    file: string | null;
  };
  /** The llama.cpp release node-llama-cpp's binary was built from. */
  llama_cpp_release: string;
  /** `prebuilt` or `localBuild`. */
  build: string;
}

/** A context sequence lent to one generation; `release()` gives it back (once). */
export interface SequenceLease {
  readonly model: LlamaModel;
  readonly sequence: LlamaContextSequence;
  /** Tokens the sequence holds. */
  readonly contextSize: number;
  /** Aborts when the model is being unloaded: the generation should stop. */
  readonly signal: AbortSignal;
  /** The chat wrapper for a template setting (made once per loaded model); throws `invalid-spec`. */
  chatWrapper(setting: ChatTemplateSetting): ChatWrapper;
  release(): void;
}

interface Waiter {
  resolve(sequence: LlamaContextSequence): void;
  reject(error: unknown): void;
}

/** The id `status()` gives the model loaded under a {@link loadKey}: short, and without the file's path. */
function loadedModelIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** The id the model for `path` loaded with `settings` has (or will have) in {@link LocalModelRuntime.status}. */
export function loadedModelId(path: string, settings: LoadSettings): string {
  return loadedModelIdOf(loadKey(resolve(path), settings));
}

class LoadedEntry {
  readonly id: string;
  readonly fileName: string;
  state: 'loading' | 'ready' | 'unloading' = 'loading';
  progress = 0;
  phase: LoadProgress['phase'] = 'load';
  readonly progressListeners = new Set<(progress: LoadProgress) => void>();
  ready: Promise<void> = Promise.resolve();
  /** Callers waiting for the load; when all gave up, the load is cancelled. */
  interest = 0;
  readonly loadController = new AbortController();
  readonly unloadController = new AbortController();
  model: LlamaModel | undefined;
  context: LlamaContext | undefined;
  readonly freeSequences: LlamaContextSequence[] = [];
  readonly waiters: Waiter[] = [];
  /** Leases out plus callers waiting for one; the idle timer runs only at 0. */
  users = 0;
  onUnused: (() => void) | undefined;
  memory = { ram: 0, vram: 0 };
  resolved: LoadedModelStatus['resolved'] = null;
  loadedAt: number | null = null;
  lastUsedAt: number | null = null;
  unloadAt: number | null = null;
  idleTimer: NodeJS.Timeout | undefined;
  unloading: Promise<void> | undefined;
  readonly wrappers = new Map<string, ChatWrapper>();
  /** The GGUF file's size in bytes (its model size class for thread calibration). */
  fileBytes = 0;

  constructor(
    readonly key: string,
    readonly path: string,
    readonly settings: LoadSettings,
  ) {
    this.id = loadedModelIdOf(key);
    this.fileName = basename(path);
  }

  report(progress: LoadProgress): void {
    // node-llama-cpp delivers load progress from a native thread, sometimes after loadModel has resolved: what comes
    // late (an earlier fraction, or the load phase once the context phase began) is dropped, and so is a repeat.
    if (progress.fraction < this.progress || (progress.phase === 'load' && this.phase === 'context')) return;
    if (progress.fraction === this.progress && progress.phase === this.phase) return;
    this.progress = progress.fraction;
    this.phase = progress.phase;
    for (const listener of this.progressListeners) listener(progress);
  }

  get leased(): number {
    return this.users - this.waiters.length;
  }
}

function aborted(message: string): AppError {
  return new AppError('aborted', message);
}

function isAbort(error: unknown): boolean {
  return (
    (error instanceof AppError && error.code === 'aborted') ||
    (error instanceof Error && (error.name === 'AbortError' || error.name === 'DisposedError'))
  );
}

/**
 * Loads GGUF models with node-llama-cpp and keeps them: one loaded model per file and load settings, shared by every
 * chat that uses them, each generation on its own context sequence (or waiting in line for one). Models are unloaded
 * on request, after {@link LocalModelRuntimeOptions.idleUnloadMs}, when memory is needed for another, and on
 * `dispose()`.
 */
export class LocalModelRuntime {
  readonly log = new LlamaLog();
  private readonly entries = new Map<string, LoadedEntry>();
  private readonly leaving = new Set<LoadedEntry>();
  private llamaPromise: Promise<Llama> | undefined;
  private readonly calibrator: ThreadCalibrator;
  private nodeLlamaCpp: NodeLlamaCppModule | undefined;
  /** Loads node-llama-cpp rejected; see `dispose`. */
  private failedLoads = 0;
  private disposed = false;

  constructor(readonly options: LocalModelRuntimeOptions = {}) {
    this.calibrator = options.threadCalibrator ?? new ThreadCalibrator();
  }

  /** node-llama-cpp itself (loaded on first use). */
  module(): Promise<NodeLlamaCppModule> {
    return loadNodeLlamaCpp();
  }

  /** The Llama instance (made on first use: binary, GPU detection). */
  getLlama(): Promise<Llama> {
    if (this.options.llama !== undefined) return Promise.resolve(this.options.llama);
    this.llamaPromise ??= (async () => {
      const nl = await this.module();
      try {
        return await nl.getLlama({
          gpu: this.options.gpu ?? 'auto',
          // Never compile llama.cpp at run time (it needs cmake and a download): the prebuilt binaries or nothing.
          build: 'never',
          skipDownload: true,
          progressLogs: false,
          logLevel: nl.LlamaLogLevel.warn,
          logger: (level, message) => {
            this.log.add(level, message);
            // Counted here too: node-llama-cpp's memory estimates load the model in a simulator, which can fail.
            if (loadFailureLinePattern.test(message)) this.failedLoads += 1;
          },
        });
      } catch (error) {
        this.llamaPromise = undefined;
        const reason = error instanceof Error ? error.message : String(error);
        throw new AppError(
          'model-load',
          `node-llama-cpp has no working llama.cpp binary for this machine (${reason}).`,
          {
            cause: reason,
          },
        );
      }
    })();
    return this.llamaPromise;
  }

  private checkOpen(): void {
    if (this.disposed) throw new AppError('aborted', 'The local-model runtime is shut down.');
  }

  /** What a file needs with given settings on this machine, before loading it. */
  async estimate(
    insights: GgufInsights,
    settings: Pick<LoadSettings, 'gpuLayers' | 'contextSize' | 'parallel' | 'flashAttention' | 'batchSize'>,
  ): Promise<ResolvedLoad> {
    const llama = await this.getLlama();
    const totalLayers = insights.totalLayers;
    const contextSize =
      settings.contextSize === 'auto'
        ? Math.min(insights.trainContextSize ?? autoContextSizeCap, autoContextSizeCap)
        : settings.contextSize;
    let gpuLayers: number;
    if (llama.gpu === false || !llama.supportsGpuOffloading) gpuLayers = 0;
    else if (settings.gpuLayers === 'max') gpuLayers = totalLayers;
    else if (settings.gpuLayers === 'auto') {
      // The same request `loadEntry` makes, so that the estimate shows the layers the load will pick.
      gpuLayers = (
        await insights.configurationResolver.resolveModelGpuLayersV2(autoGpuLayers(contextSize, settings.parallel), {
          defaultContextFlashAttention: settings.flashAttention,
        })
      ).gpuLayers;
    } else gpuLayers = Math.min(settings.gpuLayers, totalLayers);
    const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers });
    const context = await insights.estimateContextResourceRequirementsV2({
      contextSize,
      modelGpuLayers: gpuLayers,
      sequences: settings.parallel,
      flashAttention: settings.flashAttention,
      ...(settings.batchSize === 'auto' ? {} : { batchSize: settings.batchSize }),
    });
    return {
      gpu_layers: gpuLayers,
      total_layers: totalLayers,
      context_size: contextSize,
      memory: {
        model_ram_bytes: model.cpuRam,
        context_ram_bytes: context.cpuRam,
        model_vram_bytes: model.gpuVram,
        context_vram_bytes: context.gpuVram,
        ram_bytes: model.cpuRam + context.cpuRam,
        vram_bytes: model.gpuVram + context.gpuVram,
      },
    };
  }

  /**
   * Loads a file with settings, or finds it loaded; resolves when it is ready. Aborting `signal` stops waiting
   * (and cancels the load when nobody else waits for it). Throws `not-found`, `model-load`, `out-of-memory`,
   * `aborted`.
   */
  async load(
    path: string,
    settings: LoadSettings,
    options: { onProgress?: (progress: LoadProgress) => void; signal?: AbortSignal } = {},
  ): Promise<LoadedModelStatus> {
    const entry = await this.ready(resolve(path), settings, options);
    return this.describe(entry);
  }

  private async ready(
    path: string,
    settings: LoadSettings,
    options: { onProgress?: (progress: LoadProgress) => void; signal?: AbortSignal },
  ): Promise<LoadedEntry> {
    this.checkOpen();
    const key = loadKey(path, settings);
    let entry = this.entries.get(key);
    // A load cancelled a moment ago may not have left the map yet; it must not be waited for.
    if (entry?.loadController.signal.aborted === true) {
      this.entries.delete(key);
      entry = undefined;
    }
    if (entry === undefined) {
      const created = new LoadedEntry(key, path, settings);
      this.entries.set(key, created);
      created.ready = this.loadEntry(created).catch(async (error: unknown) => {
        if (this.entries.get(key) === created) this.entries.delete(key);
        await this.disposeHandles(created);
        throw error;
      });
      // Nobody may be waiting any more when it fails; the waiters get the error themselves.
      created.ready.catch(() => undefined);
      entry = created;
    }
    if (entry.state === 'ready') return entry;
    const { onProgress, signal } = options;
    if (onProgress !== undefined) {
      entry.progressListeners.add(onProgress);
      onProgress({ phase: entry.phase, fraction: entry.progress });
    }
    entry.interest += 1;
    const waiting = entry;
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(aborted(`Loading ${waiting.fileName} was cancelled.`));
        if (signal?.aborted === true) onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.ready.then(resolve, reject).finally(() => signal?.removeEventListener('abort', onAbort));
      });
      return waiting;
    } finally {
      waiting.interest -= 1;
      if (onProgress !== undefined) waiting.progressListeners.delete(onProgress);
      if (waiting.interest === 0 && waiting.state === 'loading') waiting.loadController.abort();
    }
  }

  private async loadEntry(entry: LoadedEntry): Promise<void> {
    const nl = await this.module();
    this.nodeLlamaCpp = nl;
    const llama = await this.getLlama();
    const { path, settings } = entry;
    // Checked before llama.cpp sees the file: the messages are better, and a failed loadModel in node-llama-cpp
    // 3.21.1 leaves the Llama instance unable to dispose (see `dispose`).
    const size = await checkGgufMagic(path);
    entry.fileBytes = size;
    const info = await readGgufHeader(nl, path);
    checkComplete(nl, path, info, size);
    const insights = await nl.GgufInsights.from(info, llama);
    checkArchitecture(path, insights, llama);
    const estimate = await this.estimate(insights, settings);
    entry.memory = { ram: estimate.memory.ram_bytes, vram: estimate.memory.vram_bytes };
    await this.makeRoom(entry, estimate);
    if (entry.loadController.signal.aborted) throw aborted(`Loading ${entry.fileName} was cancelled.`);

    const useGpu = llama.gpu !== false && llama.supportsGpuOffloading;
    // With `auto` on a GPU, each out-of-memory failure retries with half the layers, down to none.
    const plan: LlamaModelOptions['gpuLayers'][] =
      settings.gpuLayers === 'auto' ? [autoGpuLayers(estimate.context_size, settings.parallel)] : [settings.gpuLayers];
    if (settings.gpuLayers === 'auto' && useGpu) {
      for (const layers of [Math.floor(estimate.gpu_layers / 2), Math.floor(estimate.gpu_layers / 4), 0]) {
        if (!plan.includes(layers)) plan.push(layers);
      }
    }
    let lastMemoryError: unknown;
    for (let index = 0; index < plan.length;) {
      try {
        await this.loadWith(nl, llama, entry, plan[index], insights);
        lastMemoryError = undefined;
        break;
      } catch (error) {
        await this.disposeHandles(entry);
        const outOfMemory =
          error instanceof nl.InsufficientMemoryError || (error instanceof AppError && error.code === 'out-of-memory');
        if (!outOfMemory) throw error;
        lastMemoryError = error;
        // An idle model unloaded may be all it takes: then the same number of layers is tried again.
        if (this.evictOneIdle(entry)) await this.settleLeaving();
        else index += 1;
      }
    }
    if (lastMemoryError !== undefined) throw await this.outOfMemory(entry, estimate, lastMemoryError);
    // Cancelled or unloaded while the last steps ran (the context, the memory estimates): the caller of `ready`
    // disposes what was made. Marked ready instead, it would stay loaded with nobody waiting, or overwrite
    // `unloading`, and a later load of the same key would leave it behind, never disposed.
    if (entry.loadController.signal.aborted) throw aborted(`Loading ${entry.fileName} was cancelled.`);
    entry.state = 'ready';
    entry.loadedAt = Date.now();
    entry.report({ phase: 'context', fraction: 1 });
    this.scheduleIdleUnload(entry);
  }

  /** The thread count a load uses: the spec's, else the setting's, else the one measured for its size class. */
  private async threadsFor(
    entry: LoadedEntry,
    llama: Llama,
    model: LlamaModel,
  ): Promise<{ threads: number; source: ThreadSource }> {
    if (entry.settings.threads !== 'auto') return { threads: entry.settings.threads, source: 'spec' };
    const setting = (await this.options.threadsSetting?.()) ?? 'auto';
    if (setting !== 'auto') return { threads: setting, source: 'setting' };
    try {
      const choice = await this.calibrator.threadsFor(
        model,
        {
          fileBytes: entry.fileBytes,
          fileName: entry.fileName,
          llamaCpp: llamaBuildOf(llama),
          offload: model.gpuLayers > 0 ? 'gpu' : 'cpu',
        },
        (message) => this.warn('Thread calibration', new Error(message)),
        entry.loadController.signal,
      );
      return choice;
    } catch (error) {
      if (entry.loadController.signal.aborted) throw aborted(`Loading ${entry.fileName} was cancelled.`);
      const threads = autoThreadCount();
      this.warn(`Measuring the best thread count on ${entry.fileName} failed; using ${threads}`, error);
      return { threads, source: 'fallback' };
    }
  }

  private async loadWith(
    nl: NodeLlamaCppModule,
    llama: Llama,
    entry: LoadedEntry,
    gpuLayers: LlamaModelOptions['gpuLayers'],
    insights: GgufInsights,
  ): Promise<void> {
    const { settings } = entry;
    const startedAt = performance.now();
    const signal = entry.loadController.signal;
    try {
      entry.model = await llama.loadModel({
        modelPath: entry.path,
        gpuLayers,
        defaultContextFlashAttention: settings.flashAttention,
        loadSignal: signal,
        onLoadProgress: (fraction) => entry.report({ phase: 'load', fraction: fraction * 0.9 }),
      });
    } catch (error) {
      if (signal.aborted) throw aborted(`Loading ${entry.fileName} was cancelled.`);
      if (error instanceof nl.InsufficientMemoryError) throw error;
      this.failedLoads += 1;
      await this.log.waitFor(loadFailureLinePattern, startedAt, 500);
      throw describeLoadFailure(error, this.log.since(startedAt), entry.path);
    }
    // Lets progress callbacks still queued from the native thread arrive before the next phase is reported.
    await new Promise((resolve) => setImmediate(resolve));
    // node-llama-cpp's own progress need not reach 1; whoever shows it must see the load phase end.
    entry.report({ phase: 'load', fraction: 0.9 });
    entry.report({ phase: 'context', fraction: 0.9 });
    const threads = await this.threadsFor(entry, llama, entry.model);
    const contextOptions: LlamaContextOptions = {
      contextSize:
        settings.contextSize === 'auto'
          ? { max: Math.min(insights.trainContextSize ?? autoContextSizeCap, autoContextSizeCap) }
          : settings.contextSize,
      sequences: settings.parallel,
      threads: threads.threads,
      flashAttention: settings.flashAttention,
      createSignal: signal,
      ...(settings.batchSize === 'auto' ? {} : { batchSize: settings.batchSize }),
    };
    try {
      entry.context = await entry.model.createContext(contextOptions);
    } catch (error) {
      if (signal.aborted) throw aborted(`Loading ${entry.fileName} was cancelled.`);
      if (error instanceof nl.InsufficientMemoryError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new AppError('model-load', `Could not create a context for ${entry.path}: ${reason}`, { path: entry.path });
    }
    for (let index = 0; index < settings.parallel; index += 1) entry.freeSequences.push(entry.context.getSequence());
    const model = entry.model;
    const context = entry.context;
    entry.resolved = {
      gpu_layers: model.gpuLayers,
      context_size: context.contextSize,
      batch_size: context.batchSize,
      flash_attention: context.flashAttention,
      threads: threads.threads,
      threads_from: threads.source,
    };
    try {
      const modelNeeds = await insights.estimateModelResourceRequirementsV2({
        gpuLayers: model.gpuLayers,
        useMmap: model.useMmap,
      });
      const contextNeeds = await insights.estimateContextResourceRequirementsV2({
        contextSize: context.contextSize,
        modelGpuLayers: model.gpuLayers,
        sequences: settings.parallel,
        batchSize: context.batchSize,
        flashAttention: context.flashAttention,
      });
      entry.memory = { ram: modelNeeds.cpuRam + contextNeeds.cpuRam, vram: modelNeeds.gpuVram + contextNeeds.gpuVram };
    } catch {
      // The estimate made before loading stays.
    }
  }

  private async outOfMemory(entry: LoadedEntry, estimate: ResolvedLoad, cause: unknown): Promise<AppError> {
    const llama = await this.getLlama();
    const ram = await llama.getRamState();
    const vram = llama.gpu === false ? undefined : await llama.getVramState();
    const ramCap = llama.getRamCap();
    const memory = estimate.memory;
    const onGpu = vram !== undefined && memory.vram_bytes > 0;
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new AppError(
      'out-of-memory',
      `Not enough memory to load ${entry.fileName}: it needs about ${formatBytes(memory.ram_bytes)} of RAM` +
        (onGpu ? ` and ${formatBytes(memory.vram_bytes)} of VRAM` : '') +
        ` (weights ${formatBytes(memory.model_ram_bytes + memory.model_vram_bytes)}, context of ` +
        `${estimate.context_size} tokens × ${entry.settings.parallel} ${formatBytes(memory.context_ram_bytes + memory.context_vram_bytes)}), ` +
        `but only ${formatBytes(ram.free)} of RAM` +
        (vram === undefined ? '' : ` and ${formatBytes(vram.free)} of VRAM`) +
        ' is free' +
        (ramCap === null ? '' : ` (and node-llama-cpp's RAM cap is ${formatBytes(ramCap)})`) +
        ' — unload other models, lower `context_size`' +
        (onGpu ? ' or `gpu_layers`' : '') +
        ', or use a smaller quantization.',
      {
        path: entry.path,
        needed_ram_bytes: memory.ram_bytes,
        needed_vram_bytes: memory.vram_bytes,
        free_ram_bytes: ram.free,
        ...(vram === undefined ? {} : { free_vram_bytes: vram.free }),
        llama_cpp: reason,
      },
    );
  }

  /** Bytes the other loaded models take, by the estimates made when they loaded. */
  private usedByOthers(entry: LoadedEntry): number {
    let used = 0;
    for (const other of this.entries.values()) if (other !== entry) used += other.memory.ram + other.memory.vram;
    return used;
  }

  /**
   * Unloads the model nobody is using that was used (or, never used, loaded) longest ago; false when there is none.
   * A model just loaded for a chat that has not started yet must not go before one idle for an hour.
   */
  private evictOneIdle(except: LoadedEntry): boolean {
    let oldest: LoadedEntry | undefined;
    const lastActive = (entry: LoadedEntry): number => entry.lastUsedAt ?? entry.loadedAt ?? 0;
    for (const candidate of this.entries.values()) {
      if (candidate === except || candidate.state !== 'ready' || candidate.users > 0) continue;
      if (oldest === undefined || lastActive(candidate) < lastActive(oldest)) oldest = candidate;
    }
    if (oldest === undefined) return false;
    // unloadEntry does not reject (it logs a failed dispose); the catch is for what it cannot foresee.
    void this.unloadEntry(oldest).catch((error: unknown) => this.warn(`Unloading ${oldest.path} failed`, error));
    return true;
  }

  /**
   * Frees memory for a model about to load: idle models go (least recently used first) while the memory limit or
   * free RAM/VRAM is short. Throws `out-of-memory` when the limit cannot be met even so.
   */
  private async makeRoom(entry: LoadedEntry, estimate: ResolvedLoad): Promise<void> {
    const llama = await this.getLlama();
    const needed = estimate.memory.ram_bytes + estimate.memory.vram_bytes;
    const limit = this.options.memoryLimitBytes;
    if (limit !== undefined) {
      while (this.usedByOthers(entry) + needed > limit && this.evictOneIdle(entry)) await this.settleLeaving();
      const used = this.usedByOthers(entry);
      if (used + needed > limit) {
        throw new AppError(
          'out-of-memory',
          `Not enough memory to load ${entry.fileName}: it needs about ${formatBytes(needed)}, but the memory limit ` +
            `of ${formatBytes(limit)} leaves ${formatBytes(Math.max(0, limit - used))}` +
            (used > 0 ? ` beside the models in use (${formatBytes(used)})` : '') +
            ' — unload other models, lower `context_size`, raise the memory limit, or use a smaller quantization.',
          { path: entry.path, needed_bytes: needed, limit_bytes: limit, used_bytes: used },
        );
      }
    }
    const short = async (): Promise<boolean> => {
      const ram = await llama.getRamState();
      if (estimate.memory.ram_bytes > ram.free) return true;
      if (estimate.memory.vram_bytes === 0) return false;
      return estimate.memory.vram_bytes > (await llama.getVramState()).free;
    };
    while ((await short()) && this.evictOneIdle(entry)) await this.settleLeaving();
  }

  private async settleLeaving(): Promise<void> {
    await Promise.all([...this.leaving].map((entry) => entry.unloading));
  }

  /**
   * Lends a context sequence of the model for `path` and `settings` (loading it first if needed) to one
   * generation; waits in line while all its sequences are busy. Aborting `signal` stops the wait.
   */
  async acquire(
    path: string,
    settings: LoadSettings,
    signal: AbortSignal,
    onProgress?: (progress: LoadProgress) => void,
  ): Promise<SequenceLease> {
    const readyOptions = { signal, ...(onProgress === undefined ? {} : { onProgress }) };
    let entry = await this.ready(resolve(path), settings, readyOptions);
    // Between `ready` resolving and this line, another load can evict the model to make room (or a person unload
    // it). This caller held no part of it yet, so it loads it again rather than failing the chat; a few times at most,
    // so that a model unloaded over and over ends the chat rather than looping.
    for (let attempt = 1; entry.state !== 'ready'; attempt += 1) {
      if (attempt >= 3 || signal.aborted) throw aborted(`${entry.fileName} was unloaded.`);
      entry = await this.ready(resolve(path), settings, readyOptions);
    }
    entry.users += 1;
    this.cancelIdleUnload(entry);
    let sequence: LlamaContextSequence;
    try {
      sequence = entry.freeSequences.pop() ?? (await this.waitForSequence(entry, signal));
    } catch (error) {
      entry.users -= 1;
      this.afterUse(entry);
      throw error;
    }
    entry.lastUsedAt = Date.now();
    const model = entry.model!;
    const context = entry.context!;
    let released = false;
    return {
      model,
      sequence,
      contextSize: context.contextSize,
      signal: entry.unloadController.signal,
      chatWrapper: (setting) => this.chatWrapperFor(entry, setting),
      release: () => {
        if (released) return;
        released = true;
        entry.lastUsedAt = Date.now();
        entry.users -= 1;
        const next = entry.waiters.shift();
        if (next !== undefined && entry.state === 'ready') next.resolve(sequence);
        else entry.freeSequences.push(sequence);
        this.afterUse(entry);
      },
    };
  }

  /**
   * The loaded model, its context size and chat wrapper, without borrowing a sequence (so it never waits for a running
   * chat): for counting a prompt's tokens before it is sent. Loads the model when it is not loaded.
   */
  async promptTools(
    path: string,
    settings: LoadSettings,
    setting: ChatTemplateSetting,
    signal?: AbortSignal,
  ): Promise<{ model: LlamaModel; contextSize: number; chatWrapper: ChatWrapper }> {
    const entry = await this.ready(resolve(path), settings, signal === undefined ? {} : { signal });
    if (entry.model === undefined || entry.context === undefined) throw aborted(`${entry.fileName} was unloaded.`);
    return {
      model: entry.model,
      contextSize: entry.context.contextSize,
      chatWrapper: this.chatWrapperFor(entry, setting),
    };
  }

  /** Makes (and keeps) the chat wrapper of a loaded model now, so a bad template fails early; throws `invalid-spec`. */
  checkChatTemplate(path: string, settings: LoadSettings, setting: ChatTemplateSetting): void {
    const entry = this.entries.get(loadKey(resolve(path), settings));
    if (entry?.state === 'ready') this.chatWrapperFor(entry, setting);
  }

  private waitForSequence(entry: LoadedEntry, signal: AbortSignal): Promise<LlamaContextSequence> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (sequence) => {
          signal.removeEventListener('abort', onAbort);
          resolve(sequence);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const onAbort = (): void => {
        const index = entry.waiters.indexOf(waiter);
        if (index !== -1) entry.waiters.splice(index, 1);
        reject(aborted('The generation was stopped while it waited for the model.'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      entry.waiters.push(waiter);
    });
  }

  private afterUse(entry: LoadedEntry): void {
    if (entry.users > 0) return;
    entry.onUnused?.();
    this.scheduleIdleUnload(entry);
  }

  private chatWrapperFor(entry: LoadedEntry, setting: ChatTemplateSetting): ChatWrapper {
    const cacheKey = JSON.stringify(setting);
    const cached = entry.wrappers.get(cacheKey);
    if (cached !== undefined) return cached;
    const wrapper = makeChatWrapper(this.moduleNow(), entry.model!, setting);
    entry.wrappers.set(cacheKey, wrapper);
    return wrapper;
  }

  /** The module, which is loaded by the time a model is (used where a synchronous answer is needed). */
  private moduleNow(): NodeLlamaCppModule {
    if (this.nodeLlamaCpp === undefined) throw new AppError('internal', 'node-llama-cpp is not loaded yet.');
    return this.nodeLlamaCpp;
  }

  private scheduleIdleUnload(entry: LoadedEntry): void {
    const idleMs = this.options.idleUnloadMs ?? defaultIdleUnloadMs;
    this.cancelIdleUnload(entry);
    if (idleMs <= 0 || entry.users > 0 || entry.state !== 'ready') return;
    entry.unloadAt = Date.now() + idleMs;
    entry.idleTimer = setTimeout(
      () => void this.unloadEntry(entry).catch((error: unknown) => this.warn(`Unloading ${entry.path} failed`, error)),
      idleMs,
    );
    // An idle model must not keep a CLI process alive.
    entry.idleTimer.unref();
  }

  private cancelIdleUnload(entry: LoadedEntry): void {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    entry.unloadAt = null;
  }

  /** Unloads one model (by id or path) or, with no target, all; running generations on them end with `abort`. */
  async unload(target: { id?: string; path?: string } = {}): Promise<string[]> {
    const path = target.path === undefined ? undefined : resolve(target.path);
    const chosen = [...this.entries.values()].filter(
      (entry) => (target.id === undefined || entry.id === target.id) && (path === undefined || entry.path === path),
    );
    if ((target.id !== undefined || target.path !== undefined) && chosen.length === 0) {
      throw new AppError(
        'not-found',
        `No loaded model ${target.id ?? target.path ?? ''} — see localModels.status for what is loaded.`,
        {
          ...target,
        },
      );
    }
    await Promise.all(chosen.map((entry) => this.unloadEntry(entry)));
    return chosen.map((entry) => entry.id);
  }

  /** Never rejects: a model that cannot be freed is reported, and leaves the list all the same. */
  private unloadEntry(entry: LoadedEntry): Promise<void> {
    entry.unloading ??= (async () => {
      if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
      this.leaving.add(entry);
      this.cancelIdleUnload(entry);
      entry.state = 'unloading';
      entry.loadController.abort();
      entry.unloadController.abort();
      for (const waiter of entry.waiters.splice(0)) waiter.reject(aborted(`${entry.fileName} was unloaded.`));
      try {
        await entry.ready.catch(() => undefined);
        if (entry.users > 0) {
          // Generations see the unload signal and end within a token or two; the timeout is for a stuck one.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.options.disposeTimeoutMs ?? 5000);
            entry.onUnused = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        await this.disposeHandles(entry);
      } finally {
        // Left in `leaving`, it would stay in status() for good, and every later load waits for (settleLeaving) it.
        this.leaving.delete(entry);
      }
    })();
    return entry.unloading;
  }

  /**
   * Disposes a model's context and weights. Never rejects: a failed dispose is reported (its native memory may be
   * lost until the process ends), because the callers are cleaning up after something else — an unload, a failed or
   * cancelled load — that must not fail with it.
   */
  private async disposeHandles(entry: LoadedEntry): Promise<void> {
    const context = entry.context;
    const model = entry.model;
    entry.context = undefined;
    entry.model = undefined;
    entry.freeSequences.length = 0;
    entry.wrappers.clear();
    await context?.dispose().catch((error: unknown) => this.warn(`Freeing the context of ${entry.path} failed`, error));
    await model?.dispose().catch((error: unknown) => this.warn(`Freeing ${entry.path} failed`, error));
  }

  /** Reports a failure nobody waits for: in the runtime's log, and as a process warning (stderr, the main log). */
  private warn(what: string, error: unknown): void {
    const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
    // `warn`, not `error`: load failures read the `error` lines logged meanwhile for their reason, and this is none.
    this.log.add('warn', `clemplay: ${message}`);
    process.emitWarning(message, { code: 'CLEMPLAY_LOCAL_MODEL' });
  }

  /** Every loaded and loading model. */
  status(): LoadedModelStatus[] {
    return [...this.entries.values(), ...this.leaving].map((entry) => this.describe(entry));
  }

  private describe(entry: LoadedEntry): LoadedModelStatus {
    const { settings } = entry;
    return {
      id: entry.id,
      path: entry.path,
      file_name: entry.fileName,
      state: entry.state,
      progress: entry.state === 'loading' ? entry.progress : 1,
      settings: {
        gpu_layers: settings.gpuLayers,
        context_size: settings.contextSize,
        threads: settings.threads,
        batch_size: settings.batchSize,
        flash_attention: settings.flashAttention,
        parallel: settings.parallel,
      },
      resolved: entry.resolved,
      memory: { ram_bytes: entry.memory.ram, vram_bytes: entry.memory.vram },
      active_generations: entry.leased,
      waiting_generations: entry.waiters.length,
      loaded_at: entry.loadedAt,
      last_used_at: entry.lastUsedAt,
      unload_at: entry.unloadAt,
    };
  }

  /** The machine's compute backend, GPUs and memory. */
  async gpuInfo(): Promise<GpuInfo> {
    const llama = await this.getLlama();
    const [ram, vram, devices] = await Promise.all([
      llama.getRamState(),
      llama.getVramState(),
      llama.getGpuDeviceNames(),
    ]);
    const physicalCores = physicalCoreCount();
    return {
      backend: llama.gpu === false ? 'cpu' : llama.gpu,
      devices,
      supports_gpu_offloading: llama.supportsGpuOffloading,
      vram: llama.gpu === false ? null : { total_bytes: vram.total, used_bytes: vram.used, free_bytes: vram.free },
      ram: { total_bytes: ram.total, free_bytes: ram.free },
      cpu: {
        physical_cores: physicalCores,
        logical_cores: availableParallelism(),
        auto_threads: autoThreadCount(physicalCores),
      },
      threads: {
        setting: (await this.options.threadsSetting?.()) ?? 'auto',
        calibrations: await this.calibrator.list(llamaBuildOf(llama)),
        file: this.calibrator.file,
      },
      llama_cpp_release: llama.llamaCppRelease.release,
      build: llama.buildType,
    };
  }

  /**
   * Unloads everything and lets go of node-llama-cpp. A Llama instance that saw a failed `loadModel` is not
   * disposed: in node-llama-cpp 3.21.1 the failed model keeps a hold on it and `llama.dispose()` never returns
   * (its native memory goes with the process). Any other dispose is bounded by `disposeTimeoutMs`.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all([...this.entries.values()].map((entry) => this.unloadEntry(entry)));
    await this.settleLeaving();
    if (this.options.llama !== undefined || this.llamaPromise === undefined || this.failedLoads > 0) return;
    const llama = await this.llamaPromise.catch(() => undefined);
    if (llama === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      llama.dispose().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.disposeTimeoutMs ?? 5000);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}

/** The llama.cpp build a thread calibration is valid for: release, binary and compute backend. */
function llamaBuildOf(llama: Llama): string {
  return `${llama.llamaCppRelease.release} ${llama.buildType} ${llama.gpu === false ? 'cpu' : llama.gpu}`;
}

/**
 * What `gpu_layers: auto` asks node-llama-cpp for: as many layers as fit beside the context the model is loaded with
 * (all its sequences), not beside node-llama-cpp's own idea of a context.
 */
function autoGpuLayers(contextSize: number, parallel: number): Exclude<LlamaModelOptions['gpuLayers'], undefined> {
  return { fitContext: { contextSize: contextSize * parallel } };
}

/** Makes the chat wrapper a template setting asks for; throws `invalid-spec` with what is possible. */
export function makeChatWrapper(nl: NodeLlamaCppModule, model: LlamaModel, setting: ChatTemplateSetting): ChatWrapper {
  const jinja = (template: string, keyPath: string): ChatWrapper => {
    try {
      return new nl.JinjaTemplateChatWrapper({ template, tokenizer: model.tokenizer });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new AppError('invalid-spec', `The chat template in \`${keyPath}\` cannot be used: ${reason}`, {
        key_path: keyPath,
      });
    }
  };
  switch (setting.kind) {
    case 'auto':
      return nl.resolveChatWrapper(model);
    case 'file': {
      const template = model.fileInfo.metadata.tokenizer?.chat_template;
      if (typeof template !== 'string') {
        throw new AppError(
          'invalid-spec',
          `${model.filename ?? 'The model'} has no chat template of its own — set \`chat_template\` to "auto", a chat ` +
            'wrapper name (such as "chatML" or "llama3.1"), or a Jinja template.',
          { key_path: 'chat_template' },
        );
      }
      return jinja(template, 'tokenizer.chat_template');
    }
    case 'named': {
      const names: readonly string[] = nl.specializedChatWrapperTypeNames;
      const name = names.find((candidate) => candidate.toLowerCase() === setting.name.toLowerCase());
      if (name === undefined) {
        throw new AppError(
          'invalid-spec',
          `The model spec's \`${setting.keyPath}\` names no chat wrapper node-llama-cpp has: ${JSON.stringify(setting.name)}. ` +
            `Use "auto", "jinja", a Jinja template, or one of: ${names.join(', ')}.`,
          { key_path: setting.keyPath },
        );
      }
      return nl.resolveChatWrapper(model, { type: name as (typeof nl.specializedChatWrapperTypeNames)[number] });
    }
    case 'jinja':
      return jinja(setting.template, setting.keyPath);
  }
}

/** Whether an error means the generation was stopped (not failed). */
export function isAbortError(error: unknown): boolean {
  return isAbort(error);
}
