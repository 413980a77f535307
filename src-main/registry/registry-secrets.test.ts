import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secretFieldPaths } from '../../src-shared/secrets.js';
import { apiRouter } from '../api/router.js';
import { createCallerFactory } from '../api/trpc.js';
import { findAppRoot } from '../paths.js';
import { collectChat } from '../testing/collect-chat.js';
import { rejection } from '../testing/rejection.js';
import { createTestServices } from '../testing/services.js';

// Keys typed into a registry entry, and passwords in a base_url, must not travel further: not into new entries, not
// into what resolve and the API show, not into saved chats, exports or error messages.
const key = 'sk-typed-into-the-registry-0000-NOPE';
const createCaller = createCallerFactory(apiRouter);

async function servicesWithUserRegistry(entries: unknown[]) {
  const home = mkdtempSync(join(tmpdir(), 'clemplay-secrets-'));
  const configDir = join(home, 'config');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, 'model_registry.json'), JSON.stringify(entries));
  return { services: await createTestServices({ configDir, dataDir: join(home, 'data') }), home };
}

describe('secret-named fields', () => {
  it.each([
    [{ api_key: key }, ['api_key']],
    [{ model_config: { token: key, requires_api_key: true, eos_token: '</s>' } }, ['model_config.token']],
    [{ headers: [{ Authorization: `Bearer ${key}` }] }, ['headers[0].Authorization']],
    [{ requires_api_key: true, max_tokens: 5, tokenizer: 'llama', api_key: '' }, []],
    [
      { a: [[{ password: key }], 'text'], b: { c: { secret: key } }, d: { apiKey: key } },
      ['a[0][0].password', 'b.c.secret', 'd.apiKey'],
    ],
  ])('%j holds secrets at %j', (extra, paths) => {
    expect(secretFieldPaths({ model_name: 'm', backend: 'openai', ...extra })).toEqual(paths);
  });

  it('a save of an entry holding one is refused, pointing to Settings; nothing is written', async () => {
    const { services, home } = await servicesWithUserRegistry([]);
    const error = await rejection(
      services.registry.save({ entry: { model_name: 'm', backend: 'openai', model_config: { api_key: key } } }),
    );
    expect(error.code).toBe('invalid-spec');
    expect(error.message).toContain('"model_config.api_key" looks like an API key');
    expect(error.message).toContain('Settings → API keys');
    expect(error.message).not.toContain(key);
    expect(readFileSync(join(home, 'config', 'model_registry.json'), 'utf8')).toBe('[]');
  });

  it('a file holding one loads with a warning, and resolve, list, get and sessions show [redacted]', async () => {
    const entry = { model_name: 'leaky', backend: 'programmatic', api_key: key, model_config: { password: key } };
    const { services } = await servicesWithUserRegistry([entry]);
    const user = services.registry.files().find((file) => file.role === 'user');
    expect(user?.warnings).toEqual([expect.stringContaining('entry 0: "api_key", "model_config.password" looks like')]);

    const redacted = { api_key: '[redacted]', model_config: { password: '[redacted]' } };
    expect(services.registry.resolve('leaky').spec).toMatchObject(redacted);
    const api = createCaller({ services, transport: 'in-process' });
    expect((await api.registry.list()).find((row) => row.entry.model_name === 'leaky')?.entry).toMatchObject(redacted);
    expect((await api.spec.resolve('leaky')).spec).toMatchObject(redacted);
    expect(JSON.stringify(await api.registry.snapshot())).not.toContain(key);
    const explanation = await api.spec.explain('leaky');
    expect(JSON.stringify(explanation)).not.toContain(key);
    // The redacted copy still names the winning entry as every explanation does.
    expect(explanation.result.ok && explanation.result.match?.entry).toMatchObject({
      model_name: 'leaky',
      ...redacted,
    });

    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'leaky' }] });
    expect(session.participants[0]?.spec).toMatchObject(redacted);
    await (
      await services.sessions.send(session.id, 'hi')
    ).finished;
    expect(JSON.stringify(await services.sessions.get(session.id))).not.toContain(key);
  });

  it('the CLI warns on stderr and prints no key', () => {
    const home = mkdtempSync(join(tmpdir(), 'clemplay-secrets-cli-'));
    writeFileSync(
      join(home, 'model_registry.json'),
      JSON.stringify([
        { model_name: 'leaky', backend: 'programmatic', api_key: key },
        { model_name: 'plain', backend: 'programmatic' },
        // A variable takes its value from the query into a secret-named field.
        { model_name: 'bound', backend: 'programmatic', model_id: '?t', token: '?t' },
      ]),
    );
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(findAppRoot(), 'bin', 'clemplay.mjs'), ...args], {
        cwd: home,
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data') },
      });
    const resolved = run('resolve', 'leaky', '--json');
    expect(resolved.status).toBe(0);
    expect(JSON.parse(resolved.stdout)).toMatchObject({ api_key: '[redacted]' });
    expect(resolved.stderr).toContain('warning: ');
    expect(resolved.stderr).toContain('"api_key" looks like an API key');
    const models = run('models', '--json');
    const queries = [
      'leaky',
      '{"model_name": "leaky"}',
      JSON.stringify({ model_name: 'plain', api_key: key }),
      '{"model_name": "bound", "model_id": "typed-as-id"}',
      'plain',
    ];
    writeFileSync(join(home, 'queries.txt'), `${queries.join('\n')}\n`);
    const batch = run('resolve', '--queries', 'queries.txt');
    expect(batch.status).toBe(0);
    expect(
      batch.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      expect.objectContaining({ model_name: 'leaky', api_key: '[redacted]' }),
      expect.objectContaining({ model_name: 'leaky', api_key: '[redacted]' }),
      expect.objectContaining({ model_name: 'plain', api_key: '[redacted]' }),
      expect.objectContaining({ model_name: 'bound', model_id: 'typed-as-id', token: '[redacted]' }),
      { model_name: 'plain', backend: 'programmatic', lookup_source: join(home, 'model_registry.json') },
    ]);
    const printed = [resolved, models, batch].map((result) => `${result.stdout}${result.stderr}`).join('');
    expect(printed).not.toContain(key);
  });
});

