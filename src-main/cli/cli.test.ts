import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAppRoot, readAppVersion } from '../paths.js';

// These run the real entry point, `node bin/clemplay.mjs`, on the build that `npm test` makes first.
const root = findAppRoot();
const bin = join(root, 'bin', 'clemplay.mjs');

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('clemplay CLI', () => {
  it('--help lists the commands and exits 0', () => {
    const result = run('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: clemplay');
    expect(result.stdout).toContain('serve');
  });

  it('--help works for every command', () => {
    const result = run('serve', '--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('--port');
  });

  it('--version prints the package version', () => {
    const result = run('--version');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(readAppVersion(root));
  });

  it('an unknown command prints the help and exits non-zero', () => {
    const result = run('frobnicate');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
    expect(result.stderr).toContain('Usage: clemplay');
  });

  it('an unknown option or a bad port exits non-zero with a message', () => {
    expect(run('serve', '--colour').status).toBe(2);
    const badPort = run('serve', '--port', '99999');
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toContain('expected a port number from 0 to 65535');
  });

  it('serve prints the serving line and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0'], { cwd: root });
    const line = await new Promise<string>((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('\n')) resolve(output.trim());
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    expect(line).toMatch(/^clemplay: serving at http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{40,}$/);
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`${code} ${signal}`)));
    child.kill('SIGTERM');
    expect(await exited).toBe('0 null');
  });

  it('serve on a port in use fails with a clear error', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, 'serve', '--port', String(port)], { cwd: root });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('exit', (status) => resolve({ status, stderr }));
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`error[network]: port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });
});
