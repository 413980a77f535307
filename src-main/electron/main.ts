import { join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, net, protocol, safeStorage, session, shell } from 'electron';
import { apiChannel } from '../../src-shared/bridge.js';
import { createAppServices } from '../services.js';
import { createIpcApiServer, parseBridgeSignal } from './ipc-transport.js';
import {
  appOrigin,
  appScheme,
  electronContentSecurityPolicy,
  hardenWebContents,
  isTrustedIpc,
  mainWindowOptions,
} from './window.js';

// Only a development build loads the renderer from electron-vite's dev server; a packaged app ignores the variable.
const devServerUrl = app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL;
const ownWindowIds = new Set<number>();

protocol.registerSchemesAsPrivileged([
  { scheme: appScheme, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

app.on('web-contents-created', (_event, contents) => {
  hardenWebContents(contents, { devServerUrl, openExternal: (url) => void shell.openExternal(url) });
});

function serveRenderer(rendererDir: string): void {
  protocol.handle(appScheme, async (request) => {
    const pathname = decodeURIComponent(new URL(request.url).pathname);
    const file = normalize(join(rendererDir, pathname === '/' ? 'index.html' : pathname));
    if (!file.startsWith(rendererDir + sep)) return new Response('not found', { status: 404 });
    const response = await net.fetch(pathToFileURL(file).href);
    const headers = new Headers(response.headers);
    headers.set('Content-Security-Policy', electronContentSecurityPolicy);
    return new Response(response.body, { status: response.status, headers });
  });
}

function createMainWindow(): void {
  const window = new BrowserWindow(mainWindowOptions(join(import.meta.dirname, '../preload/index.cjs')));
  const id = window.webContents.id;
  ownWindowIds.add(id);
  window.on('closed', () => ownWindowIds.delete(id));
  window.once('ready-to-show', () => window.show());
  void window.loadURL(devServerUrl ?? `${appOrigin}/index.html`);
}

async function start(): Promise<void> {
  const userData = app.getPath('userData');
  const services = await createAppServices({
    configDir: userData,
    dataDir: userData,
    watch: true,
    // API keys live encrypted by the OS key store where it has one; never in the renderer.
    vault: {
      isAvailable: () => safeStorage.isEncryptionAvailable(),
      encrypt: (text) => safeStorage.encryptString(text),
      decrypt: (buffer) => safeStorage.decryptString(buffer),
    },
  });
  // Electron does not wait for promises on quit: hold the quit until loaded models and watchers are released.
  let released = false;
  app.on('will-quit', (event) => {
    if (released) return;
    event.preventDefault();
    // Bounded: a model that will not unload must not keep the app from quitting.
    const giveUp = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
    Promise.race([services.dispose(), giveUp])
      .catch((error: unknown) => console.error('clemplay: releasing resources on quit failed:', error))
      .finally(() => {
        released = true;
        app.quit();
      });
  });
  serveRenderer(join(services.appRoot, 'out', 'renderer'));
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);

  const api = createIpcApiServer(services);
  const watchedSenders = new Set<number>();
  ipcMain.on(apiChannel, (event, raw: unknown) => {
    const frame = event.senderFrame;
    const origin = {
      senderId: event.sender.id,
      frameUrl: frame?.url ?? null,
      isMainFrame: frame !== null && frame === event.sender.mainFrame,
    };
    if (!isTrustedIpc(origin, ownWindowIds, devServerUrl)) return;
    const signal = parseBridgeSignal(raw);
    if (signal === undefined) return;
    const sender = event.sender;
    if (signal.kind === 'open' && !watchedSenders.has(sender.id)) {
      watchedSenders.add(sender.id);
      sender.once('destroyed', () => api.closeSender(sender.id));
    }
    api.handle({ id: sender.id, reply: (data) => !sender.isDestroyed() && sender.send(apiChannel, data) }, signal);
  });

  createMainWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow();
  });
}

void app
  .whenReady()
  .then(start)
  .catch((error: unknown) => {
    // Without services there is no app to show: say why and quit rather than idle with no window.
    dialog.showErrorBox('clemplay could not start', error instanceof Error ? error.message : String(error));
    app.exit(1);
  });

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
