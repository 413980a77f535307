import type { BrowserWindowConstructorOptions, Event, WebContents } from 'electron';
import { contentSecurityPolicy } from '../security/content-security-policy.js';

/** The scheme the packaged renderer is served from, so `'self'` in the CSP means exactly the app's files. */
export const appScheme = 'app';
const appHost = 'clemplay';
/** The origin of the packaged renderer. */
export const appOrigin = `${appScheme}://${appHost}`;

/** The strict policy every app page gets (a header on every response of the app scheme). */
export const electronContentSecurityPolicy = contentSecurityPolicy();

/** The main window: renderer isolated from Node and from the preload, sandboxed, no remote content features. */
export function mainWindowOptions(preloadPath: string): BrowserWindowConstructorOptions {
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
    },
  };
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
