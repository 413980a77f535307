// Writes small llama-architecture GGUF models with deterministic random weights, because no real model can be
// downloaded on the machines this project is built and tested on. Also writes deliberately broken files for
// failure tests. Run `npx tsx scripts/make-gguf.ts --help` for the command line.
import { realpathSync } from 'node:fs';
import { open, truncate } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src-shared/random.js';
import {
  type GgmlTensorType,
  type GgufMetadata,
  type GgufTensorInfo,
  alignUp,
  encodeGgufHeader,
  encodeTensorData,
  ggufFileTypes,
  quantBlockSize,
} from './gguf-writer.js';

export type { GgmlTensorType } from './gguf-writer.js';

/** Everything that shapes a generated model; the same options always give a byte-identical file. */
export interface MakeGgufOptions {
  /** Encoding of the 2-D weight tensors; 1-D norm weights are always F32, as llama.cpp expects. */
  tensorType: GgmlTensorType;
  embeddingLength: number;
  blockCount: number;
  headCount: number;
  /** Defaults to `headCount` (no grouped-query attention). */
  headCountKv?: number;
  feedForwardLength: number;
  contextLength: number;
  /** Ordinary pieces after `<unk>`, `<s>`, `</s>` and the 256 byte tokens; defaults to 253 (a 512-token vocabulary). */
  vocabularyPieces?: number;
  seed: number;
  /** Jinja chat template to store; `false` leaves `tokenizer.chat_template` out. Defaults to a small ChatML one. */
  chatTemplate?: string | false;
  /** `general.name`; defaults to one derived from the shape. */
  name?: string;
  /** `general.architecture`; anything but `llama` produces a file llama.cpp refuses, for failure tests. */
  architecture?: string;
}

/** `MakeGgufOptions` with every default filled in. */
export type ResolvedGgufOptions = Required<MakeGgufOptions>;

/** Names of the ready-made option sets in `ggufPresets`. */
export type GgufPresetName = 'tiny' | 'bench150m';

/** What `writeGguf` wrote. */
export interface GgufWriteResult {
  path: string;
  fileLength: number;
  parameterCount: number;
  vocabularySize: number;
  tensorCount: number;
  /** File offset where tensor data begins (everything before it is header). */
  dataOffset: number;
}

/** Size of the vocabulary's fixed prefix: `<unk>`, `<s>`, `</s>` and the 256 byte tokens. */
export const fixedTokenCount = 3 + 256;

/** Token ids of the special tokens every generated vocabulary starts with. */
export const specialTokenIds = { unknown: 0, bos: 1, eos: 2 } as const;

/** Id of the byte token `<0xXX>` for a byte value. */
export function byteTokenId(byte: number): number {
  return 3 + byte;
}

/** The chat template stored unless `chatTemplate` says otherwise: ChatML turns, plain-text markers. */
export const defaultChatTemplate =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Ready-made option sets: `tiny` for unit tests (F32, ~0.6 MB), `bench150m` for throughput checks (~148M params). */
export const ggufPresets: Readonly<Record<GgufPresetName, MakeGgufOptions>> = {
  tiny: {
    tensorType: 'F32',
    embeddingLength: 64,
    blockCount: 2,
    headCount: 4,
    feedForwardLength: 128,
    contextLength: 512,
    vocabularyPieces: 512 - fixedTokenCount,
    seed: 1,
    name: 'clemplay-tiny',
  },
  bench150m: {
    tensorType: 'Q4_0',
    embeddingLength: 768,
    blockCount: 12,
    headCount: 12,
    // 2560 rather than 2048 brings the total to ~148M parameters instead of ~134M.
    feedForwardLength: 2560,
    contextLength: 2048,
    vocabularyPieces: 32000 - fixedTokenCount,
    seed: 1,
    name: 'clemplay-bench150m',
  },
};

