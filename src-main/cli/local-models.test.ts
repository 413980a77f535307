import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Llama } from 'node-llama-cpp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeTruncatedGguf } from '../../scripts/make-gguf.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import { AppError } from '../../src-shared/errors.js';
import { type FakeModelServer, startFakeModelServer } from '../llama/fake-model-server.js';
import { LocalModelRuntime } from '../llama/runtime.js';
import { createLocalModelService } from '../llama/service.js';
import { formatCount, registerLocalModelCommands } from './local-models.js';

let folder = '';
let tiny = '';
let owner: LocalModelRuntime;
let llama: Llama;
let server: FakeModelServer;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'clemplay-cli-local-'));
  tiny = await ensureTestModel('tiny');
  owner = new LocalModelRuntime({ gpu: false });
  llama = await owner.getLlama();
  server = await startFakeModelServer({ '/tiny.gguf': tiny });
});

afterAll(async () => {
  await server.close();
  await owner.dispose();
  await rm(folder, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs one command line; returns what it printed, or rejects as the command failed. */
async function run(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command('clemplay').exitOverride();
  registerLocalModelCommands(program, {
    // Each command disposes its service; the Llama instance is shared and outlives them.
    createService: (modelsDirs) =>
      createLocalModelService({ modelsDirs: modelsDirs ?? [join(folder, 'models')], llama }),
  });
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'clemplay', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  return { stdout, stderr };
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('clemplay inspect', () => {
  it('describes a model file for people', async () => {
    const { stdout } = await run('inspect', tiny);
    expect(stdout).toMatch(/^architecture +llama \(supported\)$/m);
    expect(stdout).toMatch(/^parameters +148K \(147,776\)$/m);
    expect(stdout).toMatch(/^quantization +F32$/m);
    expect(stdout).toMatch(/^context length +512 tokens$/m);
    expect(stdout).toMatch(/^chat template +yes/m);
    expect(stdout).toMatch(/^ {2}tokenizer\.ggml\.tokens +\{"type":"array","element_type":"string","length":512/m);
  });

  it('prints everything as JSON with --json', async () => {
    const details = JSON.parse((await run('inspect', tiny, '--json')).stdout) as { metadata: Record<string, unknown> };
    expect(details.metadata['general.name']).toBe('clemplay-tiny');
  });

  it('fails with the reason for files that will not load', async () => {
    const truncated = join(folder, 'cut.gguf');
    await writeTruncatedGguf(truncated);
    const error = await failure(run('inspect', truncated));
    expect(error.code).toBe('model-load');
    expect(error.message).toMatch(/truncated/);
    expect((await failure(run('inspect', join(folder, 'none.gguf')))).code).toBe('not-found');
  });
});

describe('clemplay gpu', () => {
  it('names the compute backend', async () => {
    expect((await run('gpu')).stdout).toMatch(/^compute backend +CPU/m);
    expect(JSON.parse((await run('gpu', '--json')).stdout)).toMatchObject({ backend: 'cpu', vram: null });
  });
});

describe('clemplay pull', () => {
  it('downloads with progress on stderr and prints the path', async () => {
    const directory = join(folder, 'pulled');
    const { stdout, stderr } = await run('pull', `${server.url}/tiny.gguf`, '--dir', directory);
    expect(stdout).toBe(`${join(directory, 'tiny.gguf')}\n`);
    expect((await stat(join(directory, 'tiny.gguf'))).size).toBe((await stat(tiny)).size);
    expect(stderr).toMatch(/100\.0%/);
    expect((await run('pull', `${server.url}/tiny.gguf`, '--dir', directory)).stderr).toMatch(/already downloaded/);
  });

  it('fails with network when the server is unreachable', async () => {
    const closed = await startFakeModelServer({});
    await closed.close();
    expect((await failure(run('pull', `${closed.url}/x.gguf`, '--dir', join(folder, 'x')))).code).toBe('network');
  });
});

describe('help', () => {
  it('lists the commands', () => {
    const program = new Command('clemplay');
    registerLocalModelCommands(program);
    const help = program.helpInformation();
    for (const command of ['inspect', 'gpu', 'pull']) expect(help).toContain(command);
  });

  it('counts parameters as people do', () => {
    expect([512, 147_776, 148_261_632, 7_240_000_000].map(formatCount)).toEqual(['512', '148K', '148M', '7.2B']);
  });
});
