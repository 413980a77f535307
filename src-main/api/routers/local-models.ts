import { z } from 'zod';
import { errorCodes } from '../../../src-shared/errors.js';
import { AsyncQueue } from '../../llama/async-queue.js';
import type { DownloadProgress, DownloadResult } from '../../llama/download.js';
import type { ModelFileDetails, ModelFileSummary } from '../../llama/gguf-file.js';
import type { GpuInfo, LoadedModelStatus, ResolvedLoad } from '../../llama/runtime.js';
import {
  endsLoadPhase,
  type LoadEvent,
  type LocalModelsStatus,
  type MemoryEstimate,
  type ModelList,
} from '../../llama/service.js';
import { jsonEqual } from '../../../src-shared/spec/json-tools.js';
import { jsonObject } from '../schemas.js';
import { procedure, router } from '../trpc.js';

const path = z.string().min(1).max(4096);
const bytes = z.number().nonnegative();
const fraction = z.number().min(0).max(1);

const errorShape = z.object({
  code: z.enum(errorCodes),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

const modelFileSummary = z.object({
  path: z.string(),
  file_name: z.string(),
  size_bytes: bytes,
  architecture: z.string().nullable(),
  name: z.string().nullable(),
  parameter_count: z.number().nullable(),
  quantization: z.string().nullable(),
  context_length: z.number().nullable(),
  has_chat_template: z.boolean(),
  supported: z.boolean().nullable(),
  problem: errorShape.nullable(),
}) satisfies z.ZodType<ModelFileSummary>;

const modelList = z.object({
  folders: z.array(z.object({ path: z.string(), exists: z.boolean() })),
  models: z.array(modelFileSummary),
}) satisfies z.ZodType<ModelList>;

const modelFileDetails = modelFileSummary.extend({
  gguf_version: z.number(),
  tensor_count: z.number(),
  layer_count: z.number().nullable(),
  metadata: z.record(z.string(), z.json()),
  tensor_types: z.record(z.string(), z.number()),
  chat_template: z.string().nullable(),
}) satisfies z.ZodType<ModelFileDetails>;

const gpuLayersSetting = z.union([z.enum(['auto', 'max']), z.number().int().min(0).max(100_000)]);
const contextSizeSetting = z.union([z.literal('auto'), z.number().int().min(16).max(10_000_000)]);
const flashAttentionSetting = z.union([z.literal('auto'), z.boolean()]);

const resolvedLoad = z.object({
  gpu_layers: z.number(),
  total_layers: z.number(),
  context_size: z.number(),
  memory: z.object({
    model_ram_bytes: bytes,
    context_ram_bytes: bytes,
    model_vram_bytes: bytes,
    context_vram_bytes: bytes,
    ram_bytes: bytes,
    vram_bytes: bytes,
  }),
}) satisfies z.ZodType<ResolvedLoad>;

const memoryEstimate = z.object({
  path: z.string(),
  file_name: z.string(),
  requested: resolvedLoad,
  auto: resolvedLoad,
  available: z.object({
    ram_free_bytes: bytes,
    ram_total_bytes: bytes,
    vram_free_bytes: bytes.nullable(),
    vram_total_bytes: bytes.nullable(),
    memory_limit_bytes: bytes.nullable(),
    loaded_models_bytes: bytes,
  }),
  fits: z.boolean(),
}) satisfies z.ZodType<MemoryEstimate>;

const downloadProgress = z.object({
  downloaded_bytes: bytes,
  total_bytes: bytes,
  fraction,
  bytes_per_second: bytes,
}) satisfies z.ZodType<DownloadProgress>;

const downloadResult = z.object({
  path: z.string(),
  size_bytes: bytes,
  resumed_from_bytes: bytes,
  already_present: z.boolean(),
}) satisfies z.ZodType<DownloadResult>;

/** One event of `localModels.download`: progress (at most every 100 ms), then `done` with where the file is. */
export type DownloadEvent = ({ type: 'progress' } & DownloadProgress) | ({ type: 'done' } & DownloadResult);

const downloadEvent = z.discriminatedUnion('type', [
  downloadProgress.extend({ type: z.literal('progress') }),
  downloadResult.extend({ type: z.literal('done') }),
]) satisfies z.ZodType<DownloadEvent>;

/** `auto` (measured per machine and model size class) or a thread count. */
const threadsSetting = z.union([z.literal('auto'), z.number()]);

const loadedModelStatus = z.object({
  id: z.string(),
  path: z.string(),
  file_name: z.string(),
  state: z.enum(['loading', 'ready', 'unloading']),
  progress: fraction,
  settings: z.object({
    gpu_layers: gpuLayersSetting,
    context_size: contextSizeSetting,
    threads: threadsSetting,
    batch_size: z.union([z.literal('auto'), z.number()]),
    flash_attention: flashAttentionSetting,
    parallel: z.number(),
  }),
  resolved: z
    .object({
      gpu_layers: z.number(),
      context_size: z.number(),
      batch_size: z.number(),
      flash_attention: flashAttentionSetting,
      threads: z.number(),
      threads_from: z.enum(['spec', 'setting', 'measured', 'cached', 'fallback']),
    })
    .nullable(),
  memory: z.object({ ram_bytes: bytes, vram_bytes: bytes }),
  active_generations: z.number(),
  waiting_generations: z.number(),
  loaded_at: z.number().nullable(),
  last_used_at: z.number().nullable(),
  unload_at: z.number().nullable(),
}) satisfies z.ZodType<LoadedModelStatus>;

const loadEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('progress'),
    phase: z.enum(['download', 'load', 'context']),
    fraction,
    downloaded_bytes: bytes.optional(),
    total_bytes: bytes.optional(),
  }),
  z.object({ type: z.literal('loaded'), model: loadedModelStatus }),
]) satisfies z.ZodType<LoadEvent>;

