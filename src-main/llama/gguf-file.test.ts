import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defaultChatTemplate,
  ggufPresets,
  writeGguf,
  writeNotGguf,
  writeTruncatedGguf,
} from '../../scripts/make-gguf.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import {
  checkGgufMagic,
  describeContextLength,
  findModelFiles,
  flattenMetadata,
  inspectModelFile,
  metadataArrayLimit,
  modelNameForFile,
  registryEntryForModel,
  summarizeModelFile,
} from './gguf-file.js';
import { loadNodeLlamaCpp, type NodeLlamaCppModule } from './node-llama.js';
import { rejection } from '../testing/rejection.js';

let nl: NodeLlamaCppModule;
let llama: Llama;
let folder = '';
let tiny = '';

beforeAll(async () => {
  nl = await loadNodeLlamaCpp();
  llama = await nl.getLlama({ gpu: false, build: 'never', logLevel: nl.LlamaLogLevel.error });
  folder = await mkdtemp(join(tmpdir(), 'clemplay-gguf-file-'));
  tiny = await ensureTestModel('tiny');
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('inspect', () => {
  it('reads back what the writer wrote', async () => {
    const details = await inspectModelFile(nl, tiny, llama);
    expect(details).toMatchObject({
      path: tiny,
      architecture: 'llama',
      name: 'clemplay-tiny',
      parameter_count: 147_776,
      quantization: 'F32',
      context_length: 512,
      has_chat_template: true,
      supported: true,
      problem: null,
      gguf_version: 3,
      tensor_count: 21,
      layer_count: 2,
      tensor_types: { F32: 21 },
      chat_template: defaultChatTemplate,
    });
    expect(details.metadata['general.architecture']).toBe('llama');
    expect(details.metadata['llama.context_length']).toBe(512);
    expect(details.metadata['llama.attention.head_count']).toBe(4);
    expect(details.metadata['tokenizer.ggml.bos_token_id']).toBe(1);
    expect(details.metadata['tokenizer.chat_template']).toBe(defaultChatTemplate);
    // The 512-token vocabulary is summarised, not listed.
    expect(details.metadata['tokenizer.ggml.tokens']).toEqual({
      type: 'array',
      element_type: 'string',
      length: 512,
      first: ['<unk>', '<s>', '</s>', '<0x00>', '<0x01>', '<0x02>', '<0x03>', '<0x04>'],
    });
  });

  it('names the quantization of quantized files', async () => {
    const q4 = await ensureTestModel({ ...ggufPresets.tiny, tensorType: 'Q4_0' });
    const { summary } = await summarizeModelFile(nl, q4);
    expect(summary.quantization).toBe('Q4_0');
    expect(summary.supported).toBeNull();
  });

  it('flattens nested metadata and summarises only arrays over the limit', () => {
    const long = Array.from({ length: metadataArrayLimit + 1 }, (_, index) => index);
    expect(flattenMetadata({ a: { b: 1, c: [1, 2] }, big: long, id: 5n })).toEqual({
      'a.b': 1,
      'a.c': [1, 2],
      big: { type: 'array', element_type: 'number', length: 65, first: [0, 1, 2, 3, 4, 5, 6, 7] },
      id: 5,
    });
  });
});

describe('files that cannot be loaded', () => {
  it('a missing file is not-found', async () => {
    const error = await rejection(checkGgufMagic(join(folder, 'missing.gguf')));
    expect(error.code).toBe('not-found');
    expect(error.message).toMatch(/No model file at .*missing\.gguf/);
  });

  it('a file that is not a GGUF says what its first bytes are', async () => {
    const path = join(folder, 'random.gguf');
    await writeNotGguf(path);
    const error = await rejection(inspectModelFile(nl, path, llama));
    expect(error.code).toBe('model-load');
    expect(error.message).toMatch(/is not a GGUF file: it starts with bytes [0-9a-f ]{11}, not "GGUF"/);
    const html = join(folder, 'page.gguf');
    await writeFile(html, '<!DOCTYPE html><html>Not found</html>');
    expect((await rejection(checkGgufMagic(html))).message).toMatch(/looks like an HTML or XML page/);
  });

  it('truncated tensor data and truncated metadata are both found before llama.cpp sees them', async () => {
    const data = join(folder, 'truncated-data.gguf');
    await writeTruncatedGguf(data, 'tensor-data');
    const { summary } = await summarizeModelFile(nl, data, llama);
    expect(summary.architecture).toBe('llama');
    expect(summary.problem?.code).toBe('model-load');
    expect(summary.problem?.message).toMatch(
      /is truncated or corrupt: it has [\d,]+ bytes, but its tensors need [\d,]+/,
    );

    const header = join(folder, 'truncated-header.gguf');
    await writeTruncatedGguf(header, 'metadata');
    const cut = await summarizeModelFile(nl, header, llama);
    expect(cut.summary.problem?.code).toBe('corrupt');
    expect(cut.summary.problem?.message).toMatch(
      /is corrupt at byte [\d,]+: metadata tokenizer\.ggml\.tokens says it has 512 items, .*\(truncated, or damaged\)/,
    );
  });

  it('an unknown architecture is named', async () => {
    const path = join(folder, 'made-up.gguf');
    await writeGguf(path, { ...ggufPresets.tiny, architecture: 'made-up-arch' });
    const details = await inspectModelFile(nl, path, llama);
    expect(details.architecture).toBe('made-up-arch');
    expect(details.supported).toBe(false);
    expect(details.problem?.message).toMatch(
      /has architecture "made-up-arch", which this llama\.cpp .* does not support/,
    );
  });
});

describe('scanning folders', () => {
  it('finds .gguf files below the models folders, first split parts only, and reports missing folders', async () => {
    const models = join(folder, 'models');
    await mkdir(join(models, 'publisher', 'repo'), { recursive: true });
    await mkdir(join(models, '.hidden'), { recursive: true });
    await copyFile(tiny, join(models, 'publisher', 'repo', 'tiny.gguf'));
    await copyFile(tiny, join(models, 'big-00001-of-00002.gguf'));
    await writeFile(join(models, 'big-00002-of-00002.gguf'), '');
    await writeFile(join(models, 'notes.txt'), '');
    await writeFile(join(models, 'partial.gguf.ipull'), '');
    await writeFile(join(models, '.hidden', 'x.gguf'), '');
    const found = await findModelFiles([models, join(folder, 'nowhere')]);
    expect(found.files).toEqual([
      join(models, 'big-00001-of-00002.gguf'),
      join(models, 'publisher', 'repo', 'tiny.gguf'),
    ]);
    expect(found.folders).toEqual([
      { path: models, exists: true },
      { path: join(folder, 'nowhere'), exists: false },
    ]);
  });
});

describe('registry entries', () => {
  it('makes a llamacpp entry from a file', async () => {
    const { summary } = await summarizeModelFile(nl, tiny);
    expect(registryEntryForModel(summary)).toEqual({
      model_name: modelNameForFile(summary.file_name),
      backend: 'llamacpp',
      model_path: tiny,
      open_weight: true,
      context_size: '512',
    });
    expect(registryEntryForModel(summary, { modelName: 'mine' }).model_name).toBe('mine');
  });

  it('derives names and context descriptions as registries write them', () => {
    expect(modelNameForFile('hf_bartowski_Qwen2.5-0.5B-Instruct-Q4_K_M.gguf')).toBe('qwen2.5-0.5b-instruct-q4_k_m');
    expect(modelNameForFile('My Model (v2).GGUF')).toBe('my-model-v2');
    expect([512, 2048, 32_768, 131_072, 100_000].map(describeContextLength)).toEqual([
      '512',
      '2k',
      '32k',
      '128k',
      '100k',
    ]);
  });
});
