import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiChannel } from '../../src-shared/bridge.js';
import { activeTickers } from '../api/routers/app.js';
import type * as servicesModule from '../services.js';

// Electron's API is the recording stand-in of fake-electron.ts (Electron cannot run here).
const electron = await vi.hoisted(async () => (await import('./fake-electron.js')).createFakeElectron());
vi.mock('electron', () => electron);

// The real services, with a dispose the test controls: quitting must wait for it.
const disposal = vi.hoisted(() => {
  let release: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { started: false, done, release: () => release() };
});
const servicesOptions = vi.hoisted((): Array<Record<string, unknown>> => []);
vi.mock('../services.js', async (importOriginal) => {
  const real = await importOriginal<typeof servicesModule>();
  return {
    ...real,
    createAppServices: async (options: Parameters<typeof real.createAppServices>[0]) => {
      servicesOptions.push({ ...options });
      const services = await real.createAppServices(options);
      return {
        ...services,
        dispose: async () => {
          disposal.started = true;
          await disposal.done;
          await services.dispose();
        },
      };
    },
  };
});

function fakeContents() {
  const contents = Object.assign(new EventEmitter(), {
    windowOpenHandler: undefined as undefined | ((details: { url: string }) => { action: string }),
    setWindowOpenHandler(handler: (details: { url: string }) => { action: string }) {
      contents.windowOpenHandler = handler;
    },
  });
  return contents;
}

function navigationBlocked(contents: EventEmitter, event: string, url: string): boolean {
  let prevented = false;
  contents.emit(event, { preventDefault: () => (prevented = true) }, url);
  return prevented;
}

const home = mkdtempSync(join(tmpdir(), 'clemplay-electron-main-'));

