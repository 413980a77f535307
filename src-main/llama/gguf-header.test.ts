import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Llama } from 'node-llama-cpp';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeGgufHeader, type GgufHeaderField, type GgufMetadata } from '../../scripts/gguf-writer.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import { findAppRoot } from '../paths.js';
import { rejection } from '../testing/rejection.js';
import { checkGgufHeader, ggufHeaderLimits } from './gguf-header.js';
import { summarizeModelFile } from './gguf-file.js';
import { loadNodeLlamaCpp, type NodeLlamaCppModule } from './node-llama.js';
import { createLocalModelService } from './service.js';

let nl: NodeLlamaCppModule;
let llama: Llama;
const folder = mkdtempSync(join(tmpdir(), 'clemplay-gguf-header-'));
let fileNumber = 0;

beforeAll(async () => {
  nl = await loadNodeLlamaCpp();
  llama = await nl.getLlama({ gpu: false, build: 'never', logLevel: nl.LlamaLogLevel.error });
});

function write(bytes: Buffer): string {
  fileNumber += 1;
  const path = join(folder, `file-${fileNumber}.gguf`);
  writeFileSync(path, bytes);
  return path;
}

/** A small but complete model file by our writer: metadata of every kind it writes, two tensors, zero weights. */
function smallModel(): { bytes: Buffer; fields: readonly GgufHeaderField[]; dataOffset: number } {
  const metadata: GgufMetadata = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'hostile-test' }],
    ['general.alignment', { type: 'uint32', value: 32 }],
    ['llama.context_length', { type: 'uint32', value: 128 }],
    ['llama.rope.freq_base', { type: 'float32', value: 10000 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.tokens', { type: 'string-array', value: ['<unk>', '<s>', '</s>', 'a', 'b'] }],
    ['tokenizer.ggml.scores', { type: 'float32-array', value: [0, 0, 0, -1, -2] }],
    ['tokenizer.ggml.token_type', { type: 'int32-array', value: [2, 3, 3, 1, 1] }],
  ];
  const layout = encodeGgufHeader(
    metadata,
    [
      { name: 'token_embd.weight', dimensions: [8, 5], type: 'F32' },
      { name: 'output_norm.weight', dimensions: [8], type: 'F32' },
    ],
    32,
  );
  const bytes = Buffer.alloc(layout.fileLength);
  layout.header.copy(bytes);
  return { bytes, fields: layout.fields, dataOffset: layout.dataOffset };
}

/** A copy of `bytes` with one counted field set to `value`. */
function withField(bytes: Buffer, field: GgufHeaderField, value: bigint): Buffer {
  const copy = Buffer.from(bytes);
  // A field a cut removed stays removed.
  if (field.offset + field.bytes > copy.length) return copy;
  if (field.bytes === 4) copy.writeUInt32LE(Number(value & 0xffff_ffffn), field.offset);
  else copy.writeBigUInt64LE(value & 0xffff_ffff_ffff_ffffn, field.offset);
  return copy;
}

/** The 65-byte file of the report: GGUF v3, no tensors, one key whose u8 array claims 2^40 items. */
function hugeArrayFile(): Buffer {
  const key = Buffer.from('general.hostile_a');
  const bytes = Buffer.alloc(4 + 4 + 8 + 8 + 8 + key.length + 4 + 4 + 8);
  let at = bytes.write('GGUF', 0, 'latin1');
  at = bytes.writeUInt32LE(3, at);
  at = bytes.writeBigUInt64LE(0n, at);
  at = bytes.writeBigUInt64LE(1n, at);
  at = bytes.writeBigUInt64LE(BigInt(key.length), at);
  at += key.copy(bytes, at);
  at = bytes.writeUInt32LE(9, at);
  at = bytes.writeUInt32LE(0, at);
  bytes.writeBigUInt64LE(2n ** 40n, at);
  return bytes;
}

