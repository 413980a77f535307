import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeTensorData, float32ToFloat16Bits, quantBlockSize } from './gguf-writer.js';
import {
  type GgmlTensorType,
  type MakeGgufOptions,
  byteTokenId,
  countParameters,
  defaultChatTemplate,
  ggufPresets,
  parseMakeGgufArguments,
  specialTokenIds,
  writeGguf,
  writeNotGguf,
  writeTruncatedGguf,
} from './make-gguf.js';
import { ensureTestModel, testModelCacheFolder } from './test-models.js';

// node-llama-cpp is ESM with top-level await, so it cannot be imported statically by every consumer.
const { getLlama, readGgufFileInfo, LlamaCompletion, LlamaChatSession, LlamaLogLevel } = await import('node-llama-cpp');

// Collected rather than printed: the failure tests assert on llama.cpp's own explanation, which only reaches the log.
const llamaLogs: string[] = [];
const llama = await getLlama({
  gpu: false,
  logLevel: LlamaLogLevel.warn,
  logger: (_level, message) => {
    llamaLogs.push(message);
  },
});

const expectedFileTypes: Record<GgmlTensorType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 };
const ggmlTypeIds: Record<GgmlTensorType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8 };
const tensorTypes: GgmlTensorType[] = ['F32', 'F16', 'Q8_0', 'Q4_0'];

let scratchFolder = '';
beforeAll(async () => {
  scratchFolder = await mkdtemp(join(tmpdir(), 'clemplay-gguf-'));
});
afterAll(async () => {
  await rm(scratchFolder, { recursive: true, force: true });
});

