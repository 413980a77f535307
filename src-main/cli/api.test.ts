import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { findAppRoot } from '../paths.js';

// `clemplay api` as a user runs it: the real entry point, in a fresh home, with the real openai SDK as the client.
const root = findAppRoot();
const bin = join(root, 'bin', 'clemplay.mjs');
const running: ChildProcessWithoutNullStreams[] = [];

afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

interface StartedApi {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr: () => string;
  /** Resolves once stderr contains `text`. */
  untilStderr(text: string): Promise<void>;
}

/** Starts `clemplay api ARGS` and resolves once it printed `count` lines on stdout. */
function startApi(home: string, args: string[], count = 2, environment: NodeJS.ProcessEnv = {}): Promise<StartedApi> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.endsWith('_API_KEY')));
  const child = spawn(process.execPath, [bin, 'api', ...args], {
    cwd: home,
    env: {
      ...inherited,
      HOME: home,
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_DATA_HOME: join(home, 'data'),
      ...environment,
    },
  });
  running.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const lines = stdout.split('\n').slice(0, -1);
      if (lines.length < count) return;
      const untilStderr = (text: string) =>
        new Promise<void>((found) => {
          const check = (): void => {
            if (!stderr.includes(text)) return;
            child.stderr.off('data', check);
            found();
          };
          child.stderr.on('data', check);
          check();
        });
      resolve({ child, lines, stderr: () => stderr, untilStderr });
    });
    child.once('exit', (code) => reject(new Error(`clemplay api exited with ${code}: ${stderr}`)));
  });
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

async function fixture(): Promise<{ home: string; registry: string }> {
  const home = await mkdtemp(join(tmpdir(), 'clemplay-cli-api-'));
  const registry = join(home, 'model_registry.json');
  await writeFile(
    registry,
    JSON.stringify([{ model_name: 'echo', backend: 'programmatic', responses: ['hello back'] }]),
  );
  return { home, registry };
}

describe('clemplay api', () => {
  it('prints its URL and a generated key, serves the openai SDK, logs requests without the key, and keeps the key', async () => {
    const { home, registry } = await fixture();
    const first = await startApi(home, ['--port', '0', '--registry', registry]);
    const url = /^clemplay: OpenAI-compatible API at (http:\/\/127\.0\.0\.1:\d+\/v1)$/.exec(first.lines[0] ?? '')?.[1];
    const key = /^clemplay: API key (clemplay-[\w-]+)$/.exec(first.lines[1] ?? '')?.[1];
    expect(url).toBeDefined();
    expect(key).toBeDefined();
    const client = new OpenAI({ apiKey: key!, baseURL: url!, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]!.message.content).toBe('hello back');
    await first.untilStderr('clemplay: 200 echo from OpenAI/JS');
    expect(first.stderr()).not.toContain(key!);
    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);

    const second = await startApi(home, ['--port', '0', '--registry', registry]);
    expect(second.lines[1]).toBe(`clemplay: API key ${key}`);
    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);
  });

  it('takes the key from CLEMPLAY_API_KEY, and warns when bound to another address', async () => {
    const { home, registry } = await fixture();
    const started = await startApi(home, ['--port', '0', '--host', '127.0.0.2', '--registry', registry], 2, {
      CLEMPLAY_API_KEY: 'key-from-the-environment',
    });
    expect(started.lines[0]).toMatch(/^clemplay: OpenAI-compatible API at http:\/\/127\.0\.0\.2:\d+\/v1$/);
    expect(started.lines[1]).toBe('clemplay: API key from CLEMPLAY_API_KEY');
    expect(started.stderr()).toContain('warning: serving on 127.0.0.2');
    started.child.kill('SIGTERM');
    expect(await exited(started.child)).toBe(0);
  });

  it('fails with exit 2 for a --registry file that does not exist', async () => {
    const { home } = await fixture();
    const child = spawn(process.execPath, [bin, 'api', '--port', '0', '--registry', join(home, 'missing.json')], {
      cwd: home,
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config') },
    });
    running.push(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await exited(child)).toBe(2);
    expect(stderr).toContain('no such registry file');
  });
});
