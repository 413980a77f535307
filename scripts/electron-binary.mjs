// Finds the Electron binary without triggering the download that `require('electron')` starts when it is
// missing (a download that cannot succeed on machines without access to GitHub).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const electronDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'electron');

/** @returns {string | null} the path of an installed Electron executable, or null when there is none. */
export function findElectronBinary() {
  const pathFile = join(electronDir, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : null;
  const distDir = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? join(electronDir, 'dist');
  const candidate = relative ? join(distDir, relative) : null;
  return candidate !== null && existsSync(candidate) ? candidate : null;
}