/** Fills in defaults and rejects shapes llama.cpp could not load. */
export function resolveGgufOptions(options: MakeGgufOptions): ResolvedGgufOptions {
  const headCountKv = options.headCountKv ?? options.headCount;
  const resolved: ResolvedGgufOptions = {
    tensorType: options.tensorType,
    embeddingLength: options.embeddingLength,
    blockCount: options.blockCount,
    headCount: options.headCount,
    headCountKv,
    feedForwardLength: options.feedForwardLength,
    contextLength: options.contextLength,
    vocabularyPieces: options.vocabularyPieces ?? 512 - fixedTokenCount,
    seed: options.seed,
    chatTemplate: options.chatTemplate ?? defaultChatTemplate,
    name:
      options.name ??
      `clemplay-random-${options.embeddingLength}x${options.blockCount}-${options.tensorType.toLowerCase()}`,
    architecture: options.architecture ?? 'llama',
  };
  const positiveIntegers: Array<keyof ResolvedGgufOptions> = [
    'embeddingLength',
    'blockCount',
    'headCount',
    'headCountKv',
    'feedForwardLength',
    'contextLength',
  ];
  for (const key of positiveIntegers) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new Error(`${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (!Number.isInteger(resolved.vocabularyPieces) || resolved.vocabularyPieces < 0) {
    throw new Error(`vocabularyPieces must be a non-negative integer, got ${resolved.vocabularyPieces}`);
  }
  if (!Number.isInteger(resolved.seed)) throw new Error(`seed must be an integer, got ${resolved.seed}`);
  if (!(resolved.tensorType in ggufFileTypes)) throw new Error(`unsupported tensor type ${resolved.tensorType}`);
  if (resolved.embeddingLength % resolved.headCount !== 0) {
    throw new Error('embeddingLength must be divisible by headCount');
  }
  if ((resolved.embeddingLength / resolved.headCount) % 2 !== 0) {
    throw new Error('the head dimension (embeddingLength / headCount) must be even for RoPE');
  }
  if (resolved.headCount % resolved.headCountKv !== 0) throw new Error('headCount must be divisible by headCountKv');
  // Every 2-D tensor has a row length of either embeddingLength or feedForwardLength.
  if (resolved.tensorType !== 'F32' && resolved.tensorType !== 'F16') {
    for (const key of ['embeddingLength', 'feedForwardLength'] as const) {
      if (resolved[key] % quantBlockSize !== 0) {
        throw new Error(`${key} must be a multiple of ${quantBlockSize} for ${resolved.tensorType}`);
      }
    }
  }
  return resolved;
}

// ---------------------------------------------------------------------------------------------------------------
// Deterministic randomness

/** Box–Muller normal samples; keeps the second sample of each pair. */
class NormalSampler {
  private spare: number | undefined;

  constructor(private readonly uniform: () => number) {}

  next(): number {
    if (this.spare !== undefined) {
      const spare = this.spare;
      this.spare = undefined;
      return spare;
    }
    // 1 - u keeps the logarithm's argument in (0, 1].
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
}

// Seeding each tensor from its name keeps a tensor's values independent of the tensors written before it.
function tensorSeed(seed: number, tensorName: string): number {
  let hash = 0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1);
  for (let index = 0; index < tensorName.length; index++) {
    hash = Math.imul(hash ^ tensorName.charCodeAt(index), 0x01000193);
  }
  return hash >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Vocabulary

/** A SentencePiece-style vocabulary as stored under `tokenizer.ggml.*`. */
export interface GgufVocabulary {
  tokens: string[];
  scores: number[];
  tokenTypes: number[];
}

// llama_token_type values.
const tokenType = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

const wordBoundary = '\u2581';

// Some ASCII characters ({ } [ ] < > ~ ^ | \ @ # $ % & * + = _ / ` and control characters) are deliberately
// missing so tokenizing ordinary text also exercises the byte-token fallback.
const curatedPieces: readonly string[] = [
  wordBoundary,
  ...'abcdefghijklmnopqrstuvwxyz',
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ...'0123456789',
  ...'.,!?\'"-:;()',
  ...[...'abcdefghijklmnopqrstuvwxyz'].map((letter) => wordBoundary + letter),
  ...['th', 'he', 'in', 'er', 'an', 're', 'on', 'at', 'en', 'nd', 'ti', 'es', 'or', 'te', 'of', 'ed', 'is', 'it'],
  ...['al', 'ar', 'st', 'to', 'nt', 'ng', 'se', 'ha', 'as', 'ou', 'io', 'le', 've', 'co', 'me', 'de', 'hi', 'ri'],
  ...['ing', 'ion', 'tion', 'ent', 'ly', 'ers', 'ies', 'ment', 'ness', 'able', 'ous', 'ive', 'est', 'ard', 'ter'],
  ...[
    ...['the', 'of', 'and', 'to', 'in', 'is', 'you', 'that', 'it', 'he', 'was', 'for', 'on', 'are', 'as', 'with'],
    ...['his', 'they', 'I', 'at', 'be', 'this', 'have', 'from', 'or', 'one', 'had', 'by', 'word', 'but', 'not'],
    ...['what', 'all', 'were', 'we', 'when', 'your', 'can', 'said', 'there', 'use', 'an', 'each', 'which', 'she'],
    ...['do', 'how', 'their', 'if', 'will', 'up', 'other', 'about', 'out', 'many', 'then', 'them', 'these', 'so'],
    ...['some', 'her', 'would', 'make', 'like', 'him', 'into', 'time', 'has', 'look', 'two', 'more', 'write', 'go'],
    ...['see', 'number', 'no', 'way', 'could', 'people', 'my', 'than', 'first', 'water', 'been', 'call', 'who'],
    ...['its', 'now', 'find', 'long', 'down', 'day', 'did', 'get', 'come', 'made', 'may', 'part', 'hello', 'world'],
    ...['model', 'chat', 'game', 'play', 'answer', 'question', 'yes', 'The', 'A', 'It', 'You', 'What', 'How'],
  ].map((word) => wordBoundary + word),
];

const consonants = 'bcdfghjklmnpqrstvwxyz';
const vowels = 'aeiou';
const lowercase = 'abcdefghijklmnopqrstuvwxyz';

// Word-like syllables first, then every lowercase string of growing length, each bare and after a word boundary.
function* syntheticPieces(): Generator<string> {
  for (const consonant of consonants) {
    for (const vowel of vowels) {
      yield consonant + vowel;
      yield wordBoundary + consonant + vowel;
    }
  }
  for (const vowel of vowels) for (const consonant of consonants) yield vowel + consonant;
  for (const start of consonants) {
    for (const vowel of vowels) {
      for (const end of consonants) {
        yield start + vowel + end;
        yield wordBoundary + start + vowel + end;
      }
    }
  }
  for (let length = 2; ; length++) {
    const digits = new Array<number>(length).fill(0);
    for (;;) {
      const piece = digits.map((digit) => lowercase[digit] ?? '').join('');
      yield piece;
      yield wordBoundary + piece;
      let position = length - 1;
      while (position >= 0 && digits[position] === lowercase.length - 1) digits[position--] = 0;
      if (position < 0) break;
      digits[position] = (digits[position] ?? 0) + 1;
    }
  }
}

/** Builds the vocabulary: special tokens, the 256 byte tokens, then `pieceCount` unique ordinary pieces. */
export function buildVocabulary(pieceCount: number): GgufVocabulary {
  const tokens = ['<unk>', '<s>', '</s>'];
  const scores = [0, 0, 0];
  const tokenTypes: number[] = [tokenType.unknown, tokenType.control, tokenType.control];
  for (let byte = 0; byte < 256; byte++) {
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
    scores.push(0);
    tokenTypes.push(tokenType.byte);
  }

  const seen = new Set<string>();
  const candidates = (function* (): Generator<string> {
    yield* curatedPieces;
    yield* syntheticPieces();
  })();
  while (seen.size < pieceCount) {
    const next = candidates.next();
    if (next.done === true) throw new Error('ran out of vocabulary pieces');
    if (seen.has(next.value)) continue;
    seen.add(next.value);
    tokens.push(next.value);
    // SentencePiece scores are log-probabilities; earlier (commoner) pieces win merges.
    scores.push(-seen.size);
    tokenTypes.push(tokenType.normal);
  }
  return { tokens, scores, tokenTypes };
}

// ---------------------------------------------------------------------------------------------------------------
// Model layout

interface PlannedTensor extends GgufTensorInfo {
  initialization: 'ones' | 'normal';
}

const weightStandardDeviation = 0.02;

function planTensors(options: ResolvedGgufOptions, vocabularySize: number): PlannedTensor[] {
  const { embeddingLength, feedForwardLength, tensorType } = options;
  const keyValueLength = (embeddingLength / options.headCount) * options.headCountKv;
  const matrix = (name: string, rowLength: number, rowCount: number): PlannedTensor => ({
    name,
    dimensions: [rowLength, rowCount],
    type: tensorType,
    initialization: 'normal',
  });
  const norm = (name: string): PlannedTensor => ({
    name,
    dimensions: [embeddingLength],
    type: 'F32',
    initialization: 'ones',
  });

  const tensors: PlannedTensor[] = [matrix('token_embd.weight', embeddingLength, vocabularySize)];
  for (let block = 0; block < options.blockCount; block++) {
    const prefix = `blk.${block}`;
    tensors.push(
      norm(`${prefix}.attn_norm.weight`),
      matrix(`${prefix}.attn_q.weight`, embeddingLength, embeddingLength),
      matrix(`${prefix}.attn_k.weight`, embeddingLength, keyValueLength),
      matrix(`${prefix}.attn_v.weight`, embeddingLength, keyValueLength),
      matrix(`${prefix}.attn_output.weight`, embeddingLength, embeddingLength),
      norm(`${prefix}.ffn_norm.weight`),
      matrix(`${prefix}.ffn_gate.weight`, embeddingLength, feedForwardLength),
      matrix(`${prefix}.ffn_up.weight`, embeddingLength, feedForwardLength),
      matrix(`${prefix}.ffn_down.weight`, feedForwardLength, embeddingLength),
    );
  }
  tensors.push(norm('output_norm.weight'), matrix('output.weight', embeddingLength, vocabularySize));
  return tensors;
}

function elementCount(tensor: GgufTensorInfo): number {
  return tensor.dimensions.reduce((product, dimension) => product * dimension, 1);
}

/** Number of weights a model with these options has (embeddings and output head counted separately). */
export function countParameters(options: MakeGgufOptions): number {
  const resolved = resolveGgufOptions(options);
  return planTensors(resolved, fixedTokenCount + resolved.vocabularyPieces).reduce(
    (total, tensor) => total + elementCount(tensor),
    0,
  );
}

const alignment = 32;

function buildMetadata(options: ResolvedGgufOptions, vocabulary: GgufVocabulary): GgufMetadata {
  const architecture = options.architecture;
  const metadata: Array<GgufMetadata[number]> = [
    ['general.architecture', { type: 'string', value: architecture }],
    ['general.name', { type: 'string', value: options.name }],
    ['general.alignment', { type: 'uint32', value: alignment }],
    ['general.file_type', { type: 'uint32', value: ggufFileTypes[options.tensorType] }],
    ['general.quantization_version', { type: 'uint32', value: 2 }],
    [`${architecture}.context_length`, { type: 'uint32', value: options.contextLength }],
    [`${architecture}.embedding_length`, { type: 'uint32', value: options.embeddingLength }],
    [`${architecture}.block_count`, { type: 'uint32', value: options.blockCount }],
    [`${architecture}.feed_forward_length`, { type: 'uint32', value: options.feedForwardLength }],
    [`${architecture}.attention.head_count`, { type: 'uint32', value: options.headCount }],
    [`${architecture}.attention.head_count_kv`, { type: 'uint32', value: options.headCountKv }],
    [`${architecture}.rope.dimension_count`, { type: 'uint32', value: options.embeddingLength / options.headCount }],
    [`${architecture}.rope.freq_base`, { type: 'float32', value: 10000 }],
    [`${architecture}.attention.layer_norm_rms_epsilon`, { type: 'float32', value: 1e-5 }],
    [`${architecture}.vocab_size`, { type: 'uint32', value: vocabulary.tokens.length }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'string-array', value: vocabulary.tokens }],
    ['tokenizer.ggml.scores', { type: 'float32-array', value: vocabulary.scores }],
    ['tokenizer.ggml.token_type', { type: 'int32-array', value: vocabulary.tokenTypes }],
    ['tokenizer.ggml.bos_token_id', { type: 'uint32', value: specialTokenIds.bos }],
    ['tokenizer.ggml.eos_token_id', { type: 'uint32', value: specialTokenIds.eos }],
    ['tokenizer.ggml.unknown_token_id', { type: 'uint32', value: specialTokenIds.unknown }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ];
  if (options.chatTemplate !== false) {
    metadata.push(['tokenizer.chat_template', { type: 'string', value: options.chatTemplate }]);
  }
  return metadata;
}

function fillNormal(values: Float32Array, sampler: NormalSampler): void {
  for (let index = 0; index < values.length; index++) values[index] = sampler.next() * weightStandardDeviation;
}

// About 4 MB of float32 per chunk, so even the 24M-element embedding of bench150m never sits in memory whole.
const chunkElementTarget = 1 << 20;

/** Writes a GGUF v3 llama model with deterministic random weights to `path`, streaming tensor data in chunks. */
export async function writeGguf(path: string, options: MakeGgufOptions): Promise<GgufWriteResult> {
  const resolved = resolveGgufOptions(options);
  const vocabulary = buildVocabulary(resolved.vocabularyPieces);
  const tensors = planTensors(resolved, vocabulary.tokens.length);
  const layout = encodeGgufHeader(buildMetadata(resolved, vocabulary), tensors, alignment);

  const file = await open(path, 'w');
  try {
    await file.write(layout.header);
    let written = layout.header.length;
    for (const [index, tensor] of tensors.entries()) {
      const placement = layout.tensors[index];
      if (placement === undefined) throw new Error(`no layout for ${tensor.name}`);
      const rowLength = tensor.dimensions[0] ?? 1;
      const rowsPerChunk = Math.max(1, Math.floor(chunkElementTarget / rowLength));
      const totalElements = elementCount(tensor);
      const sampler = new NormalSampler(seededRandom(tensorSeed(resolved.seed, tensor.name)));
      for (let start = 0; start < totalElements; start += rowsPerChunk * rowLength) {
        const values = new Float32Array(Math.min(rowsPerChunk * rowLength, totalElements - start));
        if (tensor.initialization === 'ones') values.fill(1);
        else fillNormal(values, sampler);
        const encoded = encodeTensorData(tensor.type, values);
        await file.write(encoded);
        written += encoded.length;
      }
      const paddedEnd = layout.dataOffset + alignUp(placement.relativeOffset + placement.byteLength, alignment);
      await file.write(Buffer.alloc(paddedEnd - written));
      written = paddedEnd;
    }
    if (written !== layout.fileLength) throw new Error(`wrote ${written} bytes, expected ${layout.fileLength}`);
  } finally {
    await file.close();
  }
  return {
    path,
    fileLength: layout.fileLength,
    parameterCount: tensors.reduce((total, tensor) => total + elementCount(tensor), 0),
    vocabularySize: vocabulary.tokens.length,
    tensorCount: tensors.length,
    dataOffset: layout.dataOffset,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Broken files for failure tests

/** Where `writeTruncatedGguf` cuts the file. */
export type GgufTruncation = 'tensor-data' | 'metadata';

/**
 * Writes a tiny model cut short: `tensor-data` (the default) keeps the whole header and half the tensor data;
 * `metadata` cuts inside the vocabulary. llama.cpp rejects both, but node-llama-cpp's `readGgufFileInfo` accepts
 * both (it reads zeros past the end of the file), so it cannot serve as a validity check.
 */
export async function writeTruncatedGguf(path: string, cut: GgufTruncation = 'tensor-data'): Promise<void> {
  const result = await writeGguf(path, ggufPresets.tiny);
  const dataLength = result.fileLength - result.dataOffset;
  await truncate(path, cut === 'tensor-data' ? result.dataOffset + Math.floor(dataLength / 2) : 1024);
}

/** Writes `byteLength` deterministic random bytes that do not start with the GGUF magic. */
export async function writeNotGguf(path: string, byteLength = 4096): Promise<void> {
  const random = seededRandom(0x6e6f7467);
  const bytes = Buffer.alloc(byteLength);
  for (let index = 0; index < byteLength; index++) bytes[index] = Math.floor(random() * 256);
  if (bytes.subarray(0, 4).toString('latin1') === 'GGUF') bytes[0] = 0;
  const file = await open(path, 'w');
  try {
    await file.write(bytes);
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Command line

const usage = `Usage: npx tsx scripts/make-gguf.ts OUT.gguf [options]

Writes a llama-architecture GGUF v3 model with deterministic random weights.

Options:
  --preset tiny|bench150m   shape to use (default: tiny)
  --type F32|F16|Q8_0|Q4_0  tensor encoding (default: the preset's)
  --seed N                  weight seed (default: the preset's)
  --no-chat-template        leave tokenizer.chat_template out
  -h, --help                show this help`;

function isPresetName(value: string): value is GgufPresetName {
  return Object.hasOwn(ggufPresets, value);
}

function isTensorType(value: string): value is GgmlTensorType {
  return Object.hasOwn(ggufFileTypes, value);
}

/** Parses the command line arguments (without node and script) into a path and options, or `undefined` for help. */
export function parseMakeGgufArguments(
  argumentList: readonly string[],
): { path: string; options: MakeGgufOptions } | undefined {
  const { values, positionals } = parseArgs({
    args: [...argumentList],
    allowPositionals: true,
    options: {
      preset: { type: 'string', default: 'tiny' },
      type: { type: 'string' },
      seed: { type: 'string' },
      'no-chat-template': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help === true) return undefined;
  const [path, ...extra] = positionals;
  if (path === undefined || extra.length > 0) throw new Error('expected exactly one output path');
  const presetName = values.preset ?? 'tiny';
  if (!isPresetName(presetName)) throw new Error(`unknown preset "${presetName}" (tiny, bench150m)`);
  const options: MakeGgufOptions = { ...ggufPresets[presetName] };
  if (values.type !== undefined) {
    const type = values.type.toUpperCase();
    if (!isTensorType(type)) throw new Error(`unknown tensor type "${values.type}" (F32, F16, Q8_0, Q4_0)`);
    options.tensorType = type;
  }
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${values.seed}"`);
    options.seed = seed;
  }
  if (values['no-chat-template'] === true) options.chatTemplate = false;
  return { path, options };
}

async function main(argumentList: readonly string[]): Promise<void> {
  let parsed: ReturnType<typeof parseMakeGgufArguments>;
  try {
    parsed = parseMakeGgufArguments(argumentList);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  if (parsed === undefined) {
    console.log(usage);
    return;
  }
  const startedAt = performance.now();
  const result = await writeGguf(parsed.path, parsed.options);
  const seconds = (performance.now() - startedAt) / 1000;
  console.log(
    `${result.path}: ${(result.fileLength / 1e6).toFixed(2)} MB, ${(result.parameterCount / 1e6).toFixed(2)}M parameters, ` +
      `${result.tensorCount} tensors, vocabulary ${result.vocabularySize}, ${parsed.options.tensorType}, ${seconds.toFixed(1)} s`,
  );
}

// Synchronous and without top-level await, so the module stays importable from CommonJS-compiled callers too.
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(resolve(script)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    // argv[1] is not a file we can resolve (a REPL, an eval): then this module was imported, not run.
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
