import { join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, net, protocol, safeStorage, session, shell } from 'electron';
import { apiChannel } from '../../src-shared/bridge.js';
import { appFolders } from '../paths.js';
import { startSavedModelServer } from '../openai-api/model-server.js';
import { createAppServices } from '../services.js';
import { createIpcApiServer, parseBridgeSignal } from './ipc-transport.js';
import { safeStorageVault } from './safe-storage-vault.js';
import {
  allowsPermission,
  appOrigin,
  appScheme,
  electronContentSecurityPolicy,
  hardenWebContents,
  isTrustedIpc,
  mainWindowOptions,
  packagedMenuTemplate,
} from './window.js';

// Only a development build loads the renderer from electron-vite's dev server; a packaged app ignores the variable.
const devServerUrl = app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL;
const ownWindowIds = new Set<number>();
/** A window whose page keeps crashing is closed after this many reloads. */
const maximumReloads = 3;

// The same folders as the CLI and the web host, set before ready: Electron's default userData (~/.config/clemplay on
// Linux) is the CLI's config folder, and its caches do not belong among a person's settings.
const folders = appFolders();
app.setPath('userData', join(folders.dataDir, 'electron'));

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

/** What a person can do when the window's page does not load, by how the app runs. */
function loadFailureAdvice(): string {
  if (devServerUrl !== undefined) return 'Is the dev server (npm run dev) still running?';
  if (app.isPackaged) return 'The installation may be damaged: install clemplay again.';
  return 'Build the app again (npm run build), then start it again.';
}

function createMainWindow(onPageGone: (contentsId: number) => void): BrowserWindow {
  const window = new BrowserWindow(
    mainWindowOptions(join(import.meta.dirname, '../preload/index.cjs'), !app.isPackaged),
  );
  const id = window.webContents.id;
  ownWindowIds.add(id);
  window.on('closed', () => ownWindowIds.delete(id));
  window.once('ready-to-show', () => window.show());
  let reloads = 0;
  window.webContents.on('render-process-gone', (_event, details) => {
    // The page is gone, and with it every subscription it had: stop them in main too.
    onPageGone(id);
    if (details.reason === 'clean-exit' || window.isDestroyed()) return;
    if (reloads >= maximumReloads) {
      dialog.showErrorBox(
        'clemplay stopped working',
        `The window's page ended (${details.reason}, exit code ${details.exitCode}) ${reloads + 1} times; ` +
          'the window is closed. Start clemplay again.',
      );
      window.destroy();
      return;
    }
    reloads += 1;
    window.webContents.reload();
  });
  const url = devServerUrl ?? `${appOrigin}/index.html`;
  window.loadURL(url).catch((error: unknown) => {
    // The window shows itself only once its page is ready: without this it would never appear.
    dialog.showErrorBox(
      'clemplay could not open its window',
      `Loading ${url} failed: ${error instanceof Error ? error.message : String(error)}. ${loadFailureAdvice()}`,
    );
    window.destroy();
  });
  return window;
}

let mainWindow: BrowserWindow | null = null;
/** Opens the main window; set once the services are up. */
let openMainWindow: (() => void) | null = null;

async function start(): Promise<void> {
  const services = await createAppServices({
    configDir: folders.configDir,
    dataDir: folders.dataDir,
    // A packaged app is started by a launcher, in `/`: it has no working directory of its own.
    cwd: app.isPackaged ? null : process.cwd(),
    watch: true,
    // API keys live encrypted by the OS key store where it has a real one; never in the renderer.
    vault: safeStorageVault(safeStorage, process.platform),
  });
  void startSavedModelServer(services.modelServer, services.settings);
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
  session.defaultSession.setPermissionRequestHandler((contents, permission, callback, details) =>
    callback(
      allowsPermission({ permission, contentsId: contents.id, url: details.requestingUrl }, ownWindowIds, devServerUrl),
    ),
  );
  session.defaultSession.setPermissionCheckHandler((contents, permission, requestingOrigin) =>
    allowsPermission(
      { permission, contentsId: contents?.id ?? null, url: requestingOrigin },
      ownWindowIds,
      devServerUrl,
    ),
  );
  if (app.isPackaged) Menu.setApplicationMenu(Menu.buildFromTemplate(packagedMenuTemplate(process.platform)));

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
    api.handle({ id: sender.id, reply: (reply) => !sender.isDestroyed() && sender.send(apiChannel, reply) }, signal);
  });

  openMainWindow = () => {
    const window = createMainWindow((contentsId) => api.closeSender(contentsId));
    mainWindow = window;
    window.on('closed', () => {
      if (mainWindow === window) mainWindow = null;
    });
  };
  openMainWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) openMainWindow?.();
  });
}

// One app per person: a second start focuses the first one's window and quits.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow === null) return openMainWindow?.();
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  void app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      // Without services there is no app to show: say why and quit rather than idle with no window.
      dialog.showErrorBox('clemplay could not start', error instanceof Error ? error.message : String(error));
      app.exit(1);
    });
}

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
