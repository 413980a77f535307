import type { BrowserWindowConstructorOptions, Event, MenuItemConstructorOptions, WebContents } from 'electron';
import { contentSecurityPolicy } from '../security/content-security-policy.js';

/** The scheme the packaged renderer is served from, so `'self'` in the CSP means exactly the app's files. */
export const appScheme = 'app';
const appHost = 'clemplay';
/** The origin of the packaged renderer. */
export const appOrigin = `${appScheme}://${appHost}`;

/** The strict policy every app page gets (a header on every response of the app scheme). */
export const electronContentSecurityPolicy = contentSecurityPolicy();

/**
 * The main window: renderer isolated from Node and from the preload, sandboxed, no remote content features.
 * `devTools` is false in a packaged app: a person's API keys and files are one console away from DevTools.
 */
export function mainWindowOptions(preloadPath: string, devTools: boolean): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 820,
    minWidth: 800,
    minHeight: 500,
    show: false,
    title: 'clemplay',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      devTools,
    },
  };
}

/**
 * The application menu of a packaged app: Electron's default one, less the DevTools toggle and the reloads (a reload
 * drops what a page holds, such as a reply being typed). The Edit menu stays: on macOS it is what makes the clipboard
 * shortcuts work.
 */
export function packagedMenuTemplate(platform: NodeJS.Platform): MenuItemConstructorOptions[] {
  return [
    ...(platform === 'darwin' ? [{ role: 'appMenu' as const }] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ];
}

/** The only permissions the app grants: the clipboard, which Monaco's context menu (Paste) asks for. */
const grantedPermissions: ReadonlySet<string> = new Set(['clipboard-read', 'clipboard-sanitized-write']);

/** What a permission request or check says about itself. */
export interface PermissionRequest {
  /** Electron's name of the permission, e.g. `clipboard-read`. */
  permission: string;
  /** Id of the asking web contents; null when Electron does not say (some checks). */
  contentsId: number | null;
  /** The URL or origin of the asking page. */
  url: string;
}

/** Grants the clipboard to the app's own pages in its own windows; denies everything else to everyone. */
export function allowsPermission(
  request: PermissionRequest,
  ownWindowIds: ReadonlySet<number>,
  devServerUrl: string | undefined,
): boolean {
  return (
    grantedPermissions.has(request.permission) &&
    request.contentsId !== null &&
    ownWindowIds.has(request.contentsId) &&
    isAppUrl(request.url, devServerUrl)
  );
}

/** Whether a URL belongs to the app: its packaged origin, or the dev server electron-vite runs in development. */
export function isAppUrl(url: string, devServerUrl: string | undefined): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  // Node's URL gives custom schemes an opaque "null" origin, so compare scheme and host instead.
  if (parsed.protocol === `${appScheme}:` && parsed.host === appHost) return true;
  return devServerUrl !== undefined && parsed.origin === new URL(devServerUrl).origin;
}

/**
 * Locks down every web contents the app creates: no new windows (https links go to the system browser),
 * no navigation away from the app, no <webview>.
 */
export function hardenWebContents(
  contents: Pick<WebContents, 'setWindowOpenHandler' | 'on'>,
  options: { devServerUrl: string | undefined; openExternal: (url: string) => void },
): void {
  contents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) options.openExternal(url);
    return { action: 'deny' };
  });
  const stayInApp = (event: Event, url: string): void => {
    if (!isAppUrl(url, options.devServerUrl)) event.preventDefault();
  };
  contents.on('will-navigate', stayInApp);
  contents.on('will-redirect', stayInApp);
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

/** The facts about an IPC message that decide whether main accepts it. */
export interface IpcOrigin {
  /** Id of the sending web contents. */
  senderId: number;
  /** URL of the frame that sent it (null when the frame is gone). */
  frameUrl: string | null;
  /** Whether the sending frame is the top frame of its page. */
  isMainFrame: boolean;
}

/** IPC is accepted only from the top frame of one of our own windows showing an app URL. */
export function isTrustedIpc(origin: IpcOrigin, ownWindowIds: ReadonlySet<number>, devServerUrl: string | undefined) {
  return (
    ownWindowIds.has(origin.senderId) &&
    origin.isMainFrame &&
    origin.frameUrl !== null &&
    isAppUrl(origin.frameUrl, devServerUrl)
  );
}
