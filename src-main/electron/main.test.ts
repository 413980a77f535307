import { EventEmitter } from 'node:events';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { apiChannel } from '../../src-shared/bridge.js';
import type * as servicesModule from '../services.js';

// Electron cannot run here (its binary is not downloadable), so its API is replaced by recording fakes: these tests
// check what main asks of Electron — window options, handlers, what it accepts over IPC — not Electron itself.
const electron = await vi.hoisted(async () => {
  const { EventEmitter: Emitter } = await import('node:events');
  const windows: Array<{
    options: Record<string, unknown>;
    loaded: string[];
    webContents: { id: number; mainFrame: object };
  }> = [];
  let nextId = 1;
  class FakeBrowserWindow extends Emitter {
    readonly webContents: { id: number; mainFrame: object };
    readonly loaded: string[] = [];
    constructor(readonly options: Record<string, unknown>) {
      super();
      this.webContents = { id: nextId++, mainFrame: {} };
      windows.push(this);
    }
    loadURL(url: string): Promise<void> {
      this.loaded.push(url);
      return Promise.resolve();
    }
    show(): void {}
    static getAllWindows(): unknown[] {
      return windows;
    }
  }
  const app = Object.assign(new Emitter(), {
    whenReady: () => Promise.resolve(),
    isPackaged: false,
    getPath: (name: string) => `/tmp/clemplay-electron-test/${name}`,
    quit: vi.fn(),
  });
  return {
    windows,
    app,
    BrowserWindow: FakeBrowserWindow,
    ipcMain: new Emitter(),
    protocol: { registerSchemesAsPrivileged: vi.fn(), handle: vi.fn() },
    session: { defaultSession: { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn() } },
    dialog: { showErrorBox: vi.fn() },
    shell: { openExternal: vi.fn() },
    safeStorage: {
      isEncryptionAvailable: () => true,
      encryptString: (text: string) => Buffer.from([...text].reverse().join('')),
      decryptString: (buffer: Buffer) => [...buffer.toString()].reverse().join(''),
    },
    net: { fetch: vi.fn() },
  };
});
vi.mock('electron', () => electron);

// The real services, with a dispose the test controls: quitting must wait for it.
const disposal = vi.hoisted(() => {
  let release: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { started: false, done, release: () => release() };
});
vi.mock('../services.js', async (importOriginal) => {
  const real = await importOriginal<typeof servicesModule>();
  return {
    ...real,
    createAppServices: async (options: Parameters<typeof real.createAppServices>[0]) => {
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

describe('Electron main (electron mocked)', () => {
  beforeAll(async () => {
    await import('./main.js');
    await vi.waitFor(() => expect(electron.windows).toHaveLength(1));
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
    const preventDefault = vi.fn();
    electron.app.emit('will-quit', { preventDefault });
    expect(preventDefault).toHaveBeenCalledTimes(1);
    expect(disposal.started).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(electron.app.quit).not.toHaveBeenCalled();
    disposal.release();
    await vi.waitFor(() => expect(electron.app.quit).toHaveBeenCalledTimes(1));
    const second = vi.fn();
    electron.app.emit('will-quit', { preventDefault: second });
    expect(second).not.toHaveBeenCalled();
  });

  it('denies every permission request and check', () => {
    const check = electron.session.defaultSession.setPermissionCheckHandler.mock.calls[0]![0] as () => boolean;
    expect(check()).toBe(false);
    const handler = electron.session.defaultSession.setPermissionRequestHandler.mock.calls[0]![0] as (
      contents: unknown,
      permission: string,
      callback: (granted: boolean) => void,
    ) => void;
    const answer = vi.fn();
    handler({}, 'media', answer);
    expect(answer).toHaveBeenCalledWith(false);
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
    const ask = (contents: ReturnType<typeof sender>, frame: object | null, frameUrl: string) => {
      const senderFrame = frame === null ? null : Object.assign(frame, { url: frameUrl });
      electron.ipcMain.emit(apiChannel, { sender: contents, senderFrame }, { kind: 'open', connection: 1 });
      const message = JSON.stringify({ id: 1, method: 'query', params: { path: 'app.info' } });
      electron.ipcMain.emit(
        apiChannel,
        { sender: contents, senderFrame },
        { kind: 'message', connection: 1, data: message },
      );
    };

    const stranger = sender(999);
    ask(stranger, stranger.mainFrame, 'app://clemplay/index.html');
    const own = sender(window.webContents.id);
    ask(own, {}, 'app://clemplay/index.html');
    ask(own, own.mainFrame, 'https://evil.example/');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(replies).toEqual([]);

    ask(own, own.mainFrame, 'app://clemplay/index.html');
    await expect.poll(() => replies.length).toBeGreaterThan(0);
    expect(replies[0]!.from).toBe(window.webContents.id);
    expect(replies[0]!.reply.connection).toBe(1);
    expect(JSON.parse(replies[0]!.reply.data)).toMatchObject({ id: 1, result: { data: { transport: 'ipc' } } });
  });
});
