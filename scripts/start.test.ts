import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

// `npm start` runs for real here, in a copy of the checkout's layout where everything Electron is a stand-in: Electron
// cannot be downloaded on these machines, and a test must never wait on the network. The stand-ins are small node
// scripts that record what they were asked to do: electron-vite, Electron's package (install.js and the
// @electron/get it downloads with), the Electron executable, and `clemplay serve`.

const scripts = import.meta.dirname;

/**
 * The Electron executable's stand-in; FAKE_ELECTRON says what it does: `exit:N`, `crash`, or `wait`: count SIGINTs
 * until a SIGTERM, as a window would stay open. It prints its process group (Linux: /proc/self/stat).
 */
const fakeElectron = `#!${process.execPath}
const { readFileSync } = require('node:fs');
const mode = process.env.FAKE_ELECTRON ?? 'exit:0';
console.log('fake electron: args ' + JSON.stringify(process.argv.slice(2)));
if (mode.startsWith('exit:')) process.exit(Number(mode.slice(5)));
if (mode === 'crash') process.kill(process.pid, 'SIGKILL');
let interrupts = 0;
process.on('SIGINT', () => console.log('fake electron: SIGINT ' + ++interrupts));
process.on('SIGTERM', () => {
  console.log('fake electron: quitting after ' + interrupts + ' SIGINT');
  process.exit(0);
});
const stat = readFileSync('/proc/self/stat', 'utf8');
console.log('fake electron: group ' + stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
setInterval(() => undefined, 1 << 30);
`;

/** @electron/get's stand-in; FAKE_DOWNLOAD: `ok` (with progress), `fail` (offline) or `stall` (no bytes, ever). */
const fakeElectronGet = `import { appendFileSync } from 'node:fs';
export async function downloadArtifact(details) {
  const { signal, getProgressCallback, quiet } = details.downloadOptions;
  appendFileSync(process.env.FAKE_LOG, JSON.stringify({ download: details.version, artifact: details.artifactName,
    checksums: details.checksums !== undefined, signal: signal instanceof AbortSignal, quiet }) + '\\n');
  const mode = process.env.FAKE_DOWNLOAD;
  if (mode === 'fail') {
    throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND github.com') });
  }
  if (mode === 'stall') {
    await new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('This operation was aborted'))));
  }
  const total = 105_000_000;
  for (const percent of [0, 0.25, 0.5, 0.75, 1]) getProgressCallback({ transferred: total * percent, total, percent });
  return '/cache/electron.zip';
}
`;

/** Electron's install.js stand-in: FAKE_INSTALL `ok` unpacks the executable (as the real one does), `fail` fails. */
const fakeInstallScript = `const { appendFileSync, chmodSync, copyFileSync, mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
appendFileSync(process.env.FAKE_LOG, JSON.stringify({ installScript: true }) + '\\n');
if (process.env.FAKE_INSTALL === 'fail') {
  console.error('Error: end of central directory record signature not found');
  process.exit(1);
}
mkdirSync(join(__dirname, 'dist'), { recursive: true });
copyFileSync(join(__dirname, 'fake-electron.js'), join(__dirname, 'dist', 'electron'));
chmodSync(join(__dirname, 'dist', 'electron'), 0o755);
writeFileSync(join(__dirname, 'path.txt'), 'electron');
`;

const fakeElectronVite = `const [command] = process.argv.slice(2);
console.log('fake electron-vite: ' + command + (command === 'dev' ? ' with ELECTRON_EXEC_PATH=' + process.env.ELECTRON_EXEC_PATH : ''));
`;

const fakeWebHost = `const stop = (signal) => { console.log('fake web host: stopped by ' + signal); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
console.log('fake web host: args ' + JSON.stringify(process.argv.slice(2)));
setInterval(() => undefined, 1 << 30);
`;