describe('credentials in a base_url', () => {
  const base = 'http://someone:hunter2-pw@127.0.0.1:9/v1';

  it('are stripped from error messages, saved sessions and exports', async () => {
    const { services } = await servicesWithUserRegistry([
      { model_name: 'proxied', backend: 'openai_compatible', model_id: 'm', base_url: base, retries: 0 },
    ]);
    const parts = await collectChat(services, 'proxied');
    expect(parts.at(-1)).toMatchObject({ type: 'error', error: { code: 'network' } });
    const noMatch = await rejection(
      Promise.resolve().then(() => services.registry.resolve({ model_name: 'proxied', base_url: `${base}/other` })),
    );
    expect(noMatch.toShape().message).toContain('http://127.0.0.1:9/v1');

    const session = await services.sessions.create({ kind: 'chat', participants: [{ query: 'proxied' }] });
    await (
      await services.sessions.send(session.id, 'hi')
    ).finished;
    await services.sessions.flush();
    const stored = readFileSync(join(services.dataDir, 'sessions', `${session.id}.json`), 'utf8');
    expect(stored).toContain('http://127.0.0.1:9/v1');
    const everything = [
      JSON.stringify(parts),
      noMatch.toShape().message,
      stored,
      JSON.stringify(await services.sessions.get(session.id)),
      await services.sessions.export(session.id, 'json'),
      await services.sessions.export(session.id, 'markdown'),
    ].join('\n');
    expect(everything).not.toContain('hunter2-pw');
    expect(everything).not.toContain('someone:');
  }, 30_000);
});
