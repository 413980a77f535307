import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRPCError } from '@trpc/server';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import type { RegistryChange } from '../registry/registry-stack.js';
import type { AppServices } from '../services.js';
import { createTestServices } from '../testing/services.js';
import { apiRouter } from './router.js';
import { createCallerFactory } from './trpc.js';

const createCaller = createCallerFactory(apiRouter);
const folders: string[] = [];

let services: AppServices;
let caller: ReturnType<typeof createCaller>;
let paths: { user: string; official: string; working: string };

/** Fresh folders for each test: the user registry starts absent, the official one is the app's. */
beforeEach(async () => {
  const home = await mkdtemp(join(tmpdir(), 'clemplay-api-'));
  folders.push(home);
  await mkdir(join(home, 'cwd'));
  services = await createTestServices({ cwd: join(home, 'cwd'), configDir: join(home, 'config') });
  caller = createCaller({ services, transport: 'in-process' });
  paths = {
    user: join(home, 'config', 'model_registry.json'),
    official: join(services.appRoot, 'registry', 'model_registry.json'),
    working: join(home, 'cwd', 'model_registry.json'),
  };
});
afterEach(async () => {
  await services.dispose();
});
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

/** The AppError a procedure failed with (tRPC wraps it as the cause). */
async function appErrorOf(call: Promise<unknown>): Promise<AppError> {
  try {
    await call;
  } catch (error) {
    expect(error).toBeInstanceOf(TRPCError);
    const cause = (error as TRPCError).cause;
    expect(cause).toBeInstanceOf(AppError);
    return cause as AppError;
  }
  throw new Error('expected the call to fail');
}

const entry = (name: string, extra: JsonObject = {}): JsonObject => ({ model_name: name, backend: 'openai', ...extra });

async function namesIn(path: string): Promise<string[]> {
  return (JSON.parse(await readFile(path, 'utf8')) as JsonObject[]).map((row) => String(row.model_name));
}

describe('registry API: reading', () => {
  it('registry.files lists the stack in order with load status and writability', async () => {
    const files = await caller.registry.files();
    expect(files.map((file) => [file.path, file.role, file.status, file.writable])).toEqual([
      [paths.working, 'working-directory', 'missing', true],
      [paths.user, 'user', 'missing', true],
      [paths.official, 'official', 'ok', false],
    ]);
    expect(files[2]?.lookupSource).toBe('official');
    expect(files[2]?.version).toMatch(/^[0-9a-f]{64}$/);
  });

  it('registry.list and registry.get show entries as written, with file and index', async () => {
    const rows = await caller.registry.list();
    const official = JSON.parse(await readFile(paths.official, 'utf8')) as JsonObject[];
    expect(rows.map((row) => row.entry)).toEqual(official);
    const third = await caller.registry.get({ file: paths.official, index: 2 });
    expect(third).toEqual({
      entry: official[2],
      index: 2,
      file: paths.official,
      role: 'official',
      lookupSource: 'official',
    });
  });

  it('registry.get of an entry that is not there is not-found', async () => {
    const error = await appErrorOf(caller.registry.get({ file: paths.official, index: 10_000 }));
    expect(error.code).toBe('not-found');
  });
});