async function sha256OfFile(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

// llama.cpp's log lines reach the JS logger asynchronously, sometimes after the failed load has already rejected.
async function expectLlamaLog(pattern: RegExp): Promise<void> {
  await vi.waitFor(() => expect(llamaLogs.join('\n')).toMatch(pattern), { timeout: 2_000 });
}

async function loadModel(modelPath: string): Promise<LlamaModel> {
  return llama.loadModel({ modelPath });
}

describe.each(tensorTypes)('tiny preset as %s', (tensorType) => {
  const options: MakeGgufOptions = { ...ggufPresets.tiny, tensorType };
  let modelPath = '';

  beforeAll(async () => {
    modelPath = await ensureTestModel(options);
  });

  it('reads back with the metadata that was written', async () => {
    const info = await readGgufFileInfo(modelPath, { logWarnings: false });
    expect(info.version).toBe(3);
    expect(info.metadata.general.architecture).toBe('llama');
    expect(info.metadata.general.name).toBe('clemplay-tiny');
    expect(info.metadata.general.file_type).toBe(expectedFileTypes[tensorType]);
    expect(info.metadata.general.alignment).toBe(32);
    expect(info.architectureMetadata.context_length).toBe(512);
    expect(info.architectureMetadata.embedding_length).toBe(64);
    expect(info.architectureMetadata.block_count).toBe(2);
    expect(info.architectureMetadata.feed_forward_length).toBe(128);
    expect(info.architectureMetadata.attention?.head_count).toBe(4);
    expect(info.architectureMetadata.attention?.head_count_kv).toBe(4);
    expect(info.architectureMetadata.rope?.dimension_count).toBe(16);
    expect(info.architectureMetadata.vocab_size).toBe(512);

    const tokenizer = info.metadata.tokenizer;
    expect(tokenizer.ggml.model).toBe('llama');
    expect(tokenizer.ggml.tokens).toHaveLength(512);
    expect(tokenizer.ggml.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(tokenizer.ggml.tokens[byteTokenId(0x41)]).toBe('<0x41>');
    expect(tokenizer.ggml.token_type?.[byteTokenId(0xff)]).toBe(6);
    expect(tokenizer.ggml.bos_token_id).toBe(specialTokenIds.bos);
    expect(tokenizer.ggml.eos_token_id).toBe(specialTokenIds.eos);
    expect(tokenizer.chat_template).toBe(defaultChatTemplate);

    const tensors = info.tensorInfo ?? [];
    expect(tensors).toHaveLength(3 + 2 * 9);
    const byName = new Map(tensors.map((tensor) => [tensor.name, tensor]));
    expect(byName.get('token_embd.weight')?.ggmlType).toBe(ggmlTypeIds[tensorType]);
    expect(byName.get('blk.1.ffn_down.weight')?.dimensions).toEqual([128, 64]);
    expect(byName.get('output_norm.weight')?.ggmlType).toBe(ggmlTypeIds.F32);
    for (const tensor of tensors) expect(Number(tensor.offset) % 32).toBe(0);
  });

  it('loads and generates no more than maxTokens', async () => {
    const model = await loadModel(modelPath);
    try {
      const context = await model.createContext({ contextSize: 256, threads: 1 });
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      let generatedTokens = 0;
      const result = await completion.generateCompletionWithMeta('Hello world', {
        maxTokens: 8,
        onToken: (tokens) => {
          generatedTokens += tokens.length;
        },
      });
      expect(generatedTokens).toBeLessThanOrEqual(8);
      if (result.metadata.stopReason === 'maxTokens') expect(generatedTokens).toBe(8);
      expect(typeof result.response).toBe('string');
      completion.dispose();
      await context.dispose();
    } finally {
      await model.dispose();
    }
  });

  it('round-trips ASCII text through the byte tokens', async () => {
    const model = await loadModel(modelPath);
    try {
      let printable = '';
      for (let code = 0x21; code <= 0x7e; code++) printable += String.fromCharCode(code);
      const text = `Hello, world! ${printable} two  spaces\ttab\nnew line {json: [1, 2]} ~end~`;
      const tokens = model.tokenize(text);
      // Characters like { } ~ have no ordinary piece, so they must come out as byte tokens.
      expect(tokens).toContain(byteTokenId('{'.charCodeAt(0)));
      expect(tokens).toContain(byteTokenId('\n'.charCodeAt(0)));
      expect(tokens.every((token) => token >= byteTokenId(0))).toBe(true);
      expect(model.detokenize(tokens)).toBe(text);
    } finally {
      await model.dispose();
    }
  });
});

describe('chat template', () => {
  it('drives a LlamaChatSession through the default ChatML-like template', async () => {
    const model = await loadModel(await ensureTestModel('tiny'));
    try {
      const context = await model.createContext({ contextSize: 512, threads: 1 });
      const session = new LlamaChatSession({ contextSequence: context.getSequence(), systemPrompt: 'Be brief.' });
      let generatedTokens = 0;
      await session.prompt('Hi', {
        maxTokens: 8,
        onToken: (tokens) => {
          generatedTokens += tokens.length;
        },
      });
      expect(generatedTokens).toBeLessThanOrEqual(8);
      session.dispose();
      await context.dispose();
    } finally {
      await model.dispose();
    }
  });

  it('can be left out', async () => {
    const path = join(scratchFolder, 'no-template.gguf');
    await writeGguf(path, { ...ggufPresets.tiny, chatTemplate: false });
    const info = await readGgufFileInfo(path, { logWarnings: false });
    expect(info.metadata.tokenizer.chat_template).toBeUndefined();
  });
});

describe('determinism and caching', () => {
  it('writes byte-identical files for identical options and different ones for another seed', async () => {
    const options: MakeGgufOptions = { ...ggufPresets.tiny, tensorType: 'Q4_0' };
    const first = join(scratchFolder, 'first.gguf');
    const second = join(scratchFolder, 'second.gguf');
    const reseeded = join(scratchFolder, 'reseeded.gguf');
    const result = await writeGguf(first, options);
    await writeGguf(second, options);
    await writeGguf(reseeded, { ...options, seed: 2 });
    expect(await sha256OfFile(first)).toBe(await sha256OfFile(second));
    expect(await sha256OfFile(first)).not.toBe(await sha256OfFile(reseeded));
    expect((await stat(first)).size).toBe(result.fileLength);
    expect(await sha256OfFile(first)).toBe(await sha256OfFile(await ensureTestModel(options)));
  });

  it('caches by options under .cache/gguf and serves concurrent callers one complete file', async () => {
    const options: MakeGgufOptions = { ...ggufPresets.tiny, tensorType: 'Q8_0', seed: 7 };
    const reordered = Object.fromEntries(Object.entries(options).reverse()) as unknown as MakeGgufOptions;
    const [path, samePath] = await Promise.all([ensureTestModel(options), ensureTestModel(reordered)]);
    expect(path).toBe(samePath);
    expect(path?.startsWith(testModelCacheFolder)).toBe(true);
    expect(await ensureTestModel({ ...options, seed: 8 })).not.toBe(path);
  });

  it('counts parameters for the presets without writing them', () => {
    expect(countParameters(ggufPresets.tiny)).toBe(147_776);
    expect(countParameters(ggufPresets.bench150m)).toBe(148_261_632);
  });
});

describe('tensor encodings', () => {
  it('converts to half precision with round-to-nearest-even', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float32ToFloat16Bits(Number.NaN)).toBe(0x7e00);
  });

  it('quantizes Q8_0 and Q4_0 blocks that dequantize to within one step', () => {
    const values = new Float32Array(quantBlockSize * 4).map((_, index) => Math.sin(index * 1.7) * (1 + (index % 5)));
    const halfToFloat = (bits: number): number => {
      const exponent = (bits >> 10) & 0x1f;
      const magnitude = exponent === 0 ? (bits & 0x3ff) * 2 ** -24 : (1 + (bits & 0x3ff) / 1024) * 2 ** (exponent - 15);
      return bits & 0x8000 ? -magnitude : magnitude;
    };
    const q8 = encodeTensorData('Q8_0', values);
    const q4 = encodeTensorData('Q4_0', values);
    expect(q8.length).toBe(4 * 34);
    expect(q4.length).toBe(4 * 18);
    for (let block = 0; block < 4; block++) {
      const slice = values.subarray(block * quantBlockSize, (block + 1) * quantBlockSize);
      const absoluteMaximum = Math.max(...Array.from(slice, Math.abs));
      const q8Scale = halfToFloat(q8.readUInt16LE(block * 34));
      const q4Scale = halfToFloat(q4.readUInt16LE(block * 18));
      for (let index = 0; index < quantBlockSize; index++) {
        const value = slice[index] ?? 0;
        const q8Value = q8.readInt8(block * 34 + 2 + index) * q8Scale;
        const packed = q4.readUInt8(block * 18 + 2 + (index % 16));
        const nibble = index < 16 ? packed & 0x0f : packed >> 4;
        const q4Value = (nibble - 8) * q4Scale;
        expect(Math.abs(q8Value - value)).toBeLessThanOrEqual((absoluteMaximum / 127) * 1.01);
        expect(Math.abs(q4Value - value)).toBeLessThanOrEqual((absoluteMaximum / 8) * 1.01);
      }
    }
  });
});