describe('hostile GGUF headers', () => {
  it('the report’s 65-byte file: `clemplay inspect` fails with corrupt and the offset, and does not die', () => {
    const path = write(hugeArrayFile());
    expect(hugeArrayFile().length).toBe(65);
    const result = spawnSync(process.execPath, [join(findAppRoot(), 'bin', 'clemplay.mjs'), 'inspect', path], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stderr).toContain(`error[corrupt]: ${path} is corrupt at byte 57:`);
    expect(result.stderr).toContain('says it has 1,099,511,627,776 items; clemplay reads at most 16,777,216 per array');
    expect(result.status).toBe(2);
  });

  it('a models folder with the file lists it as corrupt with the offset, next to a good model', async () => {
    const models = join(folder, 'models');
    await mkdir(models, { recursive: true });
    writeFileSync(join(models, 'hostile.gguf'), hugeArrayFile());
    copyFileSync(await ensureTestModel('tiny'), join(models, 'good.gguf'));
    const service = createLocalModelService({ modelsDirs: [models], llama });
    try {
      const { models: listed } = await service.list();
      expect(listed.map((model) => [model.file_name, model.problem?.code ?? null])).toEqual([
        ['good.gguf', null],
        ['hostile.gguf', 'corrupt'],
      ]);
      expect(listed[1]?.problem?.details).toEqual({ path: join(models, 'hostile.gguf'), offset: 57 });
      const load = await rejection(service.load({ backend: 'llamacpp', model_path: join(models, 'hostile.gguf') }));
      expect(load.code).toBe('corrupt');
    } finally {
      await service.dispose();
    }
  });

  it('counts near 2^63 are refused at once, at the field that states them', async () => {
    const { bytes, fields } = smallModel();
    for (const kind of ['tensor-count', 'metadata-count'] as const) {
      const field = fields.find((candidate) => candidate.kind === kind)!;
      const error = await rejection(checkGgufHeader(write(withField(bytes, field, 2n ** 63n - 1n))));
      expect(error.code).toBe('corrupt');
      expect(error.details).toMatchObject({ offset: field.offset });
    }
  });

  it('every counted field set to a huge value is corrupt at that field', async () => {
    const { bytes, fields } = smallModel();
    for (const field of fields) {
      if (field.kind === 'tensor-offset' || field.kind === 'dimension') continue;
      for (const value of field.bytes === 4 ? [0xffff_ffffn] : [2n ** 40n, 2n ** 63n, 2n ** 64n - 1n]) {
        const error = await rejection(checkGgufHeader(write(withField(bytes, field, value))));
        expect([error.code, error.details?.offset]).toEqual(['corrupt', field.offset]);
      }
    }
  });

  it('a header cut at any field boundary is corrupt, never read past its end', async () => {
    const { bytes, fields, dataOffset } = smallModel();
    const cuts = new Set([
      0,
      2,
      ...fields.flatMap((field) => [field.offset, field.offset + 1, field.offset + field.bytes]),
    ]);
    for (const cut of [...cuts].filter((offset) => offset < dataOffset - 32)) {
      const error = await rejection(checkGgufHeader(write(bytes.subarray(0, cut))));
      expect(error.code).toBe('corrupt');
      expect(Number(error.details?.offset)).toBeLessThanOrEqual(cut);
    }
  });

  it('accepts what the writer writes, and the test models', async () => {
    const { bytes, dataOffset } = smallModel();
    expect(await checkGgufHeader(write(bytes))).toEqual({ version: 3, tensorCount: 2, metadataCount: 9, dataOffset });
    const tiny = await ensureTestModel('tiny');
    expect((await checkGgufHeader(tiny)).tensorCount).toBe(21);
  });

  it('refuses arrays over the per-array cap even when the file is big enough', async () => {
    const { bytes, fields } = smallModel();
    const length = fields.find((field) => field.kind === 'array-length')!;
    const padded = Buffer.concat([withField(bytes, length, BigInt(ggufHeaderLimits.arrayLength + 1)), Buffer.alloc(1)]);
    const error = await rejection(checkGgufHeader(write(padded)));
    expect(error.message).toContain('at most 16,777,216 per array');
  });

  it('fuzzed headers (fields, bytes, cuts): listing never throws, never hangs, and says what is wrong', async () => {
    const { bytes, fields } = smallModel();
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('field' as const),
        field: fc.constantFrom(...fields),
        value: fc.oneof(
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          fc.constantFrom(0n, 1n, 2n ** 31n, 2n ** 32n, 2n ** 40n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
        ),
      }),
      fc.record({
        kind: fc.constant('byte' as const),
        offset: fc.nat({ max: bytes.length - 1 }),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant('cut' as const), length: fc.nat({ max: bytes.length }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        let mutated: Buffer = Buffer.from(bytes);
        for (const step of mutations) {
          if (step.kind === 'field') mutated = withField(mutated, step.field, step.value);
          else if (step.kind === 'byte') mutated[step.offset] = step.value;
          else mutated = mutated.subarray(0, step.length);
        }
        const path = write(mutated);
        const { summary } = await summarizeModelFile(nl, path, llama, true);
        if (summary.problem !== null) {
          expect(summary.problem.message.length).toBeGreaterThan(0);
          if (summary.problem.code === 'corrupt') expect(typeof summary.problem.details?.offset).toBe('number');
        }
      }),
      { numRuns: 300, seed: 0x6767_7566 },
    );
  }, 120_000);
});
