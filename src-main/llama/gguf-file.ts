import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { GgufFileInfo, GgufInsights, Llama } from 'node-llama-cpp';
import { AppError, type AppErrorShape } from '../../src-shared/errors.js';
import type { JsonObject, JsonValue } from '../../src-shared/json.js';
import { checkGgufHeader } from './gguf-header.js';
import type { NodeLlamaCppModule } from './node-llama.js';
import { isFile } from '../files/file-checks.js';

/** One .gguf file as the model list shows it. */
export interface ModelFileSummary {
  /** Absolute path. */
  path: string;
  file_name: string;
  /** Bytes on disk. */
  size_bytes: number;
  /** `general.architecture` (llama, qwen2, gemma3, …); null when the header cannot be read. */
  architecture: string | null;
  /** `general.name`. */
  name: string | null;
  /** Weights, counted from the tensor shapes. */
  parameter_count: number | null;
  /** The file type, such as `Q4_K_M`, `Q8_0` or `F16`. */
  quantization: string | null;
  /** Tokens the model was trained on (`<arch>.context_length`). */
  context_length: number | null;
  /** Whether `tokenizer.chat_template` is in the file. */
  has_chat_template: boolean;
  /** Whether this build of llama.cpp knows the architecture; null when not checked. */
  supported: boolean | null;
  /** Why the file cannot be loaded (not a GGUF, truncated, unsupported architecture); null when none was found. */
  problem: AppErrorShape | null;
}

/** A metadata array longer than {@link metadataArrayLimit} items, shown by its start. */
export interface MetadataArraySummary {
  [key: string]: JsonValue;
  type: 'array';
  /** `string`, `number`, `boolean`, `array` or `mixed`. */
  element_type: string;
  length: number;
  /** The first {@link metadataArrayPreview} items. */
  first: JsonValue[];
}

/** One file in depth: the summary plus every metadata key and the tensor types. */
export interface ModelFileDetails extends ModelFileSummary {
  /** GGUF format version (2 or 3). */
  gguf_version: number;
  tensor_count: number;
  /** Repeating blocks (`<arch>.block_count`). */
  layer_count: number | null;
  /** Every metadata key, dotted (`llama.context_length`); long arrays as a {@link MetadataArraySummary}. */
  metadata: Record<string, JsonValue>;
  /** Tensor count by ggml type name (`Q4_0`, `F32`, …). */
  tensor_types: Record<string, number>;
  /** The Jinja chat template, when the file has one. */
  chat_template: string | null;
}

/** Arrays longer than this are summarised in {@link ModelFileDetails.metadata} (vocabularies have 32k–256k items). */
export const metadataArrayLimit = 64;
/** Items an array summary shows. */
export const metadataArrayPreview = 8;

/** Bytes per block and elements per block of the ggml types whose sizes are fixed and well known. */
const tensorTypeSizes: Readonly<Record<string, readonly [elementsPerBlock: number, bytesPerBlock: number]>> = {
  F32: [1, 4],
  F16: [1, 2],
  BF16: [1, 2],
  F64: [1, 8],
  I8: [1, 1],
  I16: [1, 2],
  I32: [1, 4],
  I64: [1, 8],
  Q4_0: [32, 18],
  Q4_1: [32, 20],
  Q5_0: [32, 22],
  Q5_1: [32, 24],
  Q8_0: [32, 34],
  Q8_1: [32, 36],
  Q2_K: [256, 84],
  Q3_K: [256, 110],
  Q4_K: [256, 144],
  Q5_K: [256, 176],
  Q6_K: [256, 210],
  Q8_K: [256, 292],
  IQ4_NL: [32, 18],
  IQ4_XS: [256, 136],
};

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Bytes at the start of a file, in hex, for "this is not a GGUF" messages. */
function hexBytes(bytes: Buffer): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

/** What some common non-GGUF model files start with, so the message can say what the file is. */
function guessFormat(head: Buffer): string | undefined {
  if (head.subarray(0, 4).toString('latin1') === 'PK\u0003\u0004')
    return 'a zip archive (a PyTorch .bin/.pt checkpoint?)';
  if (head.length >= 9 && head.readBigUInt64LE(0) < 100_000_000n && head[8] === 0x7b) return 'a safetensors file';
  if (head.subarray(0, 4).toString('latin1') === 'ggjt' || head.subarray(0, 4).toString('latin1') === 'tjgg')
    return 'an old GGML/GGJT file (convert it to GGUF with llama.cpp)';
  if (head[0] === 0x3c) return 'an HTML or XML page (a failed download?)';
  if (head[0] === 0x7b) return 'a JSON file';
  return undefined;
}

/**
 * Checks that a path is a readable file that starts with the GGUF magic; throws `not-found` or `model-load`.
 * Returns its size in bytes.
 */
