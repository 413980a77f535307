import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MenuItemConstructorOptions } from 'electron';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as servicesModule from '../services.js';

// A packaged app, whose page fails to load (a damaged installation). Electron is the stand-in of fake-electron.ts.
const electron = await vi.hoisted(async () =>
  (await import('./fake-electron.js')).createFakeElectron({ isPackaged: true, loadFailure: 'ERR_FILE_NOT_FOUND (-6)' }),
);
vi.mock('electron', () => electron);

const servicesOptions = vi.hoisted((): Array<Record<string, unknown>> => []);
vi.mock('../services.js', async (importOriginal) => {
  const real = await importOriginal<typeof servicesModule>();
  return {
    ...real,
    createAppServices: (options: Parameters<typeof real.createAppServices>[0]) => {
      servicesOptions.push({ ...options });
      return real.createAppServices(options);
    },
  };
});

/** Every role in a menu template, submenus included. */
function roles(items: readonly MenuItemConstructorOptions[]): string[] {
  return items.flatMap((item) => [
    ...(item.role === undefined ? [] : [item.role]),
    ...(Array.isArray(item.submenu) ? roles(item.submenu) : []),
  ]);
}

describe('Electron main, packaged (electron mocked)', () => {
  beforeAll(async () => {
    const home = mkdtempSync(join(tmpdir(), 'clemplay-electron-packaged-'));
    vi.stubEnv('XDG_CONFIG_HOME', join(home, 'config'));
    vi.stubEnv('XDG_DATA_HOME', join(home, 'data'));
    await import('./main.js');
    await vi.waitFor(() => expect(electron.dialog.showErrorBox).toHaveBeenCalled());
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('has no working directory: a launcher starts it in `/`, whose model_registry.json or key.json are not ours', () => {
    expect(servicesOptions).toEqual([expect.objectContaining({ cwd: null })]);
  });

  it('turns DevTools off and leaves their toggle and the reloads out of the menu', () => {
    const preferences = electron.windows[0]!.options.webPreferences as Record<string, unknown>;
    expect(preferences.devTools).toBe(false);
    expect(electron.Menu.setApplicationMenu).toHaveBeenCalledTimes(1);
    const menu = electron.Menu.setApplicationMenu.mock.calls[0]![0] as { template: MenuItemConstructorOptions[] };
    const menuRoles = roles(menu.template);
    expect(menuRoles).toEqual(expect.arrayContaining(['fileMenu', 'editMenu', 'windowMenu', 'zoomIn']));
    for (const role of ['toggleDevTools', 'reload', 'forceReload', 'viewMenu']) expect(menuRoles).not.toContain(role);
  });

  it('says so when the page cannot load, instead of a window that never appears', () => {
    expect(electron.dialog.showErrorBox).toHaveBeenCalledWith(
      'clemplay could not open its window',
      'Loading app://clemplay/index.html failed: ERR_FILE_NOT_FOUND (-6). ' +
        'The installation may be damaged: install clemplay again.',
    );
    expect(electron.windows[0]!.destroyed).toBe(true);
  });
});
