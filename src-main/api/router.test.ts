import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestServices } from '../testing/services.js';
import { apiRouter } from './router.js';
import { activeTickers } from './routers/app.js';
import { createCallerFactory } from './trpc.js';

const services = await createTestServices();
const createCaller = createCallerFactory(apiRouter);
const caller = createCaller({ services, transport: 'in-process' });

describe('api router', () => {
  it('app.info names the version, the platform and the transport', async () => {
    const info = await caller.app.info();
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.platform).toBe(process.platform);
    expect(info.transport).toBe('in-process');
  });

  it('registry.list returns the official entries with their index and file', async () => {
    const rows = await caller.registry.list();
    expect(rows.length).toBeGreaterThan(5);
    rows.forEach((row, index) => {
      expect(row.index).toBe(index);
      expect(row.file).toBe(join(services.appRoot, 'registry', 'model_registry.json'));
      expect(row.lookupSource).toBe('official');
      expect(typeof row.entry.model_name).toBe('string');
      expect(typeof row.entry.backend).toBe('string');
    });
  });

  it('app.ticks counts up and stops when its signal aborts', async () => {
    const controller = new AbortController();
    const signalledCaller = createCaller({ services, transport: 'in-process' }, { signal: controller.signal });
    const ticks = await signalledCaller.app.ticks({ intervalMs: 10 });
    const seen: number[] = [];
    for await (const tick of ticks) {
      seen.push(tick.count);
      if (seen.length === 3) controller.abort();
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(activeTickers.count).toBe(0);
  });

  it('rejects invalid input with an invalid-input error', async () => {
    await expect(caller.app.ticks({ intervalMs: 1 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
