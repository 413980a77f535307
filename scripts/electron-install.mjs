// Fetches Electron's binary the first time `npm start` needs it. Electron 42+ downloads it on first use, not at
// `npm install`, and its own installer (node_modules/electron/install.js) shows progress only after 30 s and waits as
// long as the network lets it. So the download runs here first, through the same @electron/get call into the same
// cache, with progress and a stall timeout; Electron's installer then finds it in the cache and only unpacks it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { electronPackageDir, locateElectron } from './electron-binary.mjs';

/** Seconds without a byte after which a download counts as stalled (CLEMPLAY_ELECTRON_STALL_TIMEOUT_S overrides). */
export const defaultStallTimeoutSeconds = 30;

/** @typedef {{ ok: true, path: string } | { ok: false, reason: string }} InstallResult */
/** @typedef {{ write(text: string): unknown, isTTY?: boolean }} Output */

/** An error's message with its cause: fetch's "fetch failed" alone does not say what failed. */
function describeError(error) {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause !== undefined && cause !== error.message ? `${error.message} (${cause})` : error.message;
}

function megabytes(bytes) {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** Shows download progress: one rewritten line on a terminal, a line per 10 % otherwise (CI logs, pipes). */
function progressReporter(output, label) {
  let shown = -1;
  return ({ transferred, total, percent }) => {
    const whole = Math.min(100, Math.floor(percent * 100));
    const size = total ? ` (${megabytes(transferred)} of ${megabytes(total)})` : ` (${megabytes(transferred)})`;
    if (output.isTTY) {
      if (whole !== shown) output.write(`\r${label}: ${whole}%${size}   `);
    } else if (Math.floor(whole / 10) > Math.floor(shown / 10)) {
      output.write(`${label}: ${whole}%${size}\n`);
    }
    shown = whole;
  };
}

/** The platform and architecture Electron's installer downloads for, from the same variables it reads. */
function installTarget(environment) {
  return {
    platform: environment.ELECTRON_INSTALL_PLATFORM || environment.npm_config_platform || process.platform,
    arch: environment.ELECTRON_INSTALL_ARCH || environment.npm_config_arch || process.arch,
  };
}

async function download({ electronDir, version, environment, output, stallSeconds, label }) {
  let electronGet;
  try {
    const requireFromElectron = createRequire(join(electronDir, 'package.json'));
    electronGet = await import(pathToFileURL(requireFromElectron.resolve('@electron/get')).href);
  } catch {
    output.write("clemplay: no progress to show: Electron's installer downloads it instead\n");
    return { ok: true };
  }
  const controller = new AbortController();
  let watchdog;
  const rearm = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(
      () => controller.abort(new Error(`no data arrived for ${stallSeconds} s`)),
      stallSeconds * 1000,
    );
  };
  const show = progressReporter(output, label);
  const checksumsPath = join(electronDir, 'checksums.json');
  const remoteChecksums =
    environment.electron_use_remote_checksums || environment.npm_config_electron_use_remote_checksums;
  rearm();
  try {
    await electronGet.downloadArtifact({
      version,
      artifactName: 'electron',
      ...installTarget(environment),
      cacheRoot: environment.electron_config_cache,
      checksums:
        remoteChecksums || !existsSync(checksumsPath) ? undefined : JSON.parse(readFileSync(checksumsPath, 'utf8')),
      downloadOptions: {
        quiet: true,
        signal: controller.signal,
        getProgressCallback: (progress) => {
          rearm();
          show(progress);
        },
      },
    });
    return { ok: true };
  } catch (error) {
    return {
      ok: false,
      reason: controller.signal.aborted
        ? `the download stalled: ${controller.signal.reason.message}`
        : describeError(error),
    };
  } finally {
    clearTimeout(watchdog);
    if (output.isTTY) output.write('\n');
  }
}

/** Runs Electron's own installer, which unpacks the download into node_modules/electron/dist and writes path.txt. */
function runElectronInstaller(electronDir, environment, output) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(electronDir, 'install.js')], {
      cwd: electronDir,
      env: environment,
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let errors = '';
    child.stderr.on('data', (chunk) => {
      errors += chunk;
      output.write(chunk.toString());
    });
    child.once('error', (error) => resolve({ ok: false, reason: describeError(error) }));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve({ ok: true });
      const firstLine = errors.split('\n').find((line) => line.trim() !== '');
      resolve({
        ok: false,
        reason: `Electron's installer (${join(electronDir, 'install.js')}) failed: ${firstLine?.trim() ?? `exit ${code ?? signal}`}`,
      });
    });
  });
}

/**
 * Downloads and unpacks the Electron binary, with visible progress.
 * @param {{ electronDir?: string, environment?: Record<string, string | undefined>, output?: Output }} [options]
 * @returns {Promise<InstallResult>} the executable, or why there is none.
 */
export async function installElectron({
  electronDir = electronPackageDir,
  environment = process.env,
  output = process.stderr,
} = {}) {
  const { version } = JSON.parse(readFileSync(join(electronDir, 'package.json'), 'utf8'));
  const { platform, arch } = installTarget(environment);
  const label = `clemplay: downloading Electron ${version} for ${platform}-${arch}`;
  output.write(`${label} (once, about 100 MB; it is kept in ${join(electronDir, 'dist')})\n`);
  const stallSeconds = Number(environment.CLEMPLAY_ELECTRON_STALL_TIMEOUT_S) || defaultStallTimeoutSeconds;
  const downloaded = await download({ electronDir, version, environment, output, stallSeconds, label });
  if (!downloaded.ok) return downloaded;
  const unpacked = await runElectronInstaller(electronDir, environment, output);
  if (!unpacked.ok) return unpacked;
  const location = locateElectron({ electronDir, environment });
  if (location.exists) return { ok: true, path: location.path };
  return {
    ok: false,
    reason: `Electron's installer finished, but there is no executable at ${location.path ?? join(electronDir, 'dist')}`,
  };
}
