import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
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

/** Where the CLI and the web host keep settings: `$XDG_CONFIG_HOME/clemplay`, else `~/.config/clemplay`. */
export function defaultConfigDir(environment: NodeJS.ProcessEnv = process.env): string {
  const base = environment.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'clemplay');
}

/** Where the CLI and the web host keep chats and models: `$XDG_DATA_HOME/clemplay`, else `~/.local/share/clemplay`. */
export function defaultDataDir(environment: NodeJS.ProcessEnv = process.env): string {
  const base = environment.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'clemplay');
}
