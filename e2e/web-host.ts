import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running `clemplay serve` started the way a user starts it. */
export interface ServedApp {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const root = join(import.meta.dirname, '..');

/**
 * Starts `node bin/clemplay.mjs serve --port 0 …` and waits for its serving line. It runs in a fresh home (its own
 * working directory, config and data folders, no API keys from the environment), so tests never read or change the
 * real user's registry, chats or keys, and the user's set-up cannot change what the tests see.
 */
export function serveApp(extraArguments: string[] = [], environment: NodeJS.ProcessEnv = {}): Promise<ServedApp> {
  const home = mkdtempSync(join(tmpdir(), 'clemplay-e2e-'));
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.endsWith('_API_KEY')));
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'clemplay.mjs'), 'serve', '--port', '0', ...extraArguments],
    {
      cwd: home,
      env: {
        ...inherited,
        XDG_CONFIG_HOME: join(home, 'config'),
        XDG_DATA_HOME: join(home, 'data'),
        HOME: home,
        ...environment,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`clemplay serve printed no URL in 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /^clemplay: serving at (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)$/m.exec(output);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      resolve({
        url: match[1],
        process: child,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`clemplay serve exited with ${code}:\n${output}`));
    });
  });
}
