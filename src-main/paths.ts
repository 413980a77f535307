import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, posix, win32, type PlatformPath } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder that holds package.json, registry/ and out/. Sources run from src-main/ and bundles from out/main/,
 * so walk up from this module instead of assuming a depth.
 */
export function findAppRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let directory = start;
  for (;;) {
    const manifest = join(directory, 'package.json');
    if (existsSync(manifest) && readPackageName(manifest) === 'clemplay') return directory;
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`clemplay: cannot find the app folder above ${start}`);
    directory = parent;
  }
}

function readPackageName(manifest: string): string | undefined {
  const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
  return typeof parsed === 'object' && parsed !== null && 'name' in parsed && typeof parsed.name === 'string'
    ? parsed.name
    : undefined;
}

/** The app's version, from its package.json. */
export function readAppVersion(appRoot: string): string {
  const parsed = JSON.parse(readFileSync(join(appRoot, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof parsed.version === 'string' ? parsed.version : '0.0.0';
}

/**
 * The one folder layout of the app, the CLI and the web host, so all three see the same registry, keys, chats, models
 * and results. `$XDG_CONFIG_HOME` and `$XDG_DATA_HOME` (absolute paths) win on every platform; otherwise:
 *
 * - Linux and the rest: config `~/.config/clemplay`, data `~/.local/share/clemplay`;
 * - macOS: both `~/Library/Application Support/clemplay`;
 * - Windows: config `%APPDATA%\clemplay`, data `%LOCALAPPDATA%\clemplay`.
 */
export interface AppFolders {
  /** settings.json, the user registry (model_registry.json), credentials.json and credentials-vault.json. */
  configDir: string;
  /** chats/, models/ (the default models folder), results/ (game results), electron/ (the desktop window's own state). */
  dataDir: string;
}

/** The folders that hold each app's config and data folder on a platform, before XDG variables. */
function platformBases(
  platform: NodeJS.Platform,
  environment: Readonly<Record<string, string | undefined>>,
  home: string,
  path: PlatformPath,
): { config: string; data: string } {
  if (platform === 'darwin') {
    const support = path.join(home, 'Library', 'Application Support');
    return { config: support, data: support };
  }
  if (platform === 'win32') {
    return {
      config: environment.APPDATA || path.join(home, 'AppData', 'Roaming'),
      // Models are large: they belong on this machine, not in a roaming profile.
      data: environment.LOCALAPPDATA || path.join(home, 'AppData', 'Local'),
    };
  }
  return { config: path.join(home, '.config'), data: path.join(home, '.local', 'share') };
}

/** Where a person's files are: {@link AppFolders} for this environment, platform and home folder. */
export function appFolders(
  environment: Readonly<Record<string, string | undefined>> = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): AppFolders {
  const path = platform === 'win32' ? win32 : posix;
  // The XDG spec says to ignore relative values.
  const xdg = (name: 'XDG_CONFIG_HOME' | 'XDG_DATA_HOME'): string | undefined => {
    const value = environment[name];
    return value && path.isAbsolute(value) ? value : undefined;
  };
  const bases = platformBases(platform, environment, home, path);
  return {
    configDir: path.join(xdg('XDG_CONFIG_HOME') ?? bases.config, 'clemplay'),
    dataDir: path.join(xdg('XDG_DATA_HOME') ?? bases.data, 'clemplay'),
  };
}

/** The config folder of {@link appFolders}. */
export function defaultConfigDir(environment: Readonly<Record<string, string | undefined>> = process.env): string {
  return appFolders(environment).configDir;
}

/** The data folder of {@link appFolders}. */
export function defaultDataDir(environment: Readonly<Record<string, string | undefined>> = process.env): string {
  return appFolders(environment).dataDir;
}