describe('command line', () => {
  it('parses a preset with overrides', () => {
    const parsed = parseMakeGgufArguments(['out.gguf', '--preset', 'bench150m', '--type', 'q8_0', '--seed', '5']);
    expect(parsed?.path).toBe('out.gguf');
    expect(parsed?.options).toMatchObject({ tensorType: 'Q8_0', seed: 5, embeddingLength: 768 });
    expect(parseMakeGgufArguments(['out.gguf', '--no-chat-template'])?.options.chatTemplate).toBe(false);
    expect(parseMakeGgufArguments(['--help'])).toBeUndefined();
    expect(() => parseMakeGgufArguments(['out.gguf', '--type', 'Q5_K'])).toThrow(/unknown tensor type/);
    expect(() => parseMakeGgufArguments([])).toThrow(/output path/);
  });
});

describe('broken files', () => {
  it('truncated tensor data: the header still reads, but loadModel rejects', async () => {
    const path = join(scratchFolder, 'truncated.gguf');
    await writeTruncatedGguf(path);
    const info = await readGgufFileInfo(path, { logWarnings: false });
    expect(info.metadata.general.architecture).toBe('llama');
    llamaLogs.length = 0;
    await expect(loadModel(path)).rejects.toThrow('Failed to load model');
    await expectLlamaLog(/data is not within the file bounds/);
  });

  it('truncated metadata: readGgufFileInfo reads zeros past the end and resolves, loadModel rejects', async () => {
    const path = join(scratchFolder, 'truncated-metadata.gguf');
    await writeTruncatedGguf(path, 'metadata');
    // node-llama-cpp's reader does not notice the end of file: the missing tokens come back as empty strings.
    const info = await readGgufFileInfo(path, { logWarnings: false });
    expect(info.metadata.tokenizer.ggml.tokens.at(-1)).toBe('');
    llamaLogs.length = 0;
    await expect(loadModel(path)).rejects.toThrow('Failed to load model');
    await expectLlamaLog(/failed to read key-value pairs/);
  });

  it('not a GGUF file: both reject on the magic', async () => {
    const path = join(scratchFolder, 'not-gguf.gguf');
    await writeNotGguf(path);
    await expect(readGgufFileInfo(path, { logWarnings: false })).rejects.toThrow(/Invalid GGUF magic/);
    await expect(loadModel(path)).rejects.toThrow(/Invalid GGUF magic/);
  });

  it('unsupported architecture: reads back, but loadModel rejects', async () => {
    const path = join(scratchFolder, 'made-up-arch.gguf');
    await writeGguf(path, { ...ggufPresets.tiny, architecture: 'made-up-arch' });
    const info = await readGgufFileInfo(path, { logWarnings: false });
    expect(info.metadata.general.architecture).toBe('made-up-arch');
    llamaLogs.length = 0;
    await expect(loadModel(path)).rejects.toThrow('Failed to load model');
    await expectLlamaLog(/unknown model architecture: 'made-up-arch'/);
  });
});

// `llama` is deliberately never disposed. In node-llama-cpp 3.21.1 a failed loadModel leaves the half-built model
// holding a dispose-prevention handle on the Llama instance; once the garbage collector has taken that model,
// llama.dispose() waits forever (reproduced with --expose-gc). Every model that did load is disposed above.