const localModelsStatus = z.object({
  models: z.array(loadedModelStatus),
  models_dirs: z.array(z.string()),
  idle_unload_ms: z.number(),
  memory_limit_bytes: bytes.nullable(),
}) satisfies z.ZodType<LocalModelsStatus>;

const gpuInfo = z.object({
  backend: z.enum(['cuda', 'vulkan', 'metal', 'cpu']),
  devices: z.array(z.string()),
  supports_gpu_offloading: z.boolean(),
  vram: z.object({ total_bytes: bytes, used_bytes: bytes, free_bytes: bytes }).nullable(),
  ram: z.object({ total_bytes: bytes, free_bytes: bytes }),
  cpu: z.object({ physical_cores: z.number(), logical_cores: z.number(), auto_threads: z.number() }),
  threads: z.object({
    setting: threadsSetting,
    calibrations: z.array(
      z.object({
        size_class: z.string(),
        offload: z.enum(['cpu', 'gpu']),
        threads: z.number(),
        measurements: z.array(z.object({ threads: z.number(), tokens_per_second: z.number() })),
        measured_at: z.string(),
        model_file: z.string(),
      }),
    ),
    file: z.string().nullable(),
  }),
  llama_cpp_release: z.string(),
  build: z.string(),
}) satisfies z.ZodType<GpuInfo>;

/** Milliseconds between two progress events of one subscription; the last one always goes out. */
export const progressIntervalMs = 100;

/**
 * Runs `work` and streams what it reports, then its result; stops it when the client unsubscribes (`signal`).
 * Its failure is the subscription's error.
 */
async function* streamWork<Event>(
  work: (emit: (event: Event) => void, signal: AbortSignal) => Promise<Event>,
  signal: AbortSignal | undefined,
): AsyncGenerator<Event> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  if (signal?.aborted === true) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const queue = new AsyncQueue<Event>();
  const running = work((event) => queue.push(event), controller.signal).then(
    (last) => {
      queue.push(last);
      queue.end();
    },
    (error: unknown) => queue.fail(error),
  );
  try {
    yield* queue;
  } finally {
    controller.abort();
    signal?.removeEventListener('abort', onAbort);
    await running;
  }
}

/** Lets through one progress event per {@link progressIntervalMs}, and every one that completes a phase. */
function throttled<Event>(emit: (event: Event) => void, isFinal: (event: Event) => boolean): (event: Event) => void {
  let last = 0;
  return (event) => {
    const now = performance.now();
    if (isFinal(event) || now - last >= progressIntervalMs) {
      last = now;
      emit(event);
    }
  };
}

