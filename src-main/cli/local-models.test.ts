import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Llama } from 'node-llama-cpp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeTruncatedGguf } from '../../scripts/make-gguf.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import { findAppRoot } from '../paths.js';
import { type FakeModelServer, startFakeModelServer } from '../llama/fake-model-server.js';
import { LocalModelRuntime } from '../llama/runtime.js';
import { createLocalModelService } from '../llama/service.js';
import { rejection } from '../testing/rejection.js';
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
    const error = await rejection(run('inspect', truncated));
    expect(error.code).toBe('model-load');
    expect(error.message).toMatch(/truncated/);
    expect((await rejection(run('inspect', join(folder, 'none.gguf')))).code).toBe('not-found');
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

  it('--name saves under that name; a name that climbs out of --dir or hides itself is refused', async () => {
    const directory = join(folder, 'named');
    const { stdout } = await run('pull', `${server.url}/tiny.gguf`, '--dir', directory, '--name', 'my-model.gguf');
    expect(stdout).toBe(`${join(directory, 'my-model.gguf')}\n`);
    for (const name of ['../escape.gguf', '.profile', 'notes.txt']) {
      const error = await rejection(run('pull', `${server.url}/tiny.gguf`, '--dir', directory, '--name', name));
      expect([name, error.code]).toEqual([name, 'invalid-input']);
    }
    expect(await readdir(directory)).toEqual(['my-model.gguf']);
  });

  it('fails with network when the server is unreachable', async () => {
    const closed = await startFakeModelServer({});
    await closed.close();
    expect((await rejection(run('pull', `${closed.url}/x.gguf`, '--dir', join(folder, 'x')))).code).toBe('network');
  });
});

describe('clemplay chat with a llamacpp spec', () => {
  /** Runs the built CLI as a person does, with config and data folders of its own (see chat.test.ts). */
  function clemplay(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const home = join(folder, 'chat-home');
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(findAppRoot(), 'bin', 'clemplay.mjs'), ...args], {
        cwd: folder,
        env: { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data') },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (status) => resolve({ status, stdout, stderr }));
      child.stdin.end();
    });
  }

  const spec = (modelPath: string): string =>
    JSON.stringify({ backend: 'llamacpp', model_name: 'tiny', model_path: modelPath, threads: 1, context_size: 256 });

  it('loads the model, streams the reply and exits', async () => {
    const run = await clemplay(['chat', spec(tiny), 'hi', '--max-tokens', '4', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      text: expect.any(String),
      usage: { input_tokens: expect.any(Number), output_tokens: 4 },
      finish_reason: 'length',
    });
  });

  it('says which file is missing', async () => {
    const run = await clemplay(['chat', spec(join(folder, 'absent.gguf')), 'hi', '--json']);
    expect(run.status).not.toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      finish_reason: 'error',
      error: { code: 'not-found', message: expect.stringMatching(/No model file .*absent\.gguf/) },
    });
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