function write(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

/** A checkout of clemplay in miniature: the real start scripts, every Electron part a stand-in. */
function makeCheckout(options: { installed?: boolean } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'clemplay-start-'));
  for (const name of ['start.mjs', 'electron-binary.mjs', 'electron-install.mjs']) {
    mkdirSync(join(root, 'scripts'), { recursive: true });
    copyFileSync(join(scripts, name), join(root, 'scripts', name));
  }
  const electronDir = join(root, 'node_modules', 'electron');
  write(join(electronDir, 'package.json'), JSON.stringify({ name: 'electron', version: '45.5.0' }));
  write(join(electronDir, 'checksums.json'), JSON.stringify({ 'electron-v45.5.0-linux-x64.zip': 'ab12' }));
  write(join(electronDir, 'install.js'), fakeInstallScript);
  write(join(electronDir, 'fake-electron.js'), fakeElectron, 0o755);
  const electronGet = join(root, 'node_modules', '@electron', 'get');
  write(
    join(electronGet, 'package.json'),
    JSON.stringify({ name: '@electron/get', type: 'module', exports: './index.js' }),
  );
  write(join(electronGet, 'index.js'), fakeElectronGet);
  write(join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), fakeElectronVite);
  write(join(root, 'bin', 'clemplay.mjs'), fakeWebHost);
  if (options.installed) {
    write(join(electronDir, 'dist', 'electron'), fakeElectron, 0o755);
    write(join(electronDir, 'path.txt'), 'electron');
  }
  const log = join(root, 'fake.log');
  writeFileSync(log, '');
  return {
    root,
    electronDir,
    /** What the stand-ins recorded, one object per event. */
    events: (): Array<Record<string, unknown>> =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    environment: { FAKE_LOG: log },
  };
}

interface Started {
  child: ChildProcess;
  output(): string;
  /** Resolves with the output once it matches; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `node scripts/start.mjs` as `npm start` does, in its own process group, as a terminal's foreground job. */
function start(
  checkout: ReturnType<typeof makeCheckout>,
  environment: Record<string, string>,
  argv: string[] = [],
): Started {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('ELECTRON_') && !name.startsWith('CLEMPLAY_')),
  );
  const child = spawn(process.execPath, [join(checkout.root, 'scripts', 'start.mjs'), ...argv], {
    cwd: checkout.root,
    env: { ...inherited, ...checkout.environment, ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const watcher of [...watchers]) watcher();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (!pattern.test(output)) return;
          watchers.delete(check);
          resolve(output);
        };
        watchers.add(check);
        check();
        void exited.then(() => {
          if (!watchers.has(check)) return;
          watchers.delete(check);
          reject(new Error(`start.mjs exited before printing ${pattern}:\n${output}`));
        });
      }),
  };
}