export const localModelsRouter = router({
  /** The .gguf files in the models folders, each with architecture, size, quantization, context length. */
  list: procedure.output(modelList).query(({ ctx }) => ctx.services.localModels.list()),

  /** One file of a models folder in depth: every metadata key (long arrays summarised), tensor count and types. */
  inspect: procedure
    .input(z.object({ path }))
    .output(modelFileDetails)
    .query(async ({ ctx, input }) => {
      const service = ctx.services.localModels;
      return service.inspect(await service.checkInModelsFolder(input.path));
    }),

  /**
   * Memory a file of a models folder needs with the given settings (default `auto`) and with `auto`, and whether
   * that fits now.
   */
  estimate: procedure
    .input(
      z.object({
        path,
        gpu_layers: gpuLayersSetting.optional(),
        context_size: contextSizeSetting.optional(),
        parallel: z.number().int().min(1).max(64).optional(),
        flash_attention: flashAttentionSetting.optional(),
      }),
    )
    .output(memoryEstimate)
    .query(async ({ ctx, input }) => {
      const service = ctx.services.localModels;
      return service.estimate({ ...input, path: await service.checkInModelsFolder(input.path) });
    }),

  /**
   * Downloads `hf:user/repo:quant`, `hf:user/repo/file.gguf` or a URL into `dir`, which must be one of the models
   * folders (default: the first), as `file_name` (default: from the URI; it must end in `.gguf`, not start with a
   * dot, hold no path separator): progress events, then `done`. An existing file is never replaced. Unsubscribing
   * cancels and keeps the partial file; the same download later resumes it. Errors: invalid-input, conflict,
   * not-found, auth, network (offline), aborted.
   */
  download: procedure
    .input(
      z.object({
        uri: z.string().min(1).max(4096),
        dir: path.optional(),
        file_name: z.string().min(1).max(255).optional(),
      }),
    )
    .subscription(({ ctx, input, signal }) => {
      const service = ctx.services.localModels;
      return streamWork<DownloadEvent>(async (emit, stop) => {
        const report = throttled<DownloadEvent>(emit, (event) => event.type === 'progress' && event.fraction >= 1);
        const directory = input.dir === undefined ? undefined : service.checkDownloadFolder(input.dir);
        const result = await service.download(
          {
            uri: input.uri,
            ...(directory === undefined ? {} : { directory }),
            ...(input.file_name === undefined ? {} : { fileName: input.file_name }),
          },
          { signal: stop, onProgress: (progress) => report({ type: 'progress', ...progress }) },
        );
        return downloadEvent.parse({ type: 'done', ...result });
      }, signal);
    }),

  /**
   * Loads the model of a llamacpp spec (`model_path` | `model_uri` | `huggingface_id`, plus `gpu_layers`,
   * `context_size`, `threads`, …), downloading it first if needed: progress events, then `loaded`. Unsubscribing
   * cancels a load nobody else waits for. Errors: invalid-spec, not-found, model-load, out-of-memory, network.
   */
  load: procedure.input(z.object({ spec: jsonObject })).subscription(({ ctx, input, signal }) => {
    const service = ctx.services.localModels;
    return streamWork<LoadEvent>(async (emit, stop) => {
      const report = throttled<LoadEvent>(emit, endsLoadPhase);
      const model = await service.load(input.spec, {
        signal: stop,
        onEvent: (event) => {
          if (event.type === 'progress') report(event);
        },
      });
      return loadEvent.parse({ type: 'loaded', model });
    }, signal);
  }),

  /** Unloads one model (by `id` from `status`, or by file `path`) or, with neither, all; running chats end with `abort`. */
  unload: procedure
    .input(z.object({ id: z.string().min(1).max(100).optional(), path: path.optional() }).optional())
    .output(z.object({ unloaded: z.array(z.string()) }))
    .mutation(async ({ ctx, input }) => ({ unloaded: await ctx.services.localModels.unload(input ?? {}) })),

  /** The loaded models (settings, memory, use, when each will be unloaded) and the runtime's settings. */
  status: procedure.output(localModelsStatus).query(({ ctx }) => ctx.services.localModels.status()),

  /**
   * Appends a registry entry for a file of a models folder to the user registry: `{ model_name, backend: 'llamacpp',
   * model_path, … }`. Returns the entry and where it is; `already` when your registry had exactly that entry, which is
   * then not added again.
   */
  addToRegistry: procedure
    .input(z.object({ path, model_name: z.string().min(1).max(200).optional() }))
    .output(
      z.object({ entry: jsonObject, file: z.string(), index: z.number().int().nonnegative(), already: z.boolean() }),
    )
    .mutation(async ({ ctx, input }) => {
      const service = ctx.services.localModels;
      const entry = await service.registryEntry(await service.checkInModelsFolder(input.path), input.model_name);
      const existing = ctx.services.registry
        .entries()
        .find((row) => row.role === 'user' && jsonEqual(row.entry, entry));
      if (existing !== undefined) return { entry, file: existing.file, index: existing.index, already: true };
      const saved = await ctx.services.registry.save({ entry });
      return { entry, ...saved, already: false };
    }),
});

export const systemRouter = router({
  /** The compute backend node-llama-cpp uses (CUDA, Vulkan, Metal or CPU), GPU names, VRAM and RAM. */
  gpu: procedure.output(gpuInfo).query(({ ctx }) => ctx.services.localModels.gpu()),
});
