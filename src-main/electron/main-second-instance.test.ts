import { describe, expect, it, vi } from 'vitest';

// A second start while clemplay runs: the lock is taken. Electron is the stand-in of fake-electron.ts.
const electron = await vi.hoisted(async () =>
  (await import('./fake-electron.js')).createFakeElectron({ singleInstance: false }),
);
vi.mock('electron', () => electron);

describe('Electron main, second instance (electron mocked)', () => {
  it('quits at once and opens nothing: the first instance focuses its own window', async () => {
    const whenReady = vi.spyOn(electron.app, 'whenReady');
    await import('./main.js');
    expect(electron.app.requestSingleInstanceLock).toHaveBeenCalledTimes(1);
    expect(electron.app.quit).toHaveBeenCalledTimes(1);
    expect(whenReady).not.toHaveBeenCalled();
    expect(electron.windows).toEqual([]);
  });
});
