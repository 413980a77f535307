import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiChannel } from '../../src-shared/bridge.js';
import { findAppRoot } from '../paths.js';
import { connectApiClient } from '../testing/api-client.js';

// The desktop app, the CLI and the web host must see the same registry, keys, chats, models and results. Each is
// asked, the way a person would reach it, where it keeps them: the app (Electron is the stand-in of fake-electron.ts)
// over IPC, the CLI with `clemplay folders --json`, the web host over its WebSocket API.
const electron = await vi.hoisted(async () => (await import('./fake-electron.js')).createFakeElectron());
vi.mock('electron', () => electron);

const root = findAppRoot();
const base = mkdtempSync(join(tmpdir(), 'clemplay-folders-'));
const home = join(base, 'home');
/** One variable set, one not: both ways of choosing a folder are covered. */
const environment = {
  HOME: home,
  XDG_CONFIG_HOME: join(base, 'xdg-config'),
  XDG_DATA_HOME: '',
  CLEMPLAY_MODELS_DIRS: '',
};
const expected = {
  config: join(base, 'xdg-config', 'clemplay'),
  data: join(home, '.local', 'share', 'clemplay'),
  // Chosen in settings.json, which all three must read.
  models: [join(base, 'models-a'), join(base, 'models-b')],
  results: join(home, '.local', 'share', 'clemplay', 'results'),
};

/** This process's environment without anything that picks folders or keys, plus `environment`. */
function childEnvironment(): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(
    ([name]) => !/^(XDG_|CLEMPLAY_|HOME$)/.test(name) && !name.endsWith('_API_KEY'),
  );
  return { ...Object.fromEntries(inherited), ...environment };
}

async function askTheApp(): Promise<unknown> {
  for (const [name, value] of Object.entries(environment)) vi.stubEnv(name, value);
  await import('./main.js');
  await vi.waitFor(() => expect(electron.windows).toHaveLength(1));
  const contents = electron.windows[0]!.webContents;
  const event = { sender: contents, senderFrame: Object.assign(contents.mainFrame, { url: 'app://clemplay/' }) };
  electron.ipcMain.emit(apiChannel, event, { kind: 'open', connection: 1 });
  const query = JSON.stringify({ id: 1, method: 'query', params: { path: 'app.info' } });
  electron.ipcMain.emit(apiChannel, event, { kind: 'message', connection: 1, data: query });
  await vi.waitFor(() => expect(contents.sent).toHaveLength(1));
  const reply = contents.sent[0] as { data: string };
  return (JSON.parse(reply.data) as { result: { data: { folders: unknown } } }).result.data.folders;
}

function askTheCli(): unknown {
  const result = spawnSync(process.execPath, [join(root, 'bin', 'clemplay.mjs'), 'folders', '--json'], {
    cwd: base,
    env: childEnvironment(),
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout);
}

async function askTheWebHost(): Promise<unknown> {
  const child = spawn(process.execPath, [join(root, 'bin', 'clemplay.mjs'), 'serve', '--port', '0'], {
    cwd: base,
    env: childEnvironment(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<URL>((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /serving at (\S+)/.exec(output);
        if (match !== null) resolve(new URL(match[1]!));
      });
      child.once('exit', (code) => reject(new Error(`clemplay serve exited with ${code}: ${output}`)));
    });
    const client = connectApiClient({ port: Number(url.port), token: url.searchParams.get('token')! });
    try {
      return (await client.api.app.info.query()).folders;
    } finally {
      client.close();
    }
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

describe('one folder layout', () => {
  beforeAll(() => {
    mkdirSync(expected.config, { recursive: true });
    writeFileSync(join(expected.config, 'settings.json'), JSON.stringify({ models_dirs: expected.models }));
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('the app, the CLI and the web host keep config, data, models and results in the same folders', async () => {
    const [app, cli, webHost] = [await askTheApp(), askTheCli(), await askTheWebHost()];
    expect(app).toEqual(expected);
    expect(cli).toEqual(expected);
    expect(webHost).toEqual(expected);
    // Electron's own state (caches, the single-instance lock) goes in the data folder, not among the settings.
    expect(electron.setPaths).toEqual([{ name: 'userData', path: join(expected.data, 'electron'), beforeReady: true }]);
  });
});
