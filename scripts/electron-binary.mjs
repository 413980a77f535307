// Finds the Electron executable the way Electron's own package does (its path.txt, ELECTRON_OVERRIDE_DIST_PATH), but
// without the download that `require('electron')` starts when the executable is missing.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The installed electron package of this checkout. */
export const electronPackageDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'electron');

/**
 * Where the Electron executable is, or would be once installed.
 * @param {{ electronDir?: string, environment?: Record<string, string | undefined> }} [options]
 * @returns {{ path: string | null, exists: boolean, override: string | null }} `path` is null when Electron's
 *   installer has not run yet (no path.txt) and no override is set; `override` is ELECTRON_OVERRIDE_DIST_PATH.
 */
export function locateElectron({ electronDir = electronPackageDir, environment = process.env } = {}) {
  const pathFile = join(electronDir, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  const override = environment.ELECTRON_OVERRIDE_DIST_PATH || null;
  // Electron's index.js: with an override, the executable is <override>/<path.txt or "electron">.
  const path =
    override !== null ? join(override, relative || 'electron') : relative ? join(electronDir, 'dist', relative) : null;
  return { path, exists: path !== null && existsSync(path), override };
}

/**
 * @param {{ electronDir?: string, environment?: Record<string, string | undefined> }} [options]
 * @returns {string | null} the path of an installed Electron executable, or null when there is none.
 */
export function findElectronBinary(options) {
  const location = locateElectron(options);
  return location.exists ? location.path : null;
}