describe('registry API: editing', () => {
  it('saves an entry with an unknown backend or a wrong type, and says what looks wrong', async () => {
    const saved = await caller.registry.save({ entry: entry('odd', { backend: 'anthropic', temperature: 'hot' }) });
    expect(saved.index).toBe(0);
    expect(saved.warnings).toEqual([
      expect.stringContaining('backend "anthropic" is a clemcore backend'),
      expect.stringMatching(/^temperature: expected number.*not "hot"$/),
    ]);
    expect(await namesIn(paths.user)).toEqual(['odd']);
  });

  it('save creates in the user registry, updates in place with a version, and refuses a stale version', async () => {
    expect(await caller.registry.save({ entry: entry('mine') })).toEqual({ file: paths.user, index: 0, warnings: [] });
    expect(await caller.registry.save({ entry: entry('also-mine') })).toEqual({
      file: paths.user,
      index: 1,
      warnings: [],
    });
    const version = (await caller.registry.files()).find((file) => file.path === paths.user)?.version ?? '';
    await caller.registry.save({ file: paths.user, index: 0, entry: entry('renamed'), version });
    expect(await namesIn(paths.user)).toEqual(['renamed', 'also-mine']);
    expect((await caller.registry.list())[0]?.entry.model_name).toBe('renamed');

    const error = await appErrorOf(caller.registry.save({ file: paths.user, index: 1, entry: entry('x'), version }));
    expect(error.code).toBe('conflict');
    expect(await namesIn(paths.user)).toEqual(['renamed', 'also-mine']);
  });

  it('duplicate, move and delete keep the file in the order asked for', async () => {
    for (const name of ['a', 'b', 'c']) await caller.registry.save({ entry: entry(name) });
    expect(await caller.registry.duplicate({ file: paths.user, index: 0 })).toEqual({ file: paths.user, index: 1 });
    expect(await namesIn(paths.user)).toEqual(['a', 'a', 'b', 'c']);
    expect(await caller.registry.move({ file: paths.user, index: 3, direction: 'up' })).toEqual({ index: 2 });
    expect(await namesIn(paths.user)).toEqual(['a', 'a', 'c', 'b']);
    await caller.registry.delete({ file: paths.user, index: 0 });
    expect(await namesIn(paths.user)).toEqual(['a', 'c', 'b']);
  });

  it('saving an official entry overrides it from the top of the user registry; the official file is untouched', async () => {
    const officialBytes = await readFile(paths.official);
    const rows = await caller.registry.list();
    const gpt = rows.find((row) => row.entry.model_name === 'gpt-4o-mini');
    expect(gpt).toBeDefined();
    await caller.registry.save({
      file: paths.official,
      index: gpt?.index ?? -1,
      entry: { ...gpt?.entry, temperature: 0 },
    });
    const resolved = await caller.spec.resolve('gpt-4o-mini');
    expect(resolved.spec.temperature).toBe(0);
    expect(resolved.source).toMatchObject({ file: paths.user, index: 0, role: 'user' });
    expect((await readFile(paths.official)).equals(officialBytes)).toBe(true);

    const error = await appErrorOf(caller.registry.delete({ file: paths.official, index: 0 }));
    expect(error.code).toBe('invalid-input');
  });

  it('an entry without a backend is invalid-spec and nothing is written', async () => {
    const error = await appErrorOf(caller.registry.save({ entry: { model_name: 'x' } }));
    expect(error.code).toBe('invalid-spec');
    expect(error.message).toContain('"backend" is missing');
    expect((await caller.registry.files())[1]?.status).toBe('missing');
  });
});

describe('spec API', () => {
  it('spec.resolve gives { spec, source, provenance }', async () => {
    const resolved = await caller.spec.resolve('gpt-4o-mini');
    expect(Object.keys(resolved).sort()).toEqual(['provenance', 'source', 'spec']);
    expect(resolved.spec).toMatchObject({ model_name: 'gpt-4o-mini', backend: 'openai', lookup_source: 'official' });
    expect(resolved.source).toMatchObject({ file: paths.official, lookupSource: 'official', role: 'official' });
    expect(resolved.provenance).toMatchObject({ file: paths.official, lookupSource: 'official' });
    expect(resolved.provenance.fromQuery).toEqual(['model_name']);
    expect(resolved.provenance.fromEntry).toContain('backend');
  });

  it('spec.resolve accepts a JSON string and an object alike', async () => {
    const fromText = await caller.spec.resolve('{"model_name": "human"}');
    const fromObject = await caller.spec.resolve({ model_name: 'human' });
    expect(fromText).toEqual(fromObject);
    expect(fromText.spec.backend).toBe('human');
  });

  it('spec.resolve of broken JSON is invalid-spec with line and column', async () => {
    const error = await appErrorOf(caller.spec.resolve('{\n  "model_name": "x",\n  "backend": \n}'));
    expect(error.code).toBe('invalid-spec');
    expect(error.details).toMatchObject({ line: 4, column: 1 });
  });

  it('spec.resolve with a registry without a catch-all is no-match with the nearest entries', async () => {
    await services.dispose();
    const only = join(folders.at(-1) ?? tmpdir(), 'only.json');
    await writeFile(only, JSON.stringify([entry('gpt-4o'), entry('claude')]));
    services = await createTestServices({ registryFiles: [only] });
    caller = createCaller({ services, transport: 'in-process' });
    const error = await appErrorOf(caller.spec.resolve('gpt-40'));
    expect(error.code).toBe('no-match');
    expect(error.details?.nearest).toEqual([
      expect.objectContaining({ model_name: 'gpt-4o', path: 'model_name', left: 'gpt-40', right: 'gpt-4o' }),
      expect.objectContaining({ model_name: 'claude' }),
    ]);
  });

  it('spec.explain gives every entry a verdict, the winner and the provenance', async () => {
    const rows = await caller.registry.list();
    const explanation = await caller.spec.explain({ model_name: 'gpt-4o', backend: 'openai' });
    expect(explanation.verdicts).toHaveLength(rows.length);
    const winner = explanation.winner ?? -1;
    expect(explanation.verdicts[winner]).toMatchObject({ matched: true, model_name: 'gpt-4o' });
    expect(explanation.verdicts.slice(0, winner).every((verdict) => !verdict.matched)).toBe(true);
    expect(explanation.provenance?.fromQuery.sort()).toEqual(['backend', 'model_name']);
    // As the app receives it (JSON): the matching entry with its lookup_source, where it is and in which file.
    const sent = JSON.parse(JSON.stringify(explanation)) as typeof explanation;
    const match = sent.result.ok ? sent.result.match : null;
    expect(match).toMatchObject({ lookupSource: 'official', file: paths.official, index: expect.any(Number) });
    expect(match?.entry).toMatchObject({ model_name: 'gpt-4o', backend: 'openai', lookup_source: 'official' });
    expect(Object.keys(match ?? {}).sort()).toEqual(['entry', 'file', 'index', 'lookupSource']);
  });
});

