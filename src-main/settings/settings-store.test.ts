import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SettingsStore } from './settings-store.js';

const folder = () => mkdtempSync(join(tmpdir(), 'clemplay-settings-'));

describe('SettingsStore', () => {
  it('reads a missing file as the defaults, and keeps other settings on update', async () => {
    const directory = folder();
    const store = new SettingsStore(directory);
    expect(await store.read()).toEqual({});
    writeFileSync(store.path, JSON.stringify({ models_dirs: ['/a'], future_key: 1 }));
    await store.update({ models_dirs: ['/b', '/c'] });
    // A key this version does not know (a newer clemplay wrote it) is kept, not dropped.
    expect(JSON.parse(readFileSync(store.path, 'utf8'))).toEqual({ models_dirs: ['/b', '/c'], future_key: 1 });
    expect(await store.read()).toMatchObject({ models_dirs: ['/b', '/c'] });
  });

  it('says where a broken file is wrong and does not overwrite it', async () => {
    const store = new SettingsStore(folder());
    writeFileSync(store.path, '{"models_dirs": [}');
    await expect(store.read()).rejects.toMatchObject({
      code: 'invalid-input',
      message: expect.stringContaining(store.path),
    });
    await expect(store.update({ models_dirs: ['/x'] })).rejects.toMatchObject({ code: 'invalid-input' });
    expect(readFileSync(store.path, 'utf8')).toBe('{"models_dirs": [}');
    writeFileSync(store.path, '{"models_dirs": []}');
    await expect(store.read()).rejects.toMatchObject({ message: expect.stringContaining('"models_dirs"') });
  });
});