export async function checkGgufMagic(path: string, keyPath = 'model_path'): Promise<number> {
  let size: number;
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new AppError(
        'model-load',
        `${path} is a folder, not a .gguf file — point \`${keyPath}\` at the file itself.`,
        {
          path,
        },
      );
    }
    size = info.size;
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') {
      throw new AppError('not-found', `No model file at ${path} — check \`${keyPath}\`.`, { path });
    }
    throw new AppError('model-load', `Cannot read ${path}: ${message(error)}`, { path });
  }
  if (size === 0) throw new AppError('model-load', `${path} is empty (0 bytes) — download it again.`, { path });
  const handle = await open(path, 'r');
  const head = Buffer.alloc(Math.min(16, size));
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  if (head.subarray(0, 4).toString('latin1') !== 'GGUF') {
    const format = guessFormat(head);
    throw new AppError(
      'model-load',
      `${path} is not a GGUF file: it starts with bytes ${hexBytes(head.subarray(0, 4))}, not "GGUF"` +
        (format === undefined ? '' : `; it looks like ${format}`) +
        " — llama.cpp only loads .gguf models (convert with llama.cpp's convert_hf_to_gguf.py, or download a GGUF).",
      { path, first_bytes: hexBytes(head.subarray(0, 4)) },
    );
  }
  return size;
}

/** node-llama-cpp's name pattern of the parts of a split GGUF (`-00001-of-00003.gguf`), which it reads together. */
const splitPartPattern = /-(\d{5})-of-(\d{5})\.gguf$/i;

/** Every file node-llama-cpp reads for `path`: the file, or all parts of a split GGUF that exist. */
async function headerFiles(path: string): Promise<string[]> {
  const match = splitPartPattern.exec(path);
  if (match === null) return [path];
  const parts = Number(match[2]);
  const stem = path.slice(0, match.index);
  const files: string[] = [];
  for (let part = 1; part <= parts; part += 1) {
    const file = `${stem}-${String(part).padStart(5, '0')}-of-${match[2]}.gguf`;
    if (file === path || (await isFile(file))) files.push(file);
  }
  return files;
}

/**
 * Reads a GGUF header; throws `not-found`, `corrupt` (a header that states sizes the file cannot have, with the
 * offset) or `model-load` with the reason. Every file is checked by {@link checkGgufHeader} before node-llama-cpp's
 * reader, which believes what a header says, sees it.
 */
export async function readGgufHeader(
  nl: NodeLlamaCppModule,
  path: string,
  keyPath = 'model_path',
  ignoreKeys: readonly string[] = [],
): Promise<GgufFileInfo> {
  await checkGgufMagic(path, keyPath);
  for (const file of await headerFiles(path)) await checkGgufHeader(file);
  try {
    return await nl.readGgufFileInfo(path, { logWarnings: false, spliceSplitFiles: true, ignoreKeys: [...ignoreKeys] });
  } catch (error) {
    throw new AppError(
      'model-load',
      `${path} has a GGUF header that cannot be read (${message(error)}) — the file is corrupt; download it again.`,
      {
        path,
      },
    );
  }
}

function toSafeNumber(value: number | bigint): number {
  return typeof value === 'bigint' ? Number(value) : value;
}

/**
 * Where the last tensor's data ends, for the types whose sizes are known; undefined when no tensor could be sized.
 * node-llama-cpp's header reader reads zeros past the end of a file, so a cut file still reads: this finds it.
 */
export function expectedDataEnd(nl: NodeLlamaCppModule, info: GgufFileInfo): number | undefined {
  let end: number | undefined;
  for (const tensor of info.fullTensorInfo ?? info.tensorInfo ?? []) {
    if (tensor.filePart !== 1) continue;
    const start = toSafeNumber(tensor.fileOffset);
    const typeName = nl.GgmlType[tensor.ggmlType];
    const sizes = typeName === undefined ? undefined : tensorTypeSizes[typeName];
    let tensorEnd = start;
    if (sizes !== undefined) {
      const elements = tensor.dimensions.reduce<number>((product, dimension) => product * toSafeNumber(dimension), 1);
      tensorEnd = start + Math.ceil(elements / sizes[0]) * sizes[1];
    }
    end = Math.max(end ?? 0, tensorEnd);
  }
  return end;
}

/** Throws `model-load` when the header or the tensor data reach past the end of the file. */
export function checkComplete(nl: NodeLlamaCppModule, path: string, info: GgufFileInfo, size: number): void {
  const headerEnd = info.infoEndOffset;
  const dataEnd = expectedDataEnd(nl, info);
  const needed = Math.max(headerEnd ?? 0, dataEnd ?? 0);
  if (needed > size) {
    throw new AppError(
      'model-load',
      `${path} is truncated or corrupt: it has ${size.toLocaleString('en')} bytes, but its ` +
        `${headerEnd !== undefined && headerEnd > size ? 'header alone needs' : 'tensors need'} ` +
        `${needed.toLocaleString('en')} — the download was probably cut short; download it again.`,
      { path, size_bytes: size, needed_bytes: needed },
    );
  }
}