describe('Electron main (electron mocked)', () => {
  beforeAll(async () => {
    // The app's folders come from the environment, as the CLI's do: a fresh home, never the real user's.
    vi.stubEnv('HOME', home);
    vi.stubEnv('XDG_CONFIG_HOME', '');
    vi.stubEnv('XDG_DATA_HOME', '');
    vi.stubEnv('CLEMPLAY_MODELS_DIRS', '');
    await import('./main.js');
    await vi.waitFor(() => expect(electron.windows).toHaveLength(1));
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps its files where the CLI and the web host do, and Electron's own state apart, chosen before ready", () => {
    expect(electron.setPaths).toEqual([
      { name: 'userData', path: join(home, '.local', 'share', 'clemplay', 'electron'), beforeReady: true },
    ]);
    expect(servicesOptions).toEqual([
      expect.objectContaining({
        configDir: join(home, '.config', 'clemplay'),
        dataDir: join(home, '.local', 'share', 'clemplay'),
        // Started from a terminal in development, the working directory counts (its model_registry.json, key.json).
        cwd: process.cwd(),
      }),
    ]);
  });

  it('runs once per person: a second start focuses the window, restoring it when minimized', () => {
    expect(electron.app.requestSingleInstanceLock).toHaveBeenCalledTimes(1);
    const window = electron.windows[0]!;
    window.minimized = true;
    electron.app.emit('second-instance');
    expect(window.minimized).toBe(false);
    expect(window.focused).toBe(1);
  });

  it('keeps DevTools and the default menu in development', () => {
    const preferences = electron.windows[0]!.options.webPreferences as Record<string, unknown>;
    expect(preferences.devTools).toBe(true);
    expect(electron.Menu.setApplicationMenu).not.toHaveBeenCalled();
  });

  it('opens one hardened window on the app scheme', () => {
    expect(electron.windows).toHaveLength(1);
    const window = electron.windows[0]!;
    const preferences = window.options.webPreferences as Record<string, unknown>;
    expect(preferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      webviewTag: false,
    });
    expect(String(preferences.preload)).toMatch(/preload[\\/]index\.cjs$/);
    expect(window.loaded).toEqual(['app://clemplay/index.html']);
    expect(electron.protocol.registerSchemesAsPrivileged).toHaveBeenCalledWith([
      expect.objectContaining({ scheme: 'app', privileges: expect.objectContaining({ secure: true, standard: true }) }),
    ]);
  });

  it('releases the services before it lets the app quit', async () => {
    // The quit waits for the services for up to 5 s: on fake timers, the test moves the clock.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const preventDefault = vi.fn();
    electron.app.emit('will-quit', { preventDefault });
    expect(preventDefault).toHaveBeenCalledTimes(1);
    expect(disposal.started).toBe(true);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(electron.app.quit).not.toHaveBeenCalled();
    // The real services let go on real timers.
    vi.useRealTimers();
    disposal.release();
    await vi.waitFor(() => expect(electron.app.quit).toHaveBeenCalledTimes(1));
    const second = vi.fn();
    electron.app.emit('will-quit', { preventDefault: second });
    expect(second).not.toHaveBeenCalled();
  });

  it("grants the clipboard to the app's own pages only, and denies every other permission", () => {
    const check = electron.session.defaultSession.setPermissionCheckHandler.mock.calls[0]![0] as (
      contents: { id: number } | null,
      permission: string,
      origin: string,
    ) => boolean;
    const handler = electron.session.defaultSession.setPermissionRequestHandler.mock.calls[0]![0] as (
      contents: { id: number },
      permission: string,
      callback: (granted: boolean) => void,
      details: { requestingUrl: string },
    ) => void;
    const own = electron.windows[0]!.webContents;
    const ask = (contents: { id: number }, permission: string, url: string): boolean => {
      let granted: boolean | undefined;
      handler(contents, permission, (answer) => (granted = answer), { requestingUrl: url });
      return granted!;
    };
    // Monaco's context-menu Paste reads the clipboard.
    expect(ask(own, 'clipboard-read', 'app://clemplay/index.html')).toBe(true);
    expect(ask(own, 'clipboard-sanitized-write', 'app://clemplay/index.html')).toBe(true);
    expect(check(own, 'clipboard-read', 'app://clemplay')).toBe(true);
    expect(ask(own, 'media', 'app://clemplay/index.html')).toBe(false);
    expect(ask(own, 'clipboard-read', 'https://evil.example/')).toBe(false);
    expect(ask({ id: 999 }, 'clipboard-read', 'app://clemplay/index.html')).toBe(false);
    expect(check(null, 'clipboard-read', 'app://clemplay')).toBe(false);
    expect(check(own, 'notifications', 'app://clemplay')).toBe(false);
  });

  it('serves renderer files with the CSP and refuses paths outside the renderer', async () => {
    const handler = electron.protocol.handle.mock.calls[0]![1] as (request: { url: string }) => Promise<Response>;
    electron.net.fetch.mockResolvedValueOnce(new Response('<html>', { status: 200 }));
    const page = await handler({ url: 'app://clemplay/index.html' });
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(String(electron.net.fetch.mock.calls[0]![0])).toMatch(/out\/renderer\/index\.html$/);
    const escape = await handler({ url: 'app://clemplay/..%2F..%2Fpackage.json' });
    expect(escape.status).toBe(404);
  });

  it('blocks new windows and navigation away from the app in every web contents', () => {
    const contents = fakeContents();
    electron.app.emit('web-contents-created', {}, contents);
    expect(contents.windowOpenHandler?.({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(electron.shell.openExternal).toHaveBeenCalledWith('https://example.com/');
    expect(contents.windowOpenHandler?.({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(electron.shell.openExternal).toHaveBeenCalledTimes(1);
    expect(navigationBlocked(contents, 'will-navigate', 'https://evil.example/')).toBe(true);
    expect(navigationBlocked(contents, 'will-redirect', 'file:///etc/passwd')).toBe(true);
    expect(navigationBlocked(contents, 'will-navigate', 'app://clemplay/index.html#/chat')).toBe(false);
    expect(navigationBlocked(contents, 'will-attach-webview', 'app://clemplay/')).toBe(true);
  });

  it('accepts API messages only from the top frame of its own window', async () => {
    const window = electron.windows[0]!;
    const replies: Array<{ from: number; reply: { connection: number; data: string } }> = [];
    const sender = (id: number) =>
      Object.assign(new EventEmitter(), {
        id,
        mainFrame: id === window.webContents.id ? window.webContents.mainFrame : {},
        isDestroyed: () => false,
        send: (_channel: string, reply: { connection: number; data: string }) => replies.push({ from: id, reply }),
      });
    // Each ask on a connection of its own, so that a later open never closes an earlier one before it could answer.
    const ask = (contents: ReturnType<typeof sender>, frame: object | null, frameUrl: string, connection: number) => {
      const senderFrame = frame === null ? null : Object.assign(frame, { url: frameUrl });
      electron.ipcMain.emit(apiChannel, { sender: contents, senderFrame }, { kind: 'open', connection });
      const message = JSON.stringify({ id: 1, method: 'query', params: { path: 'app.info' } });
      electron.ipcMain.emit(
        apiChannel,
        { sender: contents, senderFrame },
        { kind: 'message', connection, data: message },
      );
    };

    const stranger = sender(999);
    ask(stranger, stranger.mainFrame, 'app://clemplay/index.html', 1);
    const own = sender(window.webContents.id);
    ask(own, {}, 'app://clemplay/index.html', 2);
    ask(own, own.mainFrame, 'https://evil.example/', 3);
    // Then the one trusted ask. The same query, asked after the others, is answered after any of them would be: once
    // its answer is in, an answer to an untrusted ask would be too.
    ask(own, own.mainFrame, 'app://clemplay/index.html', 4);
    await expect.poll(() => replies.some((reply) => reply.reply.connection === 4)).toBe(true);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.from).toBe(window.webContents.id);
    expect(JSON.parse(replies[0]!.reply.data)).toMatchObject({ id: 1, result: { data: { transport: 'ipc' } } });
  });

  it("reloads a window whose page crashed, after stopping what the old page's connection ran", async () => {
    const window = electron.windows[0]!;
    const contents = window.webContents;
    const event = { sender: contents, senderFrame: Object.assign(contents.mainFrame, { url: 'app://clemplay/' }) };
    electron.ipcMain.emit(apiChannel, event, { kind: 'open', connection: 1 });
    const subscribe = { id: 2, method: 'subscription', params: { path: 'app.ticks', input: { intervalMs: 20 } } };
    electron.ipcMain.emit(apiChannel, event, { kind: 'message', connection: 1, data: JSON.stringify(subscribe) });
    await expect.poll(() => activeTickers.count).toBe(1);

    contents.emit('render-process-gone', {}, { reason: 'crashed', exitCode: 139 });
    expect(contents.reloads).toBe(1);
    await expect.poll(() => activeTickers.count).toBe(0);
    // A page that ended normally (its window closing) is not brought back.
    contents.emit('render-process-gone', {}, { reason: 'clean-exit', exitCode: 0 });
    expect(contents.reloads).toBe(1);
  });

  it('gives up on a page that keeps crashing: it says so and closes the window', () => {
    const window = electron.windows[0]!;
    for (let crash = 0; crash < 3; crash += 1) {
      window.webContents.emit('render-process-gone', {}, { reason: 'oom', exitCode: 1 });
    }
    expect(window.webContents.reloads).toBe(3);
    expect(window.destroyed).toBe(true);
    expect(electron.dialog.showErrorBox).toHaveBeenCalledWith(
      'clemplay stopped working',
      expect.stringContaining('(oom, exit code 1) 4 times'),
    );
  });
});
