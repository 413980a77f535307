import { EventEmitter } from 'node:events';
import { vi } from 'vitest';

// Electron cannot run where clemplay is built and tested (its binary cannot be downloaded), so the tests of
// src-main/electron/main.ts replace its API with this recording stand-in: they check what main asks of Electron —
// folders, window options, handlers, what it accepts over IPC — not Electron itself.

/** How a test wants the stand-in to behave. */
export interface FakeElectronOptions {
  /** `app.isPackaged`; default false (a development run). */
  isPackaged?: boolean;
  /** What `app.requestSingleInstanceLock()` answers; default true (no other instance runs). */
  singleInstance?: boolean;
  /** Makes every `loadURL` fail with this message. */
  loadFailure?: string;
  /** What `safeStorage.getSelectedStorageBackend()` answers; default `gnome_libsecret`. */
  storageBackend?: string;
}

/** A web contents: an event emitter with the methods main calls. */
export class FakeWebContents extends EventEmitter {
  readonly mainFrame = {};
  reloads = 0;
  readonly sent: unknown[] = [];
  constructor(readonly id: number) {
    super();
  }
  reload(): void {
    this.reloads += 1;
  }
  isDestroyed(): boolean {
    return false;
  }
  send(_channel: string, value: unknown): void {
    this.sent.push(value);
  }
}

export function createFakeElectron(options: FakeElectronOptions = {}) {
  const windows: FakeBrowserWindow[] = [];
  let nextId = 1;
  let ready = false;
  /** `app.setPath` calls, and whether each came before the app was ready (Electron requires that for userData). */
  const setPaths: Array<{ name: string; path: string; beforeReady: boolean }> = [];

  class FakeBrowserWindow extends EventEmitter {
    readonly webContents: FakeWebContents;
    readonly loaded: string[] = [];
    destroyed = false;
    focused = 0;
    minimized = false;
    constructor(readonly options: Record<string, unknown>) {
      super();
      this.webContents = new FakeWebContents(nextId++);
      windows.push(this);
    }
    loadURL(url: string): Promise<void> {
      this.loaded.push(url);
      return options.loadFailure === undefined ? Promise.resolve() : Promise.reject(new Error(options.loadFailure));
    }
    show(): void {}
    focus(): void {
      this.focused += 1;
    }
    isMinimized(): boolean {
      return this.minimized;
    }
    restore(): void {
      this.minimized = false;
    }
    isDestroyed(): boolean {
      return this.destroyed;
    }
    destroy(): void {
      this.destroyed = true;
      this.emit('closed');
    }
    static getAllWindows(): FakeBrowserWindow[] {
      return windows.filter((window) => !window.destroyed);
    }
  }

  const app = Object.assign(new EventEmitter(), {
    whenReady: () =>
      Promise.resolve().then(() => {
        ready = true;
      }),
    isPackaged: options.isPackaged ?? false,
    getPath: (name: string) => setPaths.findLast((call) => call.name === name)?.path ?? `/default/${name}`,
    setPath: (name: string, path: string) => setPaths.push({ name, path, beforeReady: !ready }),
    requestSingleInstanceLock: vi.fn(() => options.singleInstance ?? true),
    quit: vi.fn(),
    exit: vi.fn(),
  });

  return {
    windows,
    setPaths,
    app,
    BrowserWindow: FakeBrowserWindow,
    ipcMain: new EventEmitter(),
    Menu: {
      buildFromTemplate: (template: unknown[]) => ({ template }),
      setApplicationMenu: vi.fn(),
    },
    protocol: { registerSchemesAsPrivileged: vi.fn(), handle: vi.fn() },
    session: { defaultSession: { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn() } },
    dialog: { showErrorBox: vi.fn() },
    shell: { openExternal: vi.fn() },
    safeStorage: {
      isEncryptionAvailable: () => true,
      getSelectedStorageBackend: () => options.storageBackend ?? 'gnome_libsecret',
      encryptString: (text: string) => Buffer.from([...text].reverse().join('')),
      decryptString: (buffer: Buffer) => [...buffer.toString()].reverse().join(''),
    },
    net: { fetch: vi.fn() },
  };
}

/** The stand-in's type, for tests that hold it. */
export type FakeElectron = ReturnType<typeof createFakeElectron>;
