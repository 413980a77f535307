import { realpath } from 'node:fs/promises';
import { basename, delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { AppError } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { defaultDataDir } from '../paths.js';
import { downloadModelFile, type DownloadProgress, type DownloadResult, findDownloadedModel } from './download.js';
import {
  findModelFiles,
  inspectModelFile,
  type ModelFileDetails,
  type ModelFileSummary,
  readGgufHeader,
  registryEntryForModel,
  summarizeModelFile,
} from './gguf-file.js';
import {
  defaultIdleUnloadMs,
  type GpuInfo,
  type LoadedModelStatus,
  type LoadProgress,
  LocalModelRuntime,
  type LocalModelRuntimeOptions,
  type ResolvedLoad,
} from './runtime.js';
import {
  type ContextSizeSetting,
  type GpuLayersSetting,
  type LlamaSpec,
  type ModelSource,
  readLlamaSpec,
} from './settings.js';
import { isFile } from '../files/file-checks.js';
import { escapeRegExp } from '../../src-shared/regexp.js';

/** Options of {@link createLocalModelService}. */
export interface LocalModelServiceOptions extends LocalModelRuntimeOptions {
  /** Folders scanned for .gguf files; downloads go into the first. At least one. */
  modelsDirs: string[];
  /** Where a relative `model_path` is looked up first (then in each models folder); null: only there; default process.cwd(). */
  cwd?: string | null;
  /** Downloads give up after this long without a byte; default 60000 ms. */
  downloadStallTimeoutMs?: number;
  /** Downloads give up when the server does not answer within this; default 15000 ms. */
  downloadConnectTimeoutMs?: number;
}

/** The models folders and the .gguf files in them. */
export interface ModelList {
  /** Each configured folder, and whether it exists. */
  folders: { path: string; exists: boolean }[];
  models: ModelFileSummary[];
}

/** What to estimate: a file and the settings it would be loaded with (defaults: `auto`, 1 sequence). */
export interface EstimateRequest {
  path: string;
  gpu_layers?: GpuLayersSetting;
  context_size?: ContextSizeSetting;
  parallel?: number;
  flash_attention?: 'auto' | boolean;
}

/** Memory a file needs with the requested settings and with `auto`, against what this machine has free. */
export interface MemoryEstimate {
  path: string;
  file_name: string;
  /** With the requested settings. */
  requested: ResolvedLoad;
  /** With `gpu_layers: auto` and `context_size: auto`: what a spec without settings gets. */
  auto: ResolvedLoad;
  /** Bytes free now; VRAM null on the CPU backend; the memory limit null when none is set. */
  available: {
    ram_free_bytes: number;
    ram_total_bytes: number;
    vram_free_bytes: number | null;
    vram_total_bytes: number | null;
    memory_limit_bytes: number | null;
    /** Taken by models loaded now (idle ones are unloaded when room is needed). */
    loaded_models_bytes: number;
  };
  /** Whether the requested settings fit in free memory (and under the limit) now. */
  fits: boolean;
}

/** One step of `load`: progress, then the loaded model. */
export type LoadEvent =
  | {
      type: 'progress';
      /** `download` (only for `model_uri` / `huggingface_id` not yet on disk), then `load`, then `context`. */
      phase: 'download' | 'load' | 'context';
      /**
       * 0..1. `download`: of the download. `load` and `context`: of the whole load — `load` runs from 0 to 0.9,
       * `context` from 0.9 to 1. The last event of each phase is always sent: `download` ends at 1, `load` at 0.9,
       * `context` at 1 (see {@link endsLoadPhase}).
       */
      fraction: number;
      /** Download phase only. */
      downloaded_bytes?: number;
      total_bytes?: number;
    }
  | { type: 'loaded'; model: LoadedModelStatus };

/**
 * Whether a load event is the last of its phase (download 1, load 0.9, context 1): an event a throttle must let
 * through, or the phase would seem to stop short.
 */
export function endsLoadPhase(event: LoadEvent): boolean {
  if (event.type !== 'progress') return true;
  return event.fraction >= (event.phase === 'load' ? 0.9 : 1);
}

/** What `localModels.status` answers. */
export interface LocalModelsStatus {
  models: LoadedModelStatus[];
  models_dirs: string[];
  /** Milliseconds of disuse before a model is unloaded; 0 never. */
  idle_unload_ms: number;
  memory_limit_bytes: number | null;
}

/** The models folders clemplay uses when no setting names any: `CLEMPLAY_MODELS_DIRS` (path-list), else `<data>/models`. */
export function defaultModelsDirs(
  dataDir: string = defaultDataDir(),
  environment: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  const listed = (environment.CLEMPLAY_MODELS_DIRS ?? '').split(delimiter).filter((entry) => entry.trim() !== '');
  return listed.length > 0 ? listed.map((entry) => resolve(entry)) : [join(dataDir, 'models')];
}

/** A file-name glob (`*` any run, `?` one character) as a case-insensitive regular expression. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${escapeRegExp(glob).replace(/\\\*/g, '.*').replace(/\\\?/g, '.')}$`, 'i');
}

/** A download several callers wait for; see {@link LocalModelService.download}. */
interface SharedDownload {
  readonly promise: Promise<DownloadResult>;
  /** Aborted when the last caller gave up. */
  readonly controller: AbortController;
  readonly listeners: Set<(progress: DownloadProgress) => void>;
  /** The latest progress, for a caller who joins late. */
  readonly latest: { progress?: DownloadProgress };
  /** Callers still waiting. */
  callers: number;
}

/**
 * Local GGUF models: the runtime that loads and serves them, plus the model manager (list, inspect, estimate, GPU,
 * download, registry entries). One per process; `dispose()` on quit.
 */
export class LocalModelService {
  readonly runtime: LocalModelRuntime;
  /** The models folders, first one where downloads go; changed by {@link setModelsDirs}. */
  modelsDirs: readonly string[];
  /** Downloads in flight, by folder and URI: two of one file at once would write the same partial file. */
  private readonly downloads = new Map<string, SharedDownload>();

  constructor(readonly options: LocalModelServiceOptions) {
    this.modelsDirs = LocalModelService.checkedFolders(options.modelsDirs);
    this.runtime = new LocalModelRuntime(options);
  }

  private static checkedFolders(folders: readonly string[]): string[] {
    if (folders.length === 0) throw new AppError('invalid-input', 'At least one models folder is needed.');
    return folders.map((folder) => resolve(folder));
  }

  /** Uses other models folders from now on (loaded models stay loaded; downloads go to the first folder). */
  setModelsDirs(folders: readonly string[]): void {
    this.modelsDirs = LocalModelService.checkedFolders(folders);
  }

  /** Where downloads go. */
  get downloadDir(): string {
    return this.modelsDirs[0]!;
  }

  /**
   * Throws `invalid-input` unless `path` is a file in a models folder: the folder it is in lies inside one once
   * symbolic links are followed. The file itself may be a link to anywhere (the Hugging Face cache's are). The API
   * reads only such files; the CLI reads what the user names. Returns the path, absolute.
   */
  async checkInModelsFolder(path: string): Promise<string> {
    const absolute = resolve(path);
    if (isAbsolute(path)) {
      const parent = await realpath(dirname(absolute)).catch(() => undefined);
      for (const folder of this.modelsDirs) {
        const root = await realpath(folder).catch(() => folder);
        if (parent !== undefined && (parent === root || parent.startsWith(root + sep))) return absolute;
      }
    }
    throw new AppError(
      'invalid-input',
      `${path} is not in a models folder (${this.modelsDirs.join(', ')}); clemplay reads model files there only — ` +
        'add its folder in Settings (models folders).',
      { path },
    );
  }

  /** The .gguf files in the models folders, each with what its header says (or why it cannot be read). */
  async list(): Promise<ModelList> {
    const nl = await this.runtime.module();
    const llama = await this.runtime.getLlama().catch(() => undefined);
    const found = await findModelFiles(this.modelsDirs);
    const models: ModelFileSummary[] = [];
    for (const path of found.files) models.push((await summarizeModelFile(nl, path, llama, true)).summary);
    return { folders: found.folders, models };
  }

  /** One file in depth; throws `not-found` or `model-load`. */
  async inspect(path: string): Promise<ModelFileDetails> {
    const nl = await this.runtime.module();
    const llama = await this.runtime.getLlama().catch(() => undefined);
    return inspectModelFile(nl, resolve(path), llama);
  }

  /** Memory for a file with given settings and with `auto`, before loading it. */
  async estimate(request: EstimateRequest): Promise<MemoryEstimate> {
    const nl = await this.runtime.module();
    const llama = await this.runtime.getLlama();
    const path = resolve(request.path);
    const info = await readGgufHeader(nl, path, 'path');
    const insights = await nl.GgufInsights.from(info, llama);
    const requested = await this.runtime.estimate(insights, {
      gpuLayers: request.gpu_layers ?? 'auto',
      contextSize: request.context_size ?? 'auto',
      parallel: request.parallel ?? 1,
      flashAttention: request.flash_attention ?? 'auto',
      batchSize: 'auto',
    });
    const auto = await this.runtime.estimate(insights, {
      gpuLayers: 'auto',
      contextSize: 'auto',
      parallel: 1,
      flashAttention: 'auto',
      batchSize: 'auto',
    });
    const ram = await llama.getRamState();
    const vram = llama.gpu === false ? undefined : await llama.getVramState();
    const limit = this.options.memoryLimitBytes;
    const models = this.runtime.status();
    const loaded = models.reduce((sum, model) => sum + model.memory.ram_bytes + model.memory.vram_bytes, 0);
    // A copy of this file loaded now is counted once, as the request: what it takes is neither free nor "other".
    const self = models.filter((model) => model.path === path);
    const selfRam = self.reduce((sum, model) => sum + model.memory.ram_bytes, 0);
    const selfVram = self.reduce((sum, model) => sum + model.memory.vram_bytes, 0);
    const total = requested.memory.ram_bytes + requested.memory.vram_bytes;
    const fits =
      requested.memory.ram_bytes <= ram.free + selfRam &&
      (vram === undefined || requested.memory.vram_bytes <= vram.free + selfVram) &&
      (limit === undefined || loaded - selfRam - selfVram + total <= limit);
    return {
      path,
      file_name: basename(path),
      requested,
      auto,
      available: {
        ram_free_bytes: ram.free,
        ram_total_bytes: ram.total,
        vram_free_bytes: vram?.free ?? null,
        vram_total_bytes: vram?.total ?? null,
        memory_limit_bytes: limit ?? null,
        loaded_models_bytes: loaded,
      },
      fits,
    };
  }

  /** The compute backend, GPUs and memory. */
  gpu(): Promise<GpuInfo> {
    return this.runtime.gpuInfo();
  }

  /**
   * Throws `invalid-input` unless `folder` is one of the models folders: the API downloads only there (the CLI's
   * `pull --dir` is the user's own choice and skips this). Returns it resolved.
   */
  checkDownloadFolder(folder: string): string {
    if (!isAbsolute(folder) || !this.modelsDirs.includes(resolve(folder))) {
      throw new AppError(
        'invalid-input',
        `Downloads go into a models folder (${this.modelsDirs.join(', ')}), not ${JSON.stringify(folder)} — add the ` +
          'folder in Settings (models folders) first.',
        { dir: folder },
      );
    }
    return resolve(folder);
  }

  /**
   * Downloads a model URI into `directory` (default: the first models folder) as `fileName` (default: from the
   * URI); see {@link downloadModelFile}.
   * Callers asking for the same URI into the same folder at once share one download, each with its own progress
   * and its own cancel: aborting `signal` ends this caller's wait at once, and the download itself stops (keeping
   * the partial file) only when every caller has given up.
   */
  async download(
    request: { uri: string; directory?: string; fileName?: string },
    options: { onProgress?: (progress: DownloadProgress) => void; signal?: AbortSignal } = {},
  ): Promise<DownloadResult> {
    const nl = await this.runtime.module();
    const directory = resolve(request.directory ?? this.downloadDir);
    const key = JSON.stringify([directory, request.uri, request.fileName ?? null]);
    let shared = this.downloads.get(key);
    // One whose callers all gave up is still letting go of the partial file; the next one starts after it.
    while (shared?.controller.signal.aborted === true) {
      await shared.promise.catch(() => undefined);
      shared = this.downloads.get(key);
    }
    if (shared === undefined) {
      if (options.signal?.aborted === true) {
        throw new AppError('aborted', `The download of ${request.uri} was cancelled.`, { uri: request.uri });
      }
      const controller = new AbortController();
      const listeners = new Set<(progress: DownloadProgress) => void>();
      const latest: SharedDownload['latest'] = {};
      const promise: Promise<DownloadResult> = downloadModelFile(nl, {
        uri: request.uri,
        directory,
        ...(request.fileName === undefined ? {} : { fileName: request.fileName }),
        signal: controller.signal,
        onProgress: (progress) => {
          latest.progress = progress;
          for (const listener of listeners) listener(progress);
        },
        ...(this.options.downloadStallTimeoutMs === undefined
          ? {}
          : { stallTimeoutMs: this.options.downloadStallTimeoutMs }),
        ...(this.options.downloadConnectTimeoutMs === undefined
          ? {}
          : { connectTimeoutMs: this.options.downloadConnectTimeoutMs }),
      }).finally(() => {
        if (this.downloads.get(key)?.promise === promise) this.downloads.delete(key);
      });
      // Callers get the outcome through joinDownload; this only keeps a failure nobody waits for from going unhandled.
      promise.catch(() => undefined);
      shared = { promise, controller, listeners, latest, callers: 0 };
      this.downloads.set(key, shared);
    }
    return joinDownload(shared, request.uri, options);
  }

  /** The `hf:` URI for clemcore's `huggingface_id` + `filename` (a name or a glob like `*Q4_K_M.gguf`). */
  private async huggingFaceUri(source: Extract<ModelSource, { kind: 'huggingface' }>): Promise<string> {
    const { repository, filename } = source;
    if (filename === undefined) return `hf:${repository}`;
    if (!/[*?]/.test(filename)) return `hf:${repository}/${filename}`;
    const nl = await this.runtime.module();
    const quantText = filename
      .replace(/\.gguf$/i, '')
      .replace(/[*?]/g, '')
      .replace(/^[._-]+|[._-]+$/g, '');
    const quant = nl.ggufFileQuantNames.find((name) => name.toLowerCase() === quantText.toLowerCase());
    if (quant === undefined) {
      throw new AppError(
        'invalid-spec',
        `The model spec's \`filename\` glob ${JSON.stringify(filename)} needs the repository's file list to resolve, ` +
          'which clemplay only does for globs naming a quantization (such as "*Q4_K_M.gguf") — write the exact ' +
          `file name, or use \`model_uri\` "hf:${repository}/<file>.gguf".`,
        { key_path: 'model_config.filename' },
      );
    }
    return `hf:${repository}:${quant}`;
  }

  /** A local file for a `huggingface_id` + `filename` glob, when one was downloaded before. */
  private async findHuggingFaceFile(
    source: Extract<ModelSource, { kind: 'huggingface' }>,
  ): Promise<string | undefined> {
    if (source.filename === undefined) return undefined;
    const [user = '', repository = ''] = source.repository.split('/');
    const pattern = globToRegExp(source.filename);
    const modelName = repository.replace(/[-_.]gguf$/i, '').toLowerCase();
    const { files } = await findModelFiles(this.modelsDirs);
    return files.find((file) => {
      const name = basename(file);
      // node-llama-cpp names downloads `hf_<user>_[<repo>_]<file>`; a copy put there by hand carries the model name.
      const fromRepository =
        name.toLowerCase().startsWith(`hf_${user.toLowerCase()}_`) || name.toLowerCase().includes(modelName);
      const bare = name.replace(new RegExp(`^hf_${escapeRegExp(user)}_(${escapeRegExp(repository)}_)?`, 'i'), '');
      return fromRepository && (pattern.test(bare) || pattern.test(name));
    });
  }

  /**
   * The local file a spec's source names: a path (relative ones looked up in the working folder, then in each
   * models folder), or a URI already downloaded, or downloaded now into the first models folder.
   */
  async resolveModelFile(
    source: ModelSource,
    options: { onProgress?: (progress: DownloadProgress) => void; signal?: AbortSignal } = {},
  ): Promise<string> {
    if (source.kind === 'path') {
      const candidates = isAbsolute(source.path)
        ? [source.path]
        : [
            ...(this.options.cwd === null ? [] : [resolve(this.options.cwd ?? process.cwd(), source.path)]),
            ...this.modelsDirs.map((folder) => resolve(folder, source.path)),
          ];
      // Normalised, so that one file under two spellings (`/m//a.gguf`, `/m/a.gguf`) is one loaded model.
      for (const candidate of candidates) if (await isFile(candidate)) return resolve(candidate);
      throw new AppError(
        'not-found',
        `No model file ${JSON.stringify(source.path)}: looked at ${candidates.join(', ')} — check \`${source.keyPath}\`` +
          (isAbsolute(source.path) ? '.' : ', or put the file in a models folder.'),
        { key_path: source.keyPath, looked_at: candidates },
      );
    }
    const nl = await this.runtime.module();
    if (source.kind === 'huggingface') {
      const local = await this.findHuggingFaceFile(source);
      if (local !== undefined) return local;
    }
    const uri = source.kind === 'uri' ? source.uri : await this.huggingFaceUri(source);
    for (const folder of this.modelsDirs) {
      const found = await findDownloadedModel(nl, uri, folder);
      if (found !== undefined) return found;
    }
    return (await this.download({ uri }, options)).path;
  }

  /** The weights and load settings of a llamacpp spec, the file downloaded if it has to be. */
  async prepare(
    spec: JsonObject,
    options: { onProgress?: (progress: DownloadProgress) => void; signal?: AbortSignal } = {},
  ): Promise<{ path: string; spec: LlamaSpec }> {
    const parsed = readLlamaSpec(spec);
    const path = await this.resolveModelFile(parsed.source, options);
    return { path, spec: parsed };
  }

  /** Loads the model of a llamacpp spec (downloading it first if needed) and reports each step. */
  async load(
    spec: JsonObject,
    options: { onEvent?: (event: LoadEvent) => void; signal?: AbortSignal } = {},
  ): Promise<LoadedModelStatus> {
    const { onEvent, signal } = options;
    const { path, spec: parsed } = await this.prepare(spec, {
      ...(signal === undefined ? {} : { signal }),
      onProgress: (progress) =>
        onEvent?.({
          type: 'progress',
          phase: 'download',
          fraction: progress.fraction,
          downloaded_bytes: progress.downloaded_bytes,
          total_bytes: progress.total_bytes,
        }),
    });
    const model = await this.runtime.load(path, parsed.load, {
      ...(signal === undefined ? {} : { signal }),
      onProgress: (progress: LoadProgress) =>
        onEvent?.({ type: 'progress', phase: progress.phase, fraction: progress.fraction }),
    });
    onEvent?.({ type: 'loaded', model });
    return model;
  }

  /** Unloads one model (by status id or file path) or all of them; returns the ids unloaded. */
  unload(target: { id?: string; path?: string } = {}): Promise<string[]> {
    return this.runtime.unload(target.path === undefined ? target : { ...target, path: resolve(target.path) });
  }

  status(): LocalModelsStatus {
    return {
      models: this.runtime.status(),
      models_dirs: [...this.modelsDirs],
      idle_unload_ms: this.options.idleUnloadMs ?? defaultIdleUnloadMs,
      memory_limit_bytes: this.options.memoryLimitBytes ?? null,
    };
  }

  /** The registry entry for a file (see {@link registryEntryForModel}); throws when the file cannot be read. */
  async registryEntry(path: string, modelName?: string): Promise<JsonObject> {
    const nl = await this.runtime.module();
    const { summary, info } = await summarizeModelFile(nl, resolve(path));
    if (info === undefined) {
      const problem = summary.problem ?? { code: 'model-load' as const, message: `Cannot read ${summary.path}.` };
      throw new AppError(problem.code, problem.message, problem.details);
    }
    return registryEntryForModel(summary, modelName === undefined ? {} : { modelName });
  }

  /** Unloads every model and lets go of node-llama-cpp. */
  dispose(): Promise<void> {
    return this.runtime.dispose();
  }
}

