import type { GenerationOptions } from '../../src-shared/chat.js';
import { AppError } from '../../src-shared/errors.js';
import type { JsonObject, JsonValue } from '../../src-shared/json.js';
import { compileEosPattern, mergeGenerationOptions, readSpecSetting } from '../backends/options.js';

/** Where a spec's weights come from; exactly one is used (precedence: path, then URI, then Hugging Face id). */
export type ModelSource =
  /** A local .gguf file; a relative path is looked up in the working folder, then in each models folder. */
  | { kind: 'path'; path: string; keyPath: string }
  /** `hf:user/repo:quant`, `hf:user/repo/file.gguf` or an http(s) URL; downloaded into the first models folder. */
  | { kind: 'uri'; uri: string; keyPath: string }
  /** clemcore's form: a Hugging Face repository and a file name or glob such as `*Q4_K_M.gguf`. */
  | { kind: 'huggingface'; repository: string; filename: string | undefined; keyPath: string };

/** GPU layers: `auto` fits as many as free VRAM allows, `max` all of them (fails if they do not fit), or a count. */
export type GpuLayersSetting = 'auto' | 'max' | number;

/** Context size in tokens per sequence: `auto` (the model's trained size, at most {@link autoContextSizeCap}) or a count. */
export type ContextSizeSetting = 'auto' | number;

/** What a model is loaded with; two specs with equal settings for one file share one loaded model. */
export interface LoadSettings {
  /** Default `auto`. */
  gpuLayers: GpuLayersSetting;
  /** Default `auto`. */
  contextSize: ContextSizeSetting;
  /**
   * CPU threads for evaluation: a count, or `auto` (the default): the `threads` setting if it is a count, else the
   * count measured fastest for the model's size class on this machine (thread-calibration.ts).
   */
  threads: number | 'auto';
  /** Tokens evaluated per batch; default `auto` (node-llama-cpp's: 512, or the context size if smaller). */
  batchSize: number | 'auto';
  /** Default `auto` (on where the model and hardware support it). */
  flashAttention: 'auto' | boolean;
  /** Generations that run at once on the model, each with its own context sequence; more wait in line. Default 1. */
  parallel: number;
}

/**
 * `context_size: "auto"` takes the model's trained context, but no more than this many tokens: models trained on
 * 128k tokens would otherwise reserve many gigabytes of KV cache that a chat in the playground never fills.
 */
export const autoContextSizeCap = 8192;

/** How the conversation is turned into the model's prompt. */
export type ChatTemplateSetting =
  /** node-llama-cpp's choice from the GGUF's own Jinja template (a built-in wrapper that renders the same, or the template itself). */
  | { kind: 'auto' }
  /** The GGUF's own Jinja template, always (clemcore's `premade_chat_template: true`). */
  | { kind: 'file' }
  /** A node-llama-cpp chat wrapper by name (`chatML`, `llama3.1`, `mistral`, `gemma`, `general`, …). */
  | { kind: 'named'; name: string; keyPath: string }
  /** A Jinja template written in the spec (`chat_template` or clemcore's `model_config.custom_chat_template`). */
  | { kind: 'jinja'; template: string; keyPath: string };

/** Sampling for one generation: the spec's values with the call's on top; unset means node-llama-cpp's default (greedy). */
export interface SamplingSettings {
  /** 0 (the default) always picks the likeliest token. */
  temperature?: number;
  maxTokens?: number;
  /** 0 disables. */
  topK?: number;
  topP?: number;
  minP?: number;
  /** How much tokens repeated from the last 64 are made less likely; unset or 1: off. */
  repeatPenalty?: number;
  seed?: number;
  stop: string[];
}

/** Everything the llamacpp backend reads from a spec, checked. */
export interface LlamaSpec {
  source: ModelSource;
  load: LoadSettings;
  chatTemplate: ChatTemplateSetting;
  /** clemcore's `eos_to_cull`, compiled. */
  eosToCull: RegExp | undefined;
}

function specProblem(keyPath: string, message: string): AppError {
  return new AppError('invalid-spec', `The model spec's \`${keyPath}\` ${message}.`, { key_path: keyPath });
}

function describe(value: JsonValue): string {
  return JSON.stringify(value);
}

function readWholeNumber(value: JsonValue, keyPath: string, minimum: number, maximum: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > maximum) {
    throw specProblem(keyPath, `must be a whole number from ${minimum} to ${maximum}, not ${describe(value)}`);
  }
  return value;
}

function readString(spec: JsonObject, key: string): { value: string; path: string } | undefined {
  const setting = readSpecSetting(spec, key);
  if (setting === undefined) return undefined;
  if (typeof setting.value !== 'string' || setting.value.trim() === '') {
    throw specProblem(setting.path, `must be a non-empty string, not ${describe(setting.value)}`);
  }
  return { value: setting.value.trim(), path: setting.path };
}

const missingSource =
  'Backend llamacpp needs one of `model_path` (a .gguf file), `model_uri` ("hf:user/repo:Q4_K_M", ' +
  '"hf:user/repo/file.gguf" or an https:// URL) or `huggingface_id` with `model_config.filename` (clemcore\'s form).';