describe('input validation', () => {
  const cases: { name: string; call: () => Promise<unknown> }[] = [
    { name: 'registry.get with a negative index', call: () => caller.registry.get({ file: paths.user, index: -1 }) },
    { name: 'registry.get with an empty file name', call: () => caller.registry.get({ file: '', index: 0 }) },
    { name: 'registry.get with a fractional index', call: () => caller.registry.get({ file: paths.user, index: 0.5 }) },
    {
      name: 'registry.move sideways',
      call: () => caller.registry.move({ file: paths.user, index: 0, direction: 'sideways' as 'up' }),
    },
    { name: 'registry.save of an array', call: () => caller.registry.save({ entry: [] as unknown as JsonObject }) },
    { name: 'registry.save of a string', call: () => caller.registry.save({ entry: 'x' as unknown as JsonObject }) },
    { name: 'spec.resolve of an empty string', call: () => caller.spec.resolve('') },
    { name: 'spec.resolve of a number', call: () => caller.spec.resolve(3 as unknown as string) },
    { name: 'spec.explain of null', call: () => caller.spec.explain(null as unknown as string) },
  ];

  it.each(cases)('$name is BAD_REQUEST', async ({ call }) => {
    await expect(call()).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('registry.changes', () => {
  it('yields an event after a save and stops when its signal aborts', async () => {
    const controller = new AbortController();
    const signalled = createCaller({ services, transport: 'in-process' }, { signal: controller.signal });
    const iterator = (await signalled.registry.changes())[Symbol.asyncIterator]();
    const first = iterator.next();
    await caller.registry.save({ entry: entry('watched') });
    expect(await first).toEqual({ done: false, value: { file: paths.user, reason: 'saved' } });

    // Abort while the subscription waits for the next change: it must end, not hang.
    const second = iterator.next();
    controller.abort();
    expect(await second).toMatchObject({ done: true });
  });

  it('queues changes that happen between reads, in order', async () => {
    const controller = new AbortController();
    const signalled = createCaller({ services, transport: 'in-process' }, { signal: controller.signal });
    const iterator = (await signalled.registry.changes())[Symbol.asyncIterator]();
    const first = iterator.next();
    await caller.registry.save({ entry: entry('one') });
    await caller.registry.save({ file: paths.working, entry: entry('two') });
    const seen: RegistryChange[] = [];
    seen.push((await first).value as RegistryChange);
    seen.push((await iterator.next()).value as RegistryChange);
    expect(seen).toEqual([
      { file: paths.user, reason: 'saved' },
      { file: paths.working, reason: 'saved' },
    ]);
    controller.abort();
    expect(await iterator.next()).toMatchObject({ done: true });
  });

  it('reports an edit made outside the app when the services watch the files', async () => {
    await services.dispose();
    const home = folders.at(-1) ?? tmpdir();
    services = await createTestServices({ cwd: join(home, 'cwd'), configDir: join(home, 'config'), watch: true });
    caller = createCaller({ services, transport: 'in-process' });
    const controller = new AbortController();
    const signalled = createCaller({ services, transport: 'in-process' }, { signal: controller.signal });
    const iterator = (await signalled.registry.changes())[Symbol.asyncIterator]();
    const first = iterator.next();
    // Saved the way editors do (write elsewhere, rename over), so the watcher sees one complete change.
    await writeFile(`${paths.working}.new`, JSON.stringify([entry('from-an-editor')]));
    await rename(`${paths.working}.new`, paths.working);
    expect(await first).toEqual({ done: false, value: { file: paths.working, reason: 'external-edit' } });
    controller.abort();
    expect(await iterator.next()).toMatchObject({ done: true });
    expect((await caller.spec.resolve('from-an-editor')).source?.role).toBe('working-directory');
  });
});
