import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureTestModel } from '../../scripts/test-models.js';
import { createTestServices } from '../testing/services.js';
import { readLoadSettings } from '../llama/settings.js';
import { apiRouter } from './router.js';
import { createCallerFactory } from './trpc.js';

const createCaller = createCallerFactory(apiRouter);

describe('settings API: models folders', () => {
  it('uses new models folders at once and keeps them for the next start', async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'clemplay-settings-config-'));
    const models = mkdtempSync(join(tmpdir(), 'clemplay-settings-models-'));
    copyFileSync(await ensureTestModel('tiny'), join(models, 'kept.gguf'));

    const first = await createTestServices({ configDir });
    const api = createCaller({ services: first, transport: 'in-process' });
    expect((await api.localModels.list()).models).toEqual([]);
    expect(await api.settings.setModelsDirs({ folders: [models] })).toEqual({ models_dirs: [models] });
    expect((await api.localModels.list()).models.map((model) => model.file_name)).toEqual(['kept.gguf']);
    expect((await api.settings.get()).settings).toEqual({ models_dirs: [models] });
    await first.dispose();

    const second = await createTestServices({ configDir });
    expect(second.localModels.modelsDirs).toEqual([models]);
    await second.dispose();
  });

  it('lets CLEMPLAY_MODELS_DIRS win for one run', async () => {
    const configDir = mkdtempSync(join(tmpdir(), 'clemplay-settings-config-'));
    const saved = await createTestServices({ configDir });
    await createCaller({ services: saved, transport: 'in-process' }).settings.setModelsDirs({ folders: ['/saved'] });
    const once = await createTestServices({ configDir, environment: { CLEMPLAY_MODELS_DIRS: '/one-off' } });
    expect(once.localModels.modelsDirs).toEqual(['/one-off']);
  });

  it('refuses an empty list, NUL bytes and the root of the file system, and saves nothing then', async () => {
    const services = await createTestServices();
    const api = createCaller({ services, transport: 'in-process' });
    await expect(api.settings.setModelsDirs({ folders: [] })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(api.settings.setModelsDirs({ folders: ['/tmp/a\u0000b'] })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('NUL'),
    });
    for (const root of ['/', '/..', '//']) {
      await expect(api.settings.setModelsDirs({ folders: ['/tmp/models', root] })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringContaining('the root of the file system'),
      });
    }
    expect((await api.settings.get()).settings).toEqual({});
  });
});

describe('settings API: threads', () => {
  it('saves a thread count that the next load and system.gpu use, and goes back to auto', async () => {
    const services = await createTestServices();
    const api = createCaller({ services, transport: 'in-process' });
    try {
      expect(await api.settings.setThreads({ threads: 3 })).toEqual({ threads: 3 });
      expect((await api.settings.get()).settings).toEqual({ threads: 3 });
      expect((await services.localModels.gpu()).threads.setting).toBe(3);
      const loaded = await services.localModels.runtime.load(
        await ensureTestModel('tiny'),
        readLoadSettings({ context_size: 256 }),
      );
      expect(loaded.resolved).toMatchObject({ threads: 3, threads_from: 'setting' });
      await api.settings.setThreads({ threads: 'auto' });
      expect((await services.localModels.gpu()).threads).toMatchObject({
        setting: 'auto',
        file: join(services.dataDir, 'thread-calibration.json'),
      });
      await expect(api.settings.setThreads({ threads: 0 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    } finally {
      await services.dispose();
    }
  });
});