describe('npm start (scripts/start.mjs)', () => {
  it('downloads a missing Electron with visible progress, then opens the app with it', async () => {
    const checkout = makeCheckout();
    const run = start(checkout, { FAKE_DOWNLOAD: 'ok', FAKE_INSTALL: 'ok', FAKE_ELECTRON: 'exit:0' });
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const output = run.output();
    expect(output).toContain('fake electron-vite: build');
    expect(output).toMatch(/downloading Electron 45\.5\.0 for \w+-\w+/);
    // A line per step of progress (the output is a pipe, not a terminal), with sizes.
    expect(output).toMatch(/: 50% \(52\.5 MB of 105\.0 MB\)/);
    expect(output).toMatch(/: 100% \(105\.0 MB of 105\.0 MB\)/);
    expect(output).toContain(`fake electron: args ${JSON.stringify([checkout.root])}`);
    expect(output).not.toContain('web host');
    // The download went through @electron/get with Electron's own checksums, quietly (the progress is ours) and
    // abortable; then Electron's installer unpacked it.
    expect(checkout.events()).toEqual([
      { download: '45.5.0', artifact: 'electron', checksums: true, signal: true, quiet: true },
      { installScript: true },
    ]);
    expect(existsSync(join(checkout.electronDir, 'dist', 'electron'))).toBe(true);
  });

  it('falls back to the web host when the download fails, saying why and how to retry', async () => {
    const checkout = makeCheckout();
    const run = start(checkout, { FAKE_DOWNLOAD: 'fail' }, ['--port', '0']);
    const output = await run.waitFor(/fake web host: args/);
    expect(output).toContain('the desktop window cannot start: fetch failed (getaddrinfo ENOTFOUND github.com)');
    expect(output).toContain('serving the same UI through the web host instead');
    expect(output).toMatch(/to get the desktop window, run `npm start` again/);
    expect(output).toContain(`fake web host: args ${JSON.stringify(['serve', '--port', '0'])}`);
    expect(checkout.events()).toEqual([expect.objectContaining({ download: '45.5.0' })]);
    run.child.kill('SIGINT');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output()).toContain('fake web host: stopped by SIGINT');
  });

  it('gives up on a download that stalls, and falls back', async () => {
    const checkout = makeCheckout();
    const run = start(checkout, { FAKE_DOWNLOAD: 'stall', CLEMPLAY_ELECTRON_STALL_TIMEOUT_S: '0.2' });
    const output = await run.waitFor(/fake web host: args/);
    expect(output).toContain('the download stalled: no data arrived for 0.2 s');
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });

  it("falls back when Electron's installer fails after the download, quoting it", async () => {
    const checkout = makeCheckout();
    const run = start(checkout, { FAKE_DOWNLOAD: 'ok', FAKE_INSTALL: 'fail' });
    const output = await run.waitFor(/fake web host: args/);
    expect(output).toMatch(/Electron's installer \(\S+install\.js\) failed: Error: end of central directory/);
    run.child.kill('SIGTERM');
    await run.exited;
  });

  it('uses an installed Electron without downloading', async () => {
    const checkout = makeCheckout({ installed: true });
    const run = start(checkout, { FAKE_ELECTRON: 'exit:3', FAKE_DOWNLOAD: 'fail' });
    expect(await run.exited).toEqual({ code: 3, signal: null });
    expect(run.output()).toContain('fake electron: args');
    expect(run.output()).not.toContain('downloading');
    expect(checkout.events()).toEqual([]);
  });

  it('honours ELECTRON_OVERRIDE_DIST_PATH as Electron does, and never downloads for it', async () => {
    const checkout = makeCheckout();
    const overrideDir = mkdtempSync(join(tmpdir(), 'clemplay-electron-dist-'));
    write(join(overrideDir, 'electron'), fakeElectron, 0o755);
    const run = start(checkout, { ELECTRON_OVERRIDE_DIST_PATH: overrideDir, FAKE_DOWNLOAD: 'fail' });
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output()).toContain('fake electron: args');
    expect(checkout.events()).toEqual([]);

    const empty = mkdtempSync(join(tmpdir(), 'clemplay-electron-dist-'));
    const missing = start(checkout, { ELECTRON_OVERRIDE_DIST_PATH: empty, FAKE_DOWNLOAD: 'ok' });
    const output = await missing.waitFor(/fake web host: args/);
    expect(output).toContain(
      `ELECTRON_OVERRIDE_DIST_PATH is ${empty}, but there is no Electron executable at ${join(empty, 'electron')}`,
    );
    expect(output).toContain('unset it to download one');
    expect(checkout.events()).toEqual([]);
    missing.child.kill('SIGTERM');
    await missing.exited;
  });

  it("a terminal's Ctrl+C, which npm forwards once more, reaches the app exactly once", async () => {
    const checkout = makeCheckout({ installed: true });
    const run = start(checkout, { FAKE_ELECTRON: 'wait' });
    const group = /fake electron: group (\d+)/.exec(await run.waitFor(/fake electron: group \d+/))![1];
    // The terminal signals its foreground process group, which the app must not be in: it hears Ctrl+C only from us.
    expect(Number(group)).not.toBe(run.child.pid);
    process.kill(-run.child.pid!, 'SIGINT');
    await run.waitFor(/fake electron: SIGINT 1/);
    // npm sends its child the same SIGINT once more; then someone insists with SIGTERM. Signals arrive in order, so
    // by the time the app hears the SIGTERM it has heard every SIGINT passed on before it.
    run.child.kill('SIGINT');
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output()).toContain('fake electron: quitting after 1 SIGINT');
  });

  it('exits non-zero when the app dies by a signal', async () => {
    const checkout = makeCheckout({ installed: true });
    const run = start(checkout, { FAKE_ELECTRON: 'crash' });
    expect(await run.exited).toEqual({ code: 128 + 9, signal: null });
    expect(run.output()).toContain('the app was ended by SIGKILL');
  });

  it('npm run dev hands the binary to electron-vite, or says why it cannot', async () => {
    const checkout = makeCheckout();
    const run = start(checkout, { FAKE_DOWNLOAD: 'ok', FAKE_INSTALL: 'ok' }, ['--dev']);
    expect((await run.exited).code).toBe(0);
    expect(run.output()).toContain(
      `fake electron-vite: dev with ELECTRON_EXEC_PATH=${join(checkout.electronDir, 'dist', 'electron')}`,
    );

    const offline = start(makeCheckout(), { FAKE_DOWNLOAD: 'fail' }, ['--dev']);
    expect((await offline.exited).code).toBe(1);
    expect(offline.output()).toContain('the desktop window cannot start: fetch failed');
    expect(offline.output()).toContain('`npm start` serves the same UI through the web host meanwhile');
    expect(offline.output()).toContain('to retry, run `npm run dev` again once github.com is reachable');
    expect(offline.output()).not.toContain('fake electron-vite');
  });
});