/** Throws `model-load` when this llama.cpp build cannot run the file's architecture. */
export function checkArchitecture(path: string, insights: GgufInsights, llama: Llama): void {
  if (insights.isSupportedByLlamaCpp) return;
  const architecture = String(insights.ggufFileInfo.metadata.general.architecture);
  throw new AppError(
    'model-load',
    `${path} has architecture "${architecture}", which this llama.cpp (${llama.llamaCppRelease.release}, through ` +
      'node-llama-cpp 3.21.1) does not support — pick another model, or a newer clemplay once llama.cpp has it.',
    { path, architecture, llama_cpp_release: llama.llamaCppRelease.release },
  );
}

/** `Q4_K_M`, `F16`, … from `general.file_type`, else from the commonest tensor type. */
export function quantizationName(nl: NodeLlamaCppModule, info: GgufFileInfo, insights?: GgufInsights): string | null {
  const fileType = info.metadata.general?.file_type;
  if (typeof fileType === 'number') {
    const name = nl.GgufFileType[fileType];
    if (name !== undefined) return name.replace(/^(MOSTLY|ALL)_/, '');
  }
  const dominant = insights?.dominantTensorType;
  return dominant === undefined ? null : (nl.GgmlType[dominant] ?? null);
}

function metadataScalar(value: unknown): JsonValue {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null)
    return value;
  if (Array.isArray(value)) return value.map(metadataScalar);
  return String(value);
}

function elementType(items: readonly unknown[]): string {
  const types = new Set(
    items.map((item) => (Array.isArray(item) ? 'array' : typeof item === 'bigint' ? 'number' : typeof item)),
  );
  return types.size === 1 ? [...types][0]! : types.size === 0 ? 'none' : 'mixed';
}

/** The metadata as dotted keys; arrays longer than {@link metadataArrayLimit} summarised. */
export function flattenMetadata(metadata: object): Record<string, JsonValue> {
  const result: Record<string, JsonValue> = {};
  const visit = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      if (value.length > metadataArrayLimit) {
        const summary: MetadataArraySummary = {
          type: 'array',
          element_type: elementType(value),
          length: value.length,
          first: value.slice(0, metadataArrayPreview).map(metadataScalar),
        };
        result[path] = summary;
      } else {
        result[path] = value.map(metadataScalar);
      }
      return;
    }
    if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) visit(item, path === '' ? key : `${path}.${key}`);
      return;
    }
    result[path] = metadataScalar(value);
  };
  visit(metadata, '');
  return result;
}

/** A short description of a file's problem, for lists, instead of throwing. */
function problemOf(error: unknown): AppErrorShape {
  if (error instanceof AppError) return error.toShape();
  return { code: 'model-load', message: message(error) };
}

/** The vocabulary arrays (up to hundreds of thousands of items): a list of models does not need them. */
export const vocabularyKeys = [
  'tokenizer.ggml.tokens',
  'tokenizer.ggml.scores',
  'tokenizer.ggml.token_type',
  'tokenizer.ggml.merges',
] as const;

/**
 * Reads what the model list shows about one file; never throws: a file that cannot be read is listed with its
 * `problem`. With `llama`, architecture support is checked too; `light` skips the vocabulary (faster for lists).
 */
export async function summarizeModelFile(
  nl: NodeLlamaCppModule,
  path: string,
  llama?: Llama,
  light = false,
): Promise<{ summary: ModelFileSummary; info?: GgufFileInfo; insights?: GgufInsights }> {
  const absolute = resolve(path);
  const summary: ModelFileSummary = {
    path: absolute,
    file_name: basename(absolute),
    size_bytes: 0,
    architecture: null,
    name: null,
    parameter_count: null,
    quantization: null,
    context_length: null,
    has_chat_template: false,
    supported: null,
    problem: null,
  };
  let info: GgufFileInfo;
  try {
    summary.size_bytes = await checkGgufMagic(absolute);
    info = await readGgufHeader(nl, absolute, 'path', light ? vocabularyKeys : []);
  } catch (error) {
    summary.problem = problemOf(error);
    // The magic check fails before it returns the size of a file that is not a GGUF; the list still shows its size.
    if (summary.size_bytes === 0) summary.size_bytes = (await stat(absolute).catch(() => undefined))?.size ?? 0;
    return { summary };
  }
  const general = info.metadata.general;
  summary.architecture = typeof general?.architecture === 'string' ? general.architecture : null;
  summary.name = typeof general?.name === 'string' ? general.name : null;
  summary.has_chat_template = typeof info.metadata.tokenizer?.chat_template === 'string';
  let insights: GgufInsights | undefined;
  try {
    insights = await nl.GgufInsights.from(info, llama);
    summary.parameter_count = insights.totalParameters;
    summary.context_length = insights.trainContextSize ?? null;
  } catch {
    insights = undefined;
  }
  summary.quantization = quantizationName(nl, info, insights);
  try {
    checkComplete(nl, absolute, info, summary.size_bytes);
    if (llama !== undefined && insights !== undefined) {
      summary.supported = insights.isSupportedByLlamaCpp;
      checkArchitecture(absolute, insights, llama);
    }
  } catch (error) {
    summary.problem = problemOf(error);
  }
  return insights === undefined ? { summary, info } : { summary, info, insights };
}

