import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-write.js';

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
