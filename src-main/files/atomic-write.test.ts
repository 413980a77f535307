import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAppRoot } from '../paths.js';
import { createTestServices } from '../testing/services.js';
import { removeStaleTempFiles, writeFileAtomic } from './atomic-write.js';

const folder = () => mkdtempSync(join(tmpdir(), 'clemplay-atomic-'));

describe('writeFileAtomic', () => {
  it('writes a new file, creating its folder', async () => {
    const path = join(folder(), 'a', 'b.json');
    await writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });

  it('keeps the replaced file’s mode, and the previous version as .bak when asked', async () => {
    const path = join(folder(), 'private.json');
    writeFileSync(path, 'old', { mode: 0o600 });
    await writeFileAtomic(path, 'new', { backup: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${path}.bak`, 'utf8')).toBe('old');
  });

  it('sets an explicit mode whatever the umask', async () => {
    const path = join(folder(), 'secret.json');
    await writeFileAtomic(path, 'x', { mode: 0o600 });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('leaves the original intact and no temp file behind when it dies before the rename', async () => {
    const directory = folder();
    const path = join(directory, 'registry.json');
    writeFileSync(path, 'original');
    await expect(
      writeFileAtomic(path, 'replacement', {
        beforeRename: async () => {
          throw new Error('crash');
        },
      }),
    ).rejects.toThrow('crash');
    expect(readFileSync(path, 'utf8')).toBe('original');
    expect(readdirSync(directory)).toEqual(['registry.json']);
  });
});

describe('a save killed at the worst moment', () => {
  const child = join(findAppRoot(), 'src-main', 'testing', 'hammer-child.ts');
  const versionBytes = 32 * 1024 * 1024;

  /** Starts a child saving `path` with backups in a loop, and kills it the moment `<path>.bak` changes on disk. */
  async function killWhileBackingUp(path: string): Promise<void> {
    const worker = spawn(process.execPath, ['--import', 'tsx', child, 'backup', path, String(versionBytes)], {
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const watcher = watch(dirname(path), (_event, name) => {
      if (name === `${basename(path)}.bak`) worker.kill('SIGKILL');
    });
    try {
      await exited;
    } finally {
      watcher.close();
    }
  }

  function readVersion(path: string): number {
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: number }).version;
  }

  it('leaves a complete .bak every time, and the next start removes the dead writer’s temp files', async () => {
    const directory = folder();
    const path = join(directory, 'model_registry.json');
    writeFileSync(path, `${JSON.stringify({ version: 0, padding: 'x'.repeat(versionBytes) })}\n`);
    for (let run = 0; run < 6; run += 1) {
      await killWhileBackingUp(path);
      // Both files hold one whole version each (JSON.parse fails on a cut one).
      expect(readVersion(`${path}.bak`)).toBeGreaterThanOrEqual(0);
      expect(readVersion(path)).toBeGreaterThanOrEqual(0);
    }
    const leftovers = readdirSync(directory).filter((name) => name.endsWith('.tmp'));
    expect(leftovers.length).toBeGreaterThan(0);

    // A write in flight in a live process keeps its temp file.
    const live = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const inFlight = join(directory, `.model_registry.json.${live.pid}.0123456789ab.tmp`);
    writeFileSync(inFlight, 'partial');
    const someoneElses = join(directory, `.notes.txt.999999.0123456789ab.tmp`);
    writeFileSync(someoneElses, 'not ours');
    try {
      const removed = await removeStaleTempFiles(directory, (name) => name.startsWith('model_registry.json'));
      expect(removed.sort()).toEqual(leftovers.map((name) => join(directory, name)).sort());
      expect(readdirSync(directory).sort()).toEqual(
        [basename(inFlight), basename(someoneElses), 'model_registry.json', 'model_registry.json.bak'].sort(),
      );
    } finally {
      live.kill();
    }
  }, 120_000);
});

describe('at start', () => {
  it('the services remove the temp files dead writers left beside the config files, sessions and votes', async () => {
    const home = folder();
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.once('exit', resolve));
    const configDir = join(home, 'config');
    const sessions = join(home, 'data', 'sessions');
    mkdirSync(configDir, { recursive: true });
    mkdirSync(sessions, { recursive: true });
    const leftovers = [
      join(configDir, `.credentials.json.${dead.pid}.0123456789ab.tmp`),
      join(configDir, `.model_registry.json.bak.${dead.pid}.0123456789ab.tmp`),
      join(sessions, `.20240501-120000-a1b2c3.json.${dead.pid}.0123456789ab.tmp`),
      join(home, 'data', `.votes.json.${dead.pid}.0123456789ab.tmp`),
    ];
    for (const path of leftovers) writeFileSync(path, 'cut short');
    const services = await createTestServices({ configDir, dataDir: join(home, 'data') });
    await services.dispose();
    expect(readdirSync(configDir)).toEqual([]);
    expect(readdirSync(sessions)).toEqual([]);
    expect(readdirSync(join(home, 'data')).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
