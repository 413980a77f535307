import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src-shared/json.js';
import { findAppRoot } from '../paths.js';
import { rejection } from '../testing/rejection.js';
import { firstInvalidUtf8Offset, parseRegistryText, readRegistryFile, registryEntryProblem } from './registry-file.js';
import { RegistryStack } from './registry-stack.js';

// Registry files are input from disk (a cloned folder's ./model_registry.json among them): whatever they hold must end
// in a clear error that names the file and the place, never a stack overflow, a misleading no-match, or a rewrite
// that loses what the person wrote.
const folder = (): string => mkdtempSync(join(tmpdir(), 'clemplay-hostile-registry-'));

/** `{"a": {"a": … 1 …}}`, `depth` objects deep, as text (JSON.stringify itself would overflow on the deepest). */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function deepRegistry(depth: number): string {
  return `[{"model_name": "deep", "backend": "openai", "model_config": ${nested(depth)}}]`;
}

function clemplay(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [join(findAppRoot(), 'bin', 'clemplay.mjs'), ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, XDG_CONFIG_HOME: join(cwd, 'config'), XDG_DATA_HOME: join(cwd, 'data') },
  });
}

describe('registry files nested too deep', () => {
  it.each([600, 100_000])('%i levels: an input error naming the file, the entry and the path', (depth) => {
    const content = parseRegistryText('/r.json', deepRegistry(depth));
    expect(content).toMatchObject({
      status: 'error',
      problem: {
        entryIndex: 0,
        keyPath: expect.stringMatching(/^model_config\.a\.a\.a\.a\.a… \(\d+ levels down\)$/),
        message: expect.stringContaining('/r.json: entry 0: "model_config.a.a.a.a.a… ('),
      },
    });
  });

  it('`clemplay resolve --registry` exits 2 with the file and the path, not error[internal] or no-match', () => {
    const cwd = folder();
    writeFileSync(join(cwd, 'deep.json'), deepRegistry(100_000));
    const run = clemplay(cwd, 'resolve', 'deep', '--registry', join(cwd, 'deep.json'));
    expect(run.stderr).toContain(`error[invalid-spec]: ${join(cwd, 'deep.json')}: entry 0: "model_config.a.a.a`);
    expect(run.stderr).toContain('nested deeper than 512 levels');
    expect(run.status).toBe(2);
  });

  it('a saved entry nested too deep is refused and nothing is written', async () => {
    const directory = folder();
    const path = join(directory, 'model_registry.json');
    const stack = await RegistryStack.open([{ path, role: 'user' }]);
    const entry = JSON.parse(`{"model_name": "deep", "backend": "openai", "x": ${nested(1000)}}`) as JsonObject;
    expect(registryEntryProblem(entry)).toContain('nested deeper than 512 levels');
    const error = await rejection(stack.save({ entry }));
    expect(error.code).toBe('invalid-spec');
    expect(() => readFileSync(path)).toThrow();
    stack.close();
  });
});

describe('registry files that are not UTF-8', () => {
  const latin1 = Buffer.concat([
    Buffer.from('[{"model_name": "caf'),
    Buffer.from([0xe9]),
    Buffer.from('", "backend": "openai"}]\n'),
  ]);

  it('finds the first byte that is not UTF-8', () => {
    expect(firstInvalidUtf8Offset(latin1)).toBe(20);
    expect(firstInvalidUtf8Offset(Buffer.from('héllo → ✓ 🎲'))).toBe(Buffer.from('héllo → ✓ 🎲').length);
    expect(firstInvalidUtf8Offset(Buffer.from([0x61, 0xf0, 0x9f, 0x8e]))).toBe(1);
  });

  it('is reported with the byte offset and never rewritten with U+FFFD', async () => {
    const directory = folder();
    const path = join(directory, 'model_registry.json');
    writeFileSync(path, latin1);
    expect(await readRegistryFile(path)).toMatchObject({
      status: 'error',
      problem: {
        byteOffset: 20,
        message: `${path}: byte 20 (0xe9) is not UTF-8; save the file as UTF-8 (clemplay will not rewrite it until then)`,
      },
    });
    const stack = await RegistryStack.open([{ path, role: 'user' }]);
    await expect(stack.save({ entry: { model_name: 'new', backend: 'openai' } })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('byte 20 (0xe9) is not UTF-8'),
    });
    expect(readFileSync(path)).toEqual(latin1);
    stack.close();
  });
});

describe('duplicate keys in an entry', () => {
  const text = '[\n  {"model_name": "twice", "backend": "openai", "backend": "human"}\n]\n';

  it('a save to the file is refused naming the key, and the file keeps both', async () => {
    const directory = folder();
    const path = join(directory, 'model_registry.json');
    writeFileSync(path, text);
    const stack = await RegistryStack.open([{ path, role: 'user' }]);
    // Lookups read it as JSON does (the last one wins): the check is for edits, off the lookup path.
    expect(stack.resolve('twice').spec.backend).toBe('human');
    await expect(stack.save({ entry: { model_name: 'new', backend: 'openai' } })).rejects.toMatchObject({
      message: expect.stringContaining(`${path}:2:48: the key "backend" appears twice in one entry`),
    });
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(await readRegistryFile(path, { forEditing: true })).toMatchObject({
      status: 'error',
      problem: { duplicateKey: 'backend', line: 2, column: 48 },
    });
    stack.close();
  });

  it('keys that repeat in different objects are fine', async () => {
    const directory = folder();
    const path = join(directory, 'model_registry.json');
    writeFileSync(
      path,
      JSON.stringify([
        { model_name: 'a', backend: 'openai', model_config: { backend: 'x', nested: { backend: 'y' } } },
        { model_name: 'b', backend: 'openai' },
      ]),
    );
    expect(await readRegistryFile(path, { forEditing: true })).toMatchObject({ status: 'ok' });
  });
});