/** Where the spec's weights come from; throws `invalid-spec` when it names none or a malformed one. */
export function readModelSource(spec: JsonObject): ModelSource {
  const path = readString(spec, 'model_path');
  if (path !== undefined) return { kind: 'path', path: path.value, keyPath: path.path };
  const uri = readString(spec, 'model_uri');
  if (uri !== undefined) {
    if (!/^(hf:[^/\s]+\/[^\s]+|https?:\/\/\S+)$/.test(uri.value)) {
      throw specProblem(
        uri.path,
        `must be "hf:user/repo:quant", "hf:user/repo/file.gguf" or an http(s):// URL, not ${describe(uri.value)}`,
      );
    }
    return { kind: 'uri', uri: uri.value, keyPath: uri.path };
  }
  const repository = readString(spec, 'huggingface_id');
  if (repository !== undefined) {
    if (!/^[\w.-]+\/[\w.-]+$/.test(repository.value)) {
      throw specProblem(
        repository.path,
        `must be a Hugging Face repository id "user/repo", not ${describe(repository.value)}`,
      );
    }
    const filename = readString(spec, 'filename');
    return { kind: 'huggingface', repository: repository.value, filename: filename?.value, keyPath: repository.path };
  }
  throw new AppError('invalid-spec', missingSource, { key_path: 'model_path' });
}

function readGpuLayers(spec: JsonObject): GpuLayersSetting {
  const setting = readSpecSetting(spec, 'gpu_layers');
  if (setting !== undefined) {
    if (setting.value === 'auto' || setting.value === 'max') return setting.value;
    if (typeof setting.value === 'number' && Number.isInteger(setting.value) && setting.value >= 0)
      return setting.value;
    throw specProblem(setting.path, `must be "auto", "max" or a whole number ≥ 0, not ${describe(setting.value)}`);
  }
  // clemcore's spellings: `gpu_layers_offloaded` (-1 means all) and `execute_on`.
  const offloaded = readSpecSetting(spec, 'gpu_layers_offloaded');
  if (offloaded !== undefined) {
    if (offloaded.value === -1) return 'max';
    return readWholeNumber(offloaded.value, offloaded.path, 0, 100_000);
  }
  const executeOn = readSpecSetting(spec, 'execute_on');
  if (executeOn !== undefined) {
    if (executeOn.value === 'cpu') return 0;
    if (executeOn.value === 'gpu') return 'max';
    throw specProblem(executeOn.path, `must be "gpu" or "cpu", not ${describe(executeOn.value)}`);
  }
  return 'auto';
}

function readContextSize(spec: JsonObject): ContextSizeSetting {
  const setting = readSpecSetting(spec, 'context_size');
  if (setting === undefined || setting.value === 'auto') return 'auto';
  if (typeof setting.value === 'number') return readWholeNumber(setting.value, setting.path, 16, 10_000_000);
  // Registry entries (clemcore's and ours) describe the model with strings such as "32k"; they set nothing.
  if (typeof setting.value === 'string' && /^\d+(\.\d+)?\s*[km]?$/i.test(setting.value.trim())) return 'auto';
  throw specProblem(
    setting.path,
    `must be "auto" or a number of tokens (a description such as "32k" counts as "auto"), not ${describe(setting.value)}`,
  );
}

/** The load settings of a spec (top level over `model_config`), defaults filled in. */
export function readLoadSettings(spec: JsonObject): LoadSettings {
  const threadsSetting = readSpecSetting(spec, 'threads');
  let threads: number | 'auto' = 'auto';
  if (threadsSetting !== undefined && threadsSetting.value !== 'auto') {
    threads = readWholeNumber(threadsSetting.value, threadsSetting.path, 1, 1024);
  }
  const batchSetting = readSpecSetting(spec, 'batch_size');
  let batchSize: number | 'auto' = 'auto';
  if (batchSetting !== undefined && batchSetting.value !== 'auto') {
    batchSize = readWholeNumber(batchSetting.value, batchSetting.path, 1, 1_000_000);
  }
  const flashSetting = readSpecSetting(spec, 'flash_attention');
  let flashAttention: 'auto' | boolean = 'auto';
  if (flashSetting !== undefined) {
    if (flashSetting.value !== 'auto' && typeof flashSetting.value !== 'boolean') {
      throw specProblem(flashSetting.path, `must be "auto", true or false, not ${describe(flashSetting.value)}`);
    }
    flashAttention = flashSetting.value;
  }
  const parallelSetting = readSpecSetting(spec, 'parallel');
  const parallel =
    parallelSetting === undefined ? 1 : readWholeNumber(parallelSetting.value, parallelSetting.path, 1, 64);
  return {
    gpuLayers: readGpuLayers(spec),
    contextSize: readContextSize(spec),
    threads,
    batchSize,
    flashAttention,
    parallel,
  };
}