/** Waits for a shared download as one caller: its own progress, and its own cancel (see `download`). */
function joinDownload(
  shared: SharedDownload,
  uri: string,
  options: { onProgress?: (progress: DownloadProgress) => void; signal?: AbortSignal },
): Promise<DownloadResult> {
  const { onProgress, signal } = options;
  return new Promise<DownloadResult>((resolvePromise, reject) => {
    let settled = false;
    const leave = (): void => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (onProgress !== undefined) shared.listeners.delete(onProgress);
    };
    const onAbort = (): void => {
      if (settled) return;
      shared.callers -= 1;
      if (shared.callers === 0) {
        // The last one out stops the download; its rejection (what was kept, how to resume) answers this caller.
        shared.controller.abort();
        return;
      }
      leave();
      reject(
        new AppError('aborted', `The download of ${uri} was cancelled here; it goes on for another caller.`, { uri }),
      );
    };
    shared.callers += 1;
    if (onProgress !== undefined) {
      shared.listeners.add(onProgress);
      if (shared.latest.progress !== undefined) onProgress(shared.latest.progress);
    }
    shared.promise.then(
      (result) => {
        if (settled) return;
        leave();
        resolvePromise(result);
      },
      (error: unknown) => {
        if (settled) return;
        leave();
        reject(error);
      },
    );
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Makes the local-model service; cheap: node-llama-cpp is loaded only when a model or the GPU is first needed. */
export function createLocalModelService(options: LocalModelServiceOptions): LocalModelService {
  return new LocalModelService(options);
}

let fallbackService: LocalModelService | undefined;

/**
 * The service the llamacpp backend uses when its context brings none (scripts that call the backend directly):
 * the default models folders, and the runtime's defaults.
 */
export function defaultLocalModelService(): LocalModelService {
  fallbackService ??= createLocalModelService({ modelsDirs: defaultModelsDirs() });
  return fallbackService;
}
