import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { currentVersion } from '../../src-shared/conversation/transcript.js';
import { SessionStore } from '../conversation/session-store.js';
import { CredentialStore } from '../credentials/credential-store.js';
import { findAppRoot } from '../paths.js';
import { readRegistryFile } from '../registry/registry-file.js';
import { SettingsStore } from '../settings/settings-store.js';

// Two (or more) processes writing one file at once: every write a process was told succeeded must be in the file
// at the end. Each child prints `ok <what>` per acknowledged write (see hammer-child.ts).
const child = join(findAppRoot(), 'src-main', 'testing', 'hammer-child.ts');

interface ChildResult {
  acknowledged: string[];
  conflicts: number;
}

function hammer(...args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const worker = spawn(process.execPath, ['--import', 'tsx', child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    worker.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`the child ${args.join(' ')} exited ${code}: ${errors}`));
        return;
      }
      const lines = output.split('\n').filter((line) => line !== '');
      resolve({
        acknowledged: lines.filter((line) => line.startsWith('ok ')).map((line) => line.slice(3)),
        conflicts: lines.filter((line) => line === 'conflict').length,
      });
    });
  });
}

const folder = (): string => mkdtempSync(join(tmpdir(), 'clemplay-hammer-'));
const processes = 3;

describe('cross-process writers lose no acknowledged write', () => {
  it('withFileLock: read–increment–write from three processes counts every increment', async () => {
    const file = join(folder(), 'counter.json');
    const results = await Promise.all(Array.from({ length: processes }, () => hammer('counter', file, '40')));
    const acknowledged = results.reduce((sum, result) => sum + result.acknowledged.length, 0);
    expect(acknowledged).toBe(processes * 40);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ count: acknowledged });
  }, 120_000);

  it('the user registry keeps every entry a save acknowledged', async () => {
    const directory = folder();
    const results = await Promise.all(
      Array.from({ length: processes }, (_, index) => hammer('registry', directory, `p${index}`, '30')),
    );
    const acknowledged = results.flatMap((result) => result.acknowledged);
    expect(acknowledged).toHaveLength(processes * 30);
    const file = await readRegistryFile(join(directory, 'model_registry.json'));
    if (file.status !== 'ok') throw new Error(`the registry did not load: ${JSON.stringify(file)}`);
    const names = file.entries.map((entry) => entry.model_name);
    expect([...names].sort()).toEqual([...acknowledged].sort());
  }, 120_000);

  it('credentials.json keeps every key a set acknowledged', async () => {
    const directory = folder();
    const results = await Promise.all(
      Array.from({ length: processes }, (_, index) => hammer('credentials', directory, `p${index}`, '30')),
    );
    const acknowledged = results.flatMap((result) => result.acknowledged);
    expect(acknowledged).toHaveLength(processes * 30);
    const store = new CredentialStore({ configDir: directory, environment: {}, workingDirectory: directory });
    const missing: string[] = [];
    for (const backend of acknowledged) {
      if ((await store.get(backend)) !== `sk-${backend}-0123456789abcdef`) missing.push(backend);
    }
    expect(missing).toEqual([]);
  }, 120_000);

  it('settings.json keeps every trusted origin an add acknowledged', async () => {
    const directory = folder();
    const results = await Promise.all(
      Array.from({ length: processes }, (_, index) => hammer('settings', directory, `p${index}`, '30')),
    );
    const acknowledged = results.flatMap((result) => result.acknowledged);
    expect(acknowledged).toHaveLength(processes * 30);
    const saved = (await new SettingsStore(directory).read()).trusted_origins ?? [];
    expect([...saved].sort()).toEqual([...acknowledged].sort());
  }, 120_000);

  it('a saved session keeps every message a save acknowledged; a stale save is a conflict, not a loss', async () => {
    const directory = folder();
    const store = new SessionStore({ dataDir: directory });
    const at = new Date().toISOString();
    await store.save({
      version: 2,
      id: 'chat-1',
      kind: 'chat',
      title: '',
      created_at: at,
      updated_at: at,
      participants: [{ id: 'model', label: 'Model', query: 'mock' }],
      messages: [],
    });
    const results = await Promise.all(
      Array.from({ length: processes }, (_, index) => hammer('session', directory, `p${index}`, '20')),
    );
    const acknowledged = results.flatMap((result) => result.acknowledged);
    expect(acknowledged).toHaveLength(processes * 20);
    const saved = await store.get('chat-1');
    expect(saved.messages.map((message) => currentVersion(message).text).sort()).toEqual([...acknowledged].sort());
  }, 120_000);

  it('a lock left by a process that died is taken over once stale', async () => {
    const directory = folder();
    const file = join(directory, 'counter.json');
    writeFileSync(file, JSON.stringify({ count: 0 }));
    // What a killed holder leaves: the lock folder, never refreshed again.
    mkdirSync(`${file}.lock`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.lock`, old, old);
    const result = await hammer('counter', file, '1');
    expect(result.acknowledged).toEqual(['0']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ count: 1 });
  }, 60_000);
});
