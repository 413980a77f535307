// `npm start`: build, then open the Electron app, fetching Electron's binary the first time; where it cannot be had,
// serve the same UI through the web host and say why. `npm run dev` (`start.mjs --dev`): electron-vite's dev server
// with the same binary.
import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateElectron } from './electron-binary.mjs';
import { installElectron } from './electron-install.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const electronVite = join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
const say = (text) => process.stderr.write(`clemplay: ${text}\n`);

/** Electron 45's installer declares this; older Node may fail to download it. */
const installerNode = [22, 12];

function nodeIsOlderThan([major, minor]) {
  const [currentMajor, currentMinor] = process.versions.node.split('.').map(Number);
  return currentMajor < major || (currentMajor === major && currentMinor < minor);
}

/** The Electron executable, downloading it when missing; or why there is none and how to retry with `command`. */
async function obtainElectron(command) {
  const location = locateElectron({ environment: process.env });
  if (location.exists) return { ok: true, path: location.path };
  if (location.override !== null) {
    // Electron itself would use this path blindly; downloading into node_modules would not change what it points at.
    return {
      ok: false,
      reason: `ELECTRON_OVERRIDE_DIST_PATH is ${location.override}, but there is no Electron executable at ${location.path}`,
      retry: 'point ELECTRON_OVERRIDE_DIST_PATH at an unpacked Electron, or unset it to download one',
    };
  }
  const installed = await installElectron({ environment: process.env });
  if (installed.ok) return installed;
  const olderNode = nodeIsOlderThan(installerNode)
    ? `; Electron's installer declares Node ${installerNode.join('.')} or newer and this is Node ` +
      `${process.versions.node}, so use a newer Node if it keeps failing`
    : '';
  const retry = `run \`${command}\` again once github.com is reachable (or ELECTRON_MIRROR names a mirror)${olderNode}`;
  return { ...installed, retry };
}

/**
 * Runs the app (or the web host) until it exits, then exits the same way. The child runs in its own process group, so
 * the terminal's Ctrl+C reaches it only through here; and each kind of signal is passed on once, because npm forwards
 * the same Ctrl+C to this script again, and Electron gives a second SIGINT no graceful quit (models would not be
 * released). A different signal later (a SIGTERM after the SIGINT) is passed on: that is someone insisting.
 */
function runUntilExit(name, command, args, environment = process.env) {
  const ownGroup = process.platform !== 'win32';
  const child = spawn(command, args, { cwd: root, stdio: 'inherit', env: environment, detached: ownGroup });
  const forwarded = new Set();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (forwarded.has(signal)) return;
      forwarded.add(signal);
      // On Windows the console already sent Ctrl+C to every process attached to it.
      if (!ownGroup && signal === 'SIGINT') return;
      // The app no longer has the terminal (its own group): a hang-up is a request to quit.
      child.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal);
    });
  }
  child.once('error', (error) => {
    say(`could not start ${command}: ${error.message}`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    say(`${name} was ended by ${signal}`);
    process.exit(128 + (constants.signals[signal] ?? 0));
  });
}

const argv = process.argv.slice(2);
const dev = argv[0] === '--dev';
const extra = dev ? argv.slice(1) : argv;

if (dev) {
  const electron = await obtainElectron('npm run dev');
  if (!electron.ok) {
    say(`the desktop window cannot start: ${electron.reason}.`);
    say(`to retry, ${electron.retry}; \`npm start\` serves the same UI through the web host meanwhile.`);
    process.exit(1);
  }
  // electron-vite reads path.txt itself and knows no override; ELECTRON_EXEC_PATH names the binary for it.
  runUntilExit('the dev server', process.execPath, [electronVite, 'dev', ...extra], {
    ...process.env,
    ELECTRON_EXEC_PATH: electron.path,
  });
} else {
  const build = spawnSync(process.execPath, [electronVite, 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
  const electron = await obtainElectron('npm start');
  if (electron.ok) {
    runUntilExit('the app', electron.path, [root, ...extra]);
  } else {
    say(`the desktop window cannot start: ${electron.reason}.`);
    say('serving the same UI through the web host instead: open the URL below in a browser.');
    say(`to get the desktop window, ${electron.retry}.`);
    runUntilExit('the web host', process.execPath, [join(root, 'bin', 'clemplay.mjs'), 'serve', ...extra]);
  }
}