/** The chat template setting: `chat_template`, else clemcore's `custom_chat_template` / `premade_chat_template`. */
export function readChatTemplate(spec: JsonObject): ChatTemplateSetting {
  const setting = readSpecSetting(spec, 'chat_template');
  if (setting !== undefined && setting.value !== 'auto') {
    if (typeof setting.value !== 'string' || setting.value.trim() === '') {
      throw specProblem(
        setting.path,
        `must be "auto", "jinja", a chat wrapper name or a Jinja template, not ${describe(setting.value)}`,
      );
    }
    if (setting.value === 'jinja') return { kind: 'file' };
    if (/\{[{%]/.test(setting.value)) return { kind: 'jinja', template: setting.value, keyPath: setting.path };
    return { kind: 'named', name: setting.value.trim(), keyPath: setting.path };
  }
  if (setting === undefined) {
    const custom = readSpecSetting(spec, 'custom_chat_template');
    const premade = readSpecSetting(spec, 'premade_chat_template');
    if (custom !== undefined && premade?.value !== true) {
      if (typeof custom.value !== 'string' || custom.value.trim() === '') {
        throw specProblem(custom.path, `must be a Jinja template string, not ${describe(custom.value)}`);
      }
      return { kind: 'jinja', template: custom.value, keyPath: custom.path };
    }
    if (premade?.value === true) return { kind: 'file' };
  }
  return { kind: 'auto' };
}

/** Reads and checks everything the llamacpp backend needs from a spec; throws `invalid-spec` naming the bad key. */
export function readLlamaSpec(spec: JsonObject): LlamaSpec {
  const source = readModelSource(spec);
  const load = readLoadSettings(spec);
  const chatTemplate = readChatTemplate(spec);
  const eos = readSpecSetting(spec, 'eos_to_cull');
  let eosToCull: RegExp | undefined;
  if (eos !== undefined) {
    if (typeof eos.value !== 'string') throw specProblem(eos.path, 'must be a regular expression string');
    if (eos.value !== '') eosToCull = compileEosPattern(eos.value, eos.path);
  }
  // Checked now so that a bad sampling value shows when the model is made, not at its first reply.
  readSamplingSettings(spec, {});
  return { source, load, chatTemplate, eosToCull };
}

/** Per-call options may carry more keys than {@link GenerationOptions} names (`top_k`, `min_p`, `repeat_penalty`). */
export type CallOptions = GenerationOptions & { readonly [key: string]: unknown };

function readExtraSampling(
  spec: JsonObject,
  callOptions: CallOptions,
  key: string,
  check: (value: unknown) => boolean,
  rule: string,
): number | undefined {
  const callValue = callOptions[key];
  if (callValue !== undefined && callValue !== null) {
    if (typeof callValue !== 'number' || !check(callValue)) {
      throw new AppError(
        'invalid-input',
        `The generation option \`${key}\` must be ${rule}, not ${JSON.stringify(callValue)}.`,
        {
          key_path: key,
        },
      );
    }
    return callValue;
  }
  const setting = readSpecSetting(spec, key);
  if (setting === undefined) return undefined;
  if (typeof setting.value !== 'number' || !check(setting.value)) {
    throw specProblem(setting.path, `must be ${rule}, not ${describe(setting.value)}`);
  }
  return setting.value;
}

/**
 * Sampling for one call: per-call options over the spec's (top level, then `model_config`). Throws `invalid-spec`
 * for a bad spec value and `invalid-input` for a bad per-call one.
 */
export function readSamplingSettings(spec: JsonObject, callOptions: CallOptions): SamplingSettings {
  const merged = mergeGenerationOptions(spec, callOptions);
  const sampling: SamplingSettings = { stop: merged.stop ?? [] };
  if (merged.temperature !== undefined) sampling.temperature = merged.temperature;
  if (merged.max_tokens !== undefined) sampling.maxTokens = merged.max_tokens;
  if (merged.top_p !== undefined) sampling.topP = merged.top_p;
  if (merged.seed !== undefined) sampling.seed = merged.seed;
  const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 0;
  const isFraction = (value: unknown): boolean => typeof value === 'number' && value >= 0 && value <= 1;
  const isPenalty = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value) && value >= 0;
  const topK = readExtraSampling(spec, callOptions, 'top_k', isCount, 'a whole number ≥ 0 (0 disables)');
  if (topK !== undefined) sampling.topK = topK;
  const minP = readExtraSampling(spec, callOptions, 'min_p', isFraction, 'a number from 0 to 1');
  if (minP !== undefined) sampling.minP = minP;
  const penalty = readExtraSampling(spec, callOptions, 'repeat_penalty', isPenalty, 'a number ≥ 0 (1 disables)');
  if (penalty !== undefined) sampling.repeatPenalty = penalty;
  return sampling;
}

/** The cache key of a loaded model: its file and everything it was loaded with. */
export function loadKey(path: string, settings: LoadSettings): string {
  return JSON.stringify([
    path,
    settings.gpuLayers,
    settings.contextSize,
    settings.threads,
    settings.batchSize,
    settings.flashAttention,
    settings.parallel,
  ]);
}