/** Everything about one file; throws `not-found` or `model-load` when it cannot be read at all. */
export async function inspectModelFile(nl: NodeLlamaCppModule, path: string, llama?: Llama): Promise<ModelFileDetails> {
  const { summary, info } = await summarizeModelFile(nl, path, llama);
  if (info === undefined) {
    const problem = summary.problem ?? { code: 'model-load', message: `Cannot read ${summary.path}.` };
    throw new AppError(problem.code, problem.message, problem.details);
  }
  const tensorTypes: Record<string, number> = {};
  for (const tensor of info.fullTensorInfo ?? info.tensorInfo ?? []) {
    const name = nl.GgmlType[tensor.ggmlType] ?? `type ${tensor.ggmlType}`;
    tensorTypes[name] = (tensorTypes[name] ?? 0) + 1;
  }
  const blockCount = info.architectureMetadata.block_count;
  const template = info.metadata.tokenizer?.chat_template;
  return {
    ...summary,
    gguf_version: info.version,
    tensor_count: toSafeNumber(info.totalTensorCount),
    layer_count: typeof blockCount === 'number' ? blockCount : null,
    metadata: flattenMetadata(info.metadata),
    tensor_types: tensorTypes,
    chat_template: typeof template === 'string' ? template : null,
  };
}

/** How deep {@link findModelFiles} looks (LM Studio keeps `publisher/repository/file.gguf`). */
export const scanDepth = 4;

/**
 * The .gguf files in some folders and below them, sorted; missing folders are reported, not thrown. A `.gguf` that
 * is a symbolic link to a file is listed by the link's path, wherever its target is; linked folders are not
 * followed, so every listed path lies inside a models folder.
 */
export async function findModelFiles(
  folders: readonly string[],
): Promise<{ files: string[]; folders: { path: string; exists: boolean }[] }> {
  const files = new Set<string>();
  const report: { path: string; exists: boolean }[] = [];
  const walk = async (folder: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory() && depth < scanDepth) await walk(path, depth + 1);
      else if (/\.gguf$/i.test(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await isFile(path))))) {
        // Split GGUFs (`-00002-of-00005.gguf`) are listed by their first part only.
        const part = splitPartPattern.exec(entry.name)?.[1];
        if (part === undefined || part === '00001') files.add(path);
      }
    }
  };
  for (const folder of folders) {
    const absolute = resolve(folder);
    let exists = false;
    try {
      exists = (await stat(absolute)).isDirectory();
    } catch {
      exists = false;
    }
    report.push({ path: absolute, exists });
    if (exists) await walk(absolute, 1);
  }
  return { files: [...files].sort(), folders: report };
}

/** A context length as registries write it: 2048 → "2k", 131072 → "128k", 500 → "500". */
export function describeContextLength(tokens: number): string {
  if (tokens >= 1024 && tokens % 1024 === 0) return `${tokens / 1024}k`;
  if (tokens >= 1000) return `${Math.round(tokens / 1000)}k`;
  return String(tokens);
}

/** A registry `model_name` for a file: its name without `.gguf` and node-llama-cpp's `hf_<user>_` prefix, lowercased. */
export function modelNameForFile(fileName: string): string {
  const stem = fileName.replace(/\.gguf$/i, '').replace(/^hf_[^_]+_/, '');
  const name = stem
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return name === '' ? 'local-model' : name;
}

/**
 * The registry entry that selects a file with the llamacpp backend, for "add to registry": its name, backend,
 * absolute path, and the descriptive keys official entries carry. Pure: the caller decides where it is saved.
 */
export function registryEntryForModel(
  file: Pick<ModelFileSummary, 'path' | 'file_name' | 'context_length'>,
  options: { modelName?: string } = {},
): JsonObject {
  const entry: JsonObject = {
    model_name: options.modelName ?? modelNameForFile(file.file_name),
    backend: 'llamacpp',
    model_path: file.path,
    open_weight: true,
  };
  if (file.context_length !== null) entry.context_size = describeContextLength(file.context_length);
  return entry;
}
