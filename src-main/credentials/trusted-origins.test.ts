import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiRouter } from '../api/router.js';
import { createCallerFactory } from '../api/trpc.js';
import { findAppRoot } from '../paths.js';
import { createTestServices } from '../testing/services.js';
import { originOf, parseTrustedOrigin } from './trusted-origins.js';

const createCaller = createCallerFactory(apiRouter);

describe('origins', () => {
  it.each([
    ['https://API.example.com/v1/', 'https://api.example.com'],
    ['http://127.0.0.1:80/v1', 'http://127.0.0.1'],
    ['http://[::1]:8080', 'http://[::1]:8080'],
  ])('%s is the origin %s', (url, origin) => {
    expect(originOf(url)).toBe(origin);
    expect(parseTrustedOrigin(url)).toBe(origin);
  });

  it.each(['ftp://host', 'not a url', 'http://user:secret@host', 'file:///etc'])('%s is refused', (text) => {
    expect(() => parseTrustedOrigin(text)).toThrow(expect.objectContaining({ code: 'invalid-input' }));
  });
});

describe('credentials API: trusted origins', () => {
  it('lists built-in and registry origins but not the working folder’s; adds and removes the user’s own', async () => {
    const home = mkdtempSync(join(tmpdir(), 'clemplay-trust-'));
    const cwd = join(home, 'clone');
    mkdirSync(cwd, { recursive: true });
    writeFileSync(
      join(cwd, 'model_registry.json'),
      JSON.stringify([{ model_name: 'x', backend: 'openai_compatible', base_url: 'http://evil.example:9999/v1' }]),
    );
    const services = await createTestServices({ cwd });
    const api = createCaller({ services, transport: 'in-process' });

    const listed = await api.credentials.trustedOrigins();
    const official = services.registry.files().find((file) => file.role === 'official')?.path;
    expect(listed).toContainEqual({ origin: 'https://api.openai.com', sources: [{ kind: 'built-in' }] });
    expect(listed).toContainEqual({ origin: 'http://127.0.0.1:8080', sources: [{ kind: 'registry', path: official }] });
    expect(listed.map((entry) => entry.origin)).not.toContain('http://evil.example:9999');

    expect(await api.credentials.trustOrigin({ origin: 'http://LLM.example:80/v1' })).toEqual({
      origin: 'http://llm.example',
    });
    expect(await api.credentials.trustedOrigins()).toContainEqual({
      origin: 'http://llm.example',
      sources: [{ kind: 'settings', path: services.settings.path }],
    });
    expect(await services.backendContext.isTrustedOrigin?.('http://llm.example/v1')).toBe(true);
    expect(await api.credentials.distrustOrigin({ origin: 'http://llm.example' })).toEqual({
      origin: 'http://llm.example',
    });
    expect(await services.backendContext.isTrustedOrigin?.('http://llm.example/v1')).toBe(false);

    await expect(api.credentials.distrustOrigin({ origin: 'http://127.0.0.1:8080' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(`trusted because of ${official}`),
    });
    await expect(api.credentials.trustOrigin({ origin: 'http://user:pw@host' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });
});

describe('clemplay trust', () => {
  const bin = join(findAppRoot(), 'bin', 'clemplay.mjs');
  const home = mkdtempSync(join(tmpdir(), 'clemplay-trust-cli-'));
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, 'trust', ...args], {
      cwd: home,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), HOME: home },
    });

  it('adds, lists and removes an origin, and says what to give', () => {
    const added = run('http://gpu-box.lan:8000/v1');
    expect(added.status).toBe(0);
    expect(added.stdout).toContain('trusted: http://gpu-box.lan:8000');
    expect(run('--list').stdout).toMatch(/^http:\/\/gpu-box\.lan:8000 +added by you$/m);
    expect(run('--remove', 'http://gpu-box.lan:8000').stdout).toContain('no longer trusted: http://gpu-box.lan:8000');
    expect(run('--list').stdout).not.toContain('gpu-box');
    const nothing = run();
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toContain('error[invalid-input]: give one of: ORIGIN, --list, --remove ORIGIN');
  });
});
