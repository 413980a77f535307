import type * as fsModule from 'node:fs';
import { existsSync, type FSWatcher } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { formatRegistry } from './registry-file.js';
import { defaultRegistryFiles, RegistryStack, type RegistryChange, type RegistryFileStatus } from './registry-stack.js';

/** Every fs.watch handle opened in this file, so that a test can see the stack close the ones it opened. */
const openedWatchers = vi.hoisted((): FSWatcher[] => []);
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof fsModule>();
  const watch = (...args: unknown[]): FSWatcher => {
    const watcher = (fs.watch as (...watchArgs: unknown[]) => FSWatcher)(...args);
    openedWatchers.push(watcher);
    return watcher;
  };
  return { ...fs, watch };
});

const folders: string[] = [];
const openStacks: RegistryStack[] = [];

afterEach(() => {
  for (const stack of openStacks.splice(0)) stack.close();
});
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

async function temporaryFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'clemplay-stack-'));
  folders.push(folder);
  return folder;
}

/** Writes entries as a registry file; `undefined` leaves the file absent. */
async function writeRegistry(path: string, entries: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, typeof entries === 'string' ? entries : `${JSON.stringify(entries, null, 2)}\n`);
}

interface Layout {
  working?: unknown;
  user?: unknown;
  official?: unknown;
}

/** A stack over a fresh folder: working dir, user config dir and official file, each written when given. */
async function openStack(layout: Layout) {
  const root = await temporaryFolder();
  const paths = {
    working: join(root, 'cwd', 'model_registry.json'),
    user: join(root, 'config', 'model_registry.json'),
    official: join(root, 'app', 'registry', 'model_registry.json'),
  };
  await mkdir(join(root, 'cwd'), { recursive: true });
  await mkdir(join(root, 'config'), { recursive: true });
  for (const role of ['working', 'user', 'official'] as const) {
    if (layout[role] !== undefined) await writeRegistry(paths[role], layout[role]);
  }
  const stack = await RegistryStack.open(
    defaultRegistryFiles({ cwd: join(root, 'cwd'), userDir: join(root, 'config'), officialPath: paths.official }),
  );
  openStacks.push(stack);
  return { stack, paths, root };
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

function fileStatus(stack: RegistryStack, path: string): RegistryFileStatus {
  const status = stack.files().find((file) => file.path === path);
  if (status === undefined) throw new Error(`${path} is not in the stack`);
  return status;
}

async function namesIn(path: string): Promise<string[]> {
  const parsed = JSON.parse(await readFile(path, 'utf8')) as JsonObject[];
  return parsed.map((entry) => String(entry.model_name));
}

/** Leftover temp files of atomic writes (`.model_registry.json.<random>.tmp`). */
async function temporaryFiles(folder: string): Promise<string[]> {
  return (await readdir(folder)).filter((name) => name.endsWith('.tmp'));
}

const entry = (name: string, extra: JsonObject = {}): JsonObject => ({ model_name: name, backend: 'openai', ...extra });

describe('defaultRegistryFiles', () => {
  const locations = {
    cwd: '/work/project',
    userDir: '/home/me/.config/clemplay',
    officialPath: '/app/registry/x.json',
  };

  it('orders the stack working dir > user > official', () => {
    expect(defaultRegistryFiles(locations)).toEqual([
      { path: '/work/project/model_registry.json', role: 'working-directory' },
      { path: '/home/me/.config/clemplay/model_registry.json', role: 'user' },
      { path: '/app/registry/x.json', role: 'official' },
    ]);
  });

  it('--registry replaces the stack with exactly those files, in order; the official file stays official', () => {
    expect(defaultRegistryFiles({ ...locations, explicit: ['/b.json', '/app/registry/x.json', '/a.json'] })).toEqual([
      { path: '/b.json', role: 'explicit' },
      { path: '/app/registry/x.json', role: 'official' },
      { path: '/a.json', role: 'explicit' },
    ]);
    expect(defaultRegistryFiles({ ...locations, explicit: [] })).toHaveLength(3);
  });

  it('run from the folder of the official registry, that file is listed once, read-only', () => {
    const files = defaultRegistryFiles({
      ...locations,
      cwd: '/app/registry',
      officialPath: '/app/registry/model_registry.json',
    });
    expect(files).toEqual([
      { path: '/home/me/.config/clemplay/model_registry.json', role: 'user' },
      { path: '/app/registry/model_registry.json', role: 'official' },
    ]);
  });

  it('run from the config folder, the user registry is listed once', () => {
    const files = defaultRegistryFiles({ ...locations, cwd: locations.userDir });
    expect(files.map((file) => file.role)).toEqual(['user', 'official']);
  });

  it('with no working directory (a packaged app), the stack is the user and the official registry', () => {
    const files = defaultRegistryFiles({ ...locations, cwd: null });
    expect(files.map((file) => file.role)).toEqual(['user', 'official']);
  });
});

describe('the stack: order, lookup_source, provenance', () => {
  it('the working directory beats the user registry, which beats the official one', async () => {
    const { stack, paths } = await openStack({
      working: [entry('shared', { from: 'working' })],
      user: [entry('shared', { from: 'user' }), entry('user-only')],
      official: [
        entry('shared', { from: 'official' }),
        entry('user-only', { from: 'official' }),
        entry('official-only'),
      ],
    });
    expect(stack.resolve('shared').spec.from).toBe('working');
    expect(stack.resolve('user-only').spec.from).toBeUndefined();
    expect(stack.resolve('user-only').source).toEqual({
      file: paths.user,
      index: 1,
      lookupSource: paths.user,
      role: 'user',
    });
    expect(stack.resolve('official-only').source).toEqual({
      file: paths.official,
      index: 2,
      lookupSource: 'official',
      role: 'official',
    });
    expect(stack.entries().map((row) => [row.role, row.index, row.entry.model_name])).toEqual([
      ['working-directory', 0, 'shared'],
      ['user', 0, 'shared'],
      ['user', 1, 'user-only'],
      ['official', 0, 'shared'],
      ['official', 1, 'user-only'],
      ['official', 2, 'official-only'],
    ]);
  });

  it('tags resolved specs with lookup_source: "official" or the file path, keeping an entry\'s own tag', async () => {
    const { stack, paths } = await openStack({
      user: [entry('mine'), entry('tagged', { lookup_source: 'team' })],
      official: [entry('theirs')],
    });
    expect(stack.resolve('mine').spec.lookup_source).toBe(paths.user);
    expect(stack.resolve('theirs').spec.lookup_source).toBe('official');
    expect(stack.resolve('tagged').spec.lookup_source).toBe('team');
    // Listing shows entries as written: the tag is for lookups, never written into the file.
    expect(stack.entries()[0]?.entry).toEqual(entry('mine'));
  });

  it('a query that pins lookup_source skips the files above it', async () => {
    const { stack, paths } = await openStack({
      working: [entry('gpt', { from: 'working' })],
      user: [entry('gpt', { from: 'user' })],
      official: [entry('gpt', { from: 'official' })],
    });
    expect(stack.resolve('{"model_name": "gpt", "lookup_source": "official"}').spec.from).toBe('official');
    expect(stack.resolve({ model_name: 'gpt', lookup_source: paths.user }).spec.from).toBe('user');
    expect(stack.resolve('gpt').spec.from).toBe('working');
  });

  it('resolve reports key-by-key provenance and variable bindings', async () => {
    const catchAll = {
      model_name: '?m',
      backend: 'openai_compatible',
      model_id: '?m',
      base_url: 'http://127.0.0.1:8080/v1',
    };
    const { stack, paths } = await openStack({ user: [catchAll] });
    const resolution = stack.resolve({ model_name: 'qwen', temperature: 0 });
    expect(resolution.spec).toEqual({
      model_name: 'qwen',
      temperature: 0,
      backend: 'openai_compatible',
      model_id: 'qwen',
      base_url: 'http://127.0.0.1:8080/v1',
      lookup_source: paths.user,
    });
    expect(resolution.provenance).toMatchObject({
      file: paths.user,
      index: 0,
      bindings: { '?m': 'qwen' },
    });
    expect(resolution.provenance.fromQuery).toEqual(expect.arrayContaining(['model_name', 'temperature', 'model_id']));
    expect(resolution.provenance.fromEntry).toEqual(expect.arrayContaining(['backend', 'base_url', 'lookup_source']));
  });

  it('a query that names a backend and matches nothing is used as it is (source null)', async () => {
    const { stack } = await openStack({ official: [entry('gpt')] });
    const resolution = stack.resolve({ model_name: 'adhoc', backend: 'openai_compatible' });
    expect(resolution.source).toBeNull();
    expect(resolution.spec).toEqual({ model_name: 'adhoc', backend: 'openai_compatible' });
  });
});

describe('the stack: resolve and explain errors', () => {
  const cases: { name: string; query: string; line: number; column: number }[] = [
    { name: 'a broken one-line query', query: '{"model_name": }', line: 1, column: 16 },
    { name: 'a broken multi-line query', query: '{\n  "model_name": "x",\n  "backend" "y"\n}', line: 3, column: 13 },
  ];

  it.each(cases)('$name is invalid-spec with line $line, column $column', async ({ query, line, column }) => {
    const { stack } = await openStack({ official: [entry('x')] });
    for (const action of [() => stack.resolve(query), () => stack.explain(query)]) {
      const error = thrown(action);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'invalid-spec', details: { line, column } });
      expect((error as AppError).message).toContain(`line ${line}, column ${column}`);
    }
  });

  it('no match without a catch-all is no-match with the nearest entries and where they conflict', async () => {
    const { stack, paths } = await openStack({
      official: [entry('gpt-4o'), entry('gpt-4o-mini'), entry('claude'), entry('llama')],
    });
    const error = thrown(() => stack.resolve('gpt-4o-mnii'));
    expect(error).toMatchObject({ code: 'no-match' });
    const nearest = (error as AppError).details?.nearest as { model_name: string; path: string; file: string }[];
    expect(nearest[0]).toMatchObject({ model_name: 'gpt-4o-mini', path: 'model_name', file: paths.official });
    expect(nearest.map((near) => near.model_name)).toContain('gpt-4o');
    expect((error as AppError).message).toContain('gpt-4o-mini');
  });

  it('explain gives every entry a verdict, in stack order', async () => {
    const { stack } = await openStack({
      user: [entry('b', { backend: 'other' })],
      official: [entry('a'), entry('b'), entry('b', { extra: true })],
    });
    const explanation = stack.explain({ model_name: 'b', backend: 'openai' });
    expect(explanation.verdicts.map((verdict) => verdict.matched)).toEqual([false, false, true, true]);
    expect(explanation.verdicts[0]).toMatchObject({ path: 'backend', left: 'openai', right: 'other' });
    expect(explanation.winner).toBe(2);
    expect(explanation.result.ok).toBe(true);
  });
});

describe('the stack: loading', () => {
  it('one broken file does not stop the others; its problem names the file and line', async () => {
    const { stack, paths } = await openStack({
      working: [entry('w')],
      user: '[\n  {"model_name": "u", "backend": "openai"}\n  {"model_name": "v"}\n]',
      official: [entry('o')],
    });
    expect(stack.resolve('w').source?.role).toBe('working-directory');
    expect(stack.resolve('o').source?.role).toBe('official');
    const user = fileStatus(stack, paths.user);
    expect(user).toMatchObject({ status: 'error', entryCount: 0, usingLastGood: false, version: null, writable: true });
    expect(user.problem?.message).toMatch(new RegExp(`^${paths.user}:3:3: invalid JSON`));
    expect(stack.problems()).toEqual([user.problem]);
    expect(fileStatus(stack, paths.working)).toMatchObject({ status: 'ok', entryCount: 1, usingLastGood: false });
    expect(fileStatus(stack, paths.official)).toMatchObject({ writable: false, lookupSource: 'official' });
  });

  it('an absent optional file is "missing", not a problem', async () => {
    const { stack, paths } = await openStack({ official: [entry('o')] });
    expect(fileStatus(stack, paths.working)).toMatchObject({ status: 'missing', entryCount: 0, version: null });
    expect(stack.problems()).toEqual([]);
  });

  it('keeps the last good version of a file that breaks, and drops the problem once it is fixed', async () => {
    const good = [entry('kept')];
    const { stack, paths } = await openStack({ user: good, official: [entry('o')] });
    const changes: RegistryChange[] = [];
    stack.onChange((change) => changes.push(change));
    const version = fileStatus(stack, paths.user).version;

    await writeRegistry(paths.user, [{ model_name: 3, backend: 'openai' }]);
    await stack.reload(paths.user);
    const broken = fileStatus(stack, paths.user);
    expect(broken).toMatchObject({ status: 'error', usingLastGood: true, entryCount: 1, version });
    expect(broken.problem).toMatchObject({ entryIndex: 0, keyPath: 'model_name' });
    expect(stack.resolve('kept').source?.file).toBe(paths.user);
    expect(changes).toEqual([{ file: paths.user, reason: 'external-edit' }]);

    // Putting back the very text that was last good changes no entries, but the file is healthy again.
    await writeRegistry(paths.user, good);
    await stack.reload(paths.user);
    expect(fileStatus(stack, paths.user)).toMatchObject({ status: 'ok', usingLastGood: false, version });
    expect(fileStatus(stack, paths.user).problem).toBeUndefined();
    expect(changes).toHaveLength(2);

    await stack.reload(paths.user);
    expect(changes).toHaveLength(2);
  });

  it('a huge file (10 MB, 40,000 entries) loads and resolves quickly', async () => {
    const count = 40_000;
    const padding = 'x'.repeat(150);
    const entries = Array.from({ length: count }, (_, index) =>
      entry(`model-${index}`, { model_id: `org/model-${index}`, note: padding, model_config: { eos_to_cull: '</s>' } }),
    );
    const { stack, paths } = await openStack({ user: entries });
    expect((await readFile(paths.user)).length).toBeGreaterThan(10_000_000);
    expect(fileStatus(stack, paths.user)).toMatchObject({ status: 'ok', entryCount: count });

    expect(stack.resolve('model-39999').source?.index).toBe(39_999);
    const started = performance.now();
    for (let round = 0; round < 2_000; round++) {
      const index = (round * 7919) % count;
      expect(stack.resolve({ model_name: `model-${index}`, backend: 'openai' }).source?.index).toBe(index);
    }
    // A generous bound: the index makes each lookup microseconds; a full scan per lookup would take far longer.
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe('the stack: editing', () => {
  it('creates entries at the end of the user registry, 2-space formatted, with a .bak of the previous text', async () => {
    const { stack, paths } = await openStack({ official: [entry('o')] });
    expect(await stack.save({ entry: entry('first') })).toEqual({ file: paths.user, index: 0 });
    expect(existsSync(`${paths.user}.bak`)).toBe(false);
    const before = await readFile(paths.user, 'utf8');
    expect(await stack.save({ entry: entry('second', { model_config: { eos_to_cull: '</s>' } }) })).toEqual({
      file: paths.user,
      index: 1,
    });
    const after = await readFile(paths.user, 'utf8');
    expect(after).toBe(
      formatRegistry([entry('first'), entry('second', { model_config: { eos_to_cull: '</s>' } })], false),
    );
    expect(after).toContain('\n  {\n    "model_name": "first",\n');
    expect(await readFile(`${paths.user}.bak`, 'utf8')).toBe(before);
    expect(await temporaryFiles(dirname(paths.user))).toEqual([]);
  });

  it('updates an entry in place, keeping the others and their key order as written', async () => {
    const original = [
      { backend: 'openai', model_name: 'a', z: 1, a: 2 },
      { model_name: 'b', backend: 'openai', model_config: { eos_to_cull: 'x', custom_chat_template: null } },
      { model_name: 'c', backend: 'openai' },
    ];
    const { stack, paths } = await openStack({ user: original });
    const previous = await readFile(paths.user, 'utf8');
    await stack.save({ file: paths.user, index: 1, entry: entry('b2') });
    expect(JSON.parse(await readFile(paths.user, 'utf8'))).toEqual([original[0], entry('b2'), original[2]]);
    expect(await readFile(paths.user, 'utf8')).toContain(
      '{\n    "backend": "openai",\n    "model_name": "a",\n    "z": 1,',
    );
    expect(await readFile(`${paths.user}.bak`, 'utf8')).toBe(previous);
    expect(stack.get(paths.user, 1).entry).toEqual(entry('b2'));
  });

  it('duplicates an entry to just below itself, deletes, and moves up and down', async () => {
    const { stack, paths } = await openStack({ user: [entry('a'), entry('b'), entry('c')] });
    expect(await stack.duplicate(paths.user, 1)).toEqual({ file: paths.user, index: 2 });
    expect(await namesIn(paths.user)).toEqual(['a', 'b', 'b', 'c']);
    await stack.remove(paths.user, 0);
    expect(await namesIn(paths.user)).toEqual(['b', 'b', 'c']);
    expect(await stack.move(paths.user, 2, 'up')).toEqual({ index: 1 });
    expect(await namesIn(paths.user)).toEqual(['b', 'c', 'b']);
    expect(await stack.move(paths.user, 0, 'down')).toEqual({ index: 1 });
    expect(await namesIn(paths.user)).toEqual(['c', 'b', 'b']);
    expect(stack.entries().map((row) => row.entry.model_name)).toEqual(['c', 'b', 'b']);
  });

  const refused: { name: string; action: (stack: RegistryStack, path: string) => Promise<unknown>; code: string }[] = [
    { name: 'moving the first entry up', action: (stack, path) => stack.move(path, 0, 'up'), code: 'invalid-input' },
    { name: 'moving the last entry down', action: (stack, path) => stack.move(path, 1, 'down'), code: 'invalid-input' },
    {
      name: 'moving an entry that is not there',
      action: (stack, path) => stack.move(path, 5, 'up'),
      code: 'not-found',
    },
    { name: 'deleting an entry that is not there', action: (stack, path) => stack.remove(path, 2), code: 'not-found' },
    {
      name: 'duplicating an entry that is not there',
      action: (stack, path) => stack.duplicate(path, 9),
      code: 'not-found',
    },
    {
      name: 'updating an entry that is not there',
      action: (stack, path) => stack.save({ file: path, index: 2, entry: entry('x') }),
      code: 'not-found',
    },
    {
      name: 'saving an entry without a backend',
      action: (stack, path) => stack.save({ file: path, entry: { model_name: 'x' } }),
      code: 'invalid-spec',
    },
    {
      name: 'saving to a file outside the stack',
      action: (stack) => stack.save({ file: '/elsewhere/model_registry.json', entry: entry('x') }),
      code: 'not-found',
    },
  ];

  it.each(refused)('$name is refused with $code and writes nothing', async ({ action, code }) => {
    const { stack, paths } = await openStack({ user: [entry('a'), entry('b')] });
    const before = await readFile(paths.user, 'utf8');
    await expect(action(stack, paths.user)).rejects.toMatchObject({ code });
    expect(await readFile(paths.user, 'utf8')).toBe(before);
    expect(existsSync(`${paths.user}.bak`)).toBe(false);
  });

  it('editing an official entry saves an override at the top of the user registry; the official file is untouched', async () => {
    const { stack, paths } = await openStack({
      user: [{ model_name: '?m', backend: 'openai_compatible' }],
      official: [entry('gpt-4o'), entry('gpt-4o-mini')],
    });
    const officialBytes = await readFile(paths.official);
    const saved = await stack.save({ file: paths.official, index: 1, entry: entry('gpt-4o-mini', { temperature: 0 }) });
    expect(saved).toEqual({ file: paths.user, index: 0 });
    expect(await namesIn(paths.user)).toEqual(['gpt-4o-mini', '?m']);
    // The override comes before the user's catch-all, so it is what the name now resolves to.
    expect(stack.resolve('gpt-4o-mini')).toMatchObject({
      spec: { temperature: 0 },
      source: { role: 'user', index: 0 },
    });

    expect(await stack.duplicate(paths.official, 0)).toEqual({ file: paths.user, index: 0 });
    expect(await namesIn(paths.user)).toEqual(['gpt-4o', 'gpt-4o-mini', '?m']);
    expect((await readFile(paths.official)).equals(officialBytes)).toBe(true);
    expect(existsSync(`${paths.official}.bak`)).toBe(false);
  });

  it('never writes the official file: delete and move of official entries are refused', async () => {
    const { stack, paths } = await openStack({ official: [entry('a'), entry('b')] });
    const officialBytes = await readFile(paths.official);
    await expect(stack.remove(paths.official, 0)).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(stack.move(paths.official, 0, 'down')).rejects.toMatchObject({ code: 'invalid-input' });
    expect((await readFile(paths.official)).equals(officialBytes)).toBe(true);
    expect(existsSync(paths.user)).toBe(false);
  });

  it('writes to the working-directory registry when asked to', async () => {
    const { stack, paths } = await openStack({ official: [entry('o')] });
    expect(await stack.save({ file: paths.working, entry: entry('here') })).toEqual({ file: paths.working, index: 0 });
    expect(stack.resolve('here').source?.role).toBe('working-directory');
    expect(existsSync(paths.user)).toBe(false);
  });

  it('a single-object file stays one object while it has one entry', async () => {
    const { stack, paths } = await openStack({ user: entry('solo') });
    await stack.save({ file: paths.user, index: 0, entry: entry('solo', { model_id: 'x' }) });
    expect(JSON.parse(await readFile(paths.user, 'utf8'))).toEqual(entry('solo', { model_id: 'x' }));
    await stack.save({ file: paths.user, entry: entry('second') });
    expect(await namesIn(paths.user)).toEqual(['solo', 'second']);
  });

  it('edits in flight at the same time all land, none overwriting another', async () => {
    const { stack, paths } = await openStack({ user: [] });
    const names = ['a', 'b', 'c', 'd', 'e'];
    const saved = await Promise.all(names.map((name) => stack.save({ entry: entry(name) })));
    expect((await namesIn(paths.user)).sort()).toEqual(names);
    expect(saved.map((result) => result.index).sort()).toEqual([0, 1, 2, 3, 4]);
    for (const [position, result] of saved.entries()) {
      expect(stack.get(paths.user, result.index).entry.model_name).toBe(names[position]);
    }
  });
});

describe('the stack: conflicts and crashes', () => {
  it('a file changed on disk since it was read is a conflict; nothing is written and the new text is loaded', async () => {
    const { stack, paths } = await openStack({ user: [entry('a')] });
    const changes: RegistryChange[] = [];
    stack.onChange((change) => changes.push(change));
    await writeRegistry(paths.user, [entry('theirs')]);
    const theirs = await readFile(paths.user, 'utf8');
    await expect(stack.save({ entry: entry('mine') })).rejects.toMatchObject({ code: 'conflict' });
    expect(await readFile(paths.user, 'utf8')).toBe(theirs);
    expect(existsSync(`${paths.user}.bak`)).toBe(false);
    expect(stack.entries().map((row) => row.entry.model_name)).toEqual(['theirs']);
    expect(changes).toEqual([{ file: paths.user, reason: 'external-edit' }]);
    // Having seen their edit, the next save goes through.
    await stack.save({ entry: entry('mine') });
    expect(await namesIn(paths.user)).toEqual(['theirs', 'mine']);
  });

  it('a file broken on disk is not saved over', async () => {
    const { stack, paths } = await openStack({ user: [entry('a')] });
    await writeRegistry(paths.user, '[{"model_name": "half-typed"');
    await expect(stack.remove(paths.user, 0)).rejects.toMatchObject({ code: 'conflict' });
    expect(await readFile(paths.user, 'utf8')).toBe('[{"model_name": "half-typed"');
    expect(fileStatus(stack, paths.user)).toMatchObject({ status: 'error', usingLastGood: true });
  });

  it('a stale version is a conflict; the current one is accepted', async () => {
    const { stack, paths } = await openStack({ user: [entry('a'), entry('b')] });
    const stale = fileStatus(stack, paths.user).version ?? '';
    await stack.save({ file: paths.user, index: 0, entry: entry('a2'), version: stale });
    const current = fileStatus(stack, paths.user).version ?? '';
    expect(current).not.toBe(stale);
    const before = await readFile(paths.user, 'utf8');
    const attempts = [
      () => stack.save({ file: paths.user, index: 1, entry: entry('b2'), version: stale }),
      () => stack.remove(paths.user, 1, stale),
      () => stack.move(paths.user, 1, 'up', stale),
      () => stack.duplicate(paths.user, 1, stale),
    ];
    for (const attempt of attempts) await expect(attempt()).rejects.toMatchObject({ code: 'conflict' });
    expect(await readFile(paths.user, 'utf8')).toBe(before);
    await stack.move(paths.user, 1, 'up', current);
    expect(await namesIn(paths.user)).toEqual(['b', 'a2']);
  });

  it('a file replaced during a write is a conflict: their version stays, no temp file is left', async () => {
    const { stack, paths } = await openStack({ user: [entry('a')] });
    const theirs = formatRegistry([entry('written-meanwhile')], false);
    stack.beforeRename = async () => {
      await writeFile(paths.user, theirs);
    };
    await expect(stack.save({ entry: entry('mine') })).rejects.toMatchObject({ code: 'conflict' });
    expect(await readFile(paths.user, 'utf8')).toBe(theirs);
    expect(await temporaryFiles(dirname(paths.user))).toEqual([]);
    expect(stack.entries().map((row) => row.entry.model_name)).toEqual(['written-meanwhile']);
  });

  it('a crash between the temp write and the rename leaves the original intact and no temp file', async () => {
    const { stack, paths } = await openStack({ user: [entry('a'), entry('b')] });
    const original = await readFile(paths.user);
    let temporaryPath = '';
    stack.beforeRename = async (path) => {
      temporaryPath = path;
      throw new Error('crash');
    };
    await expect(stack.save({ entry: entry('c') })).rejects.toThrow('crash');
    expect(temporaryPath).toMatch(/\.tmp$/);
    expect(existsSync(temporaryPath)).toBe(false);
    expect((await readFile(paths.user)).equals(original)).toBe(true);
    expect(await temporaryFiles(dirname(paths.user))).toEqual([]);
    expect(stack.entries().map((row) => row.entry.model_name)).toEqual(['a', 'b']);

    // The stack is not wedged by the failed write.
    stack.beforeRename = undefined;
    await stack.save({ entry: entry('c') });
    expect(await namesIn(paths.user)).toEqual(['a', 'b', 'c']);
  });
});

/** Writes a registry file as editors save: a complete temp file beside it, renamed over it in one step. */
async function replaceFile(path: string, entries: unknown): Promise<void> {
  const temporary = `${path}.editor-save`;
  await writeFile(temporary, `${JSON.stringify(entries, null, 2)}\n`);
  await rename(temporary, path);
}

/**
 * Waits, one event-loop turn at a time, until `condition` holds: for events the stack reacts to (a folder watcher's
 * notice) while fake timers are on, which `vi.waitFor` would move on as it polls.
 */
async function turnsUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('the stack: watching', () => {
  const waitOptions = { timeout: 10_000, interval: 25 };

  afterEach(() => {
    vi.useRealTimers();
  });

  it('an external edit reloads the file and notifies', async () => {
    const { stack, paths } = await openStack({ user: [entry('before')], official: [entry('o')] });
    const changes: RegistryChange[] = [];
    stack.onChange((change) => changes.push(change));
    stack.watch(20);
    await writeRegistry(paths.user, [entry('after')]);
    await vi.waitFor(() => expect(changes).toContainEqual({ file: paths.user, reason: 'external-edit' }), waitOptions);
    expect(stack.resolve('after').source?.file).toBe(paths.user);
  });

  it('a file created after the stack opened is picked up', async () => {
    const { stack, paths } = await openStack({ official: [entry('o')] });
    const changes: RegistryChange[] = [];
    stack.onChange((change) => changes.push(change));
    stack.watch(20);
    await writeRegistry(paths.working, [entry('new-here')]);
    await vi.waitFor(
      () => expect(changes).toContainEqual({ file: paths.working, reason: 'external-edit' }),
      waitOptions,
    );
    expect(stack.resolve('new-here').source?.role).toBe('working-directory');
  });

  it('a registry folder that did not exist is watched once a save creates it', async () => {
    const { stack, paths, root } = await openStack({ official: [entry('o')] });
    await rm(join(root, 'config'), { recursive: true });
    const changes: RegistryChange[] = [];
    stack.onChange((change) => changes.push(change));
    stack.watch(20);
    await stack.save({ entry: entry('first') });
    await writeRegistry(paths.user, [entry('edited-outside')]);
    await vi.waitFor(() => expect(changes).toContainEqual({ file: paths.user, reason: 'external-edit' }), waitOptions);
    expect(stack.resolve('edited-outside').source?.role).toBe('user');
  });

  it('a broken external edit keeps the last good version and reports the problem', async () => {
    const { stack, paths } = await openStack({ user: [entry('good')] });
    const changes: RegistryChange[] = [];
    stack.onChange((change) => changes.push(change));
    stack.watch(20);
    await writeRegistry(paths.user, '[\n  {"model_name": "good", "backend": "openai"},\n  {\n');
    // writeFile truncates before it writes, so the watcher may first see an empty file: wait for the final text.
    await vi.waitFor(() => expect(fileStatus(stack, paths.user).problem?.line).toBe(4), waitOptions);
    expect(changes).toContainEqual({ file: paths.user, reason: 'external-edit' });
    expect(fileStatus(stack, paths.user)).toMatchObject({ usingLastGood: true, problem: { line: 4, column: 1 } });
    expect(stack.resolve('good').source?.file).toBe(paths.user);
  });

  it("the app's own saves are reported as saved, not as external edits", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { stack, paths } = await openStack({ user: [entry('a')] });
    const changes: RegistryChange[] = [];
    stack.onChange((change) => changes.push(change));
    stack.watch(20);
    await stack.save({ entry: entry('b') });
    expect(changes).toEqual([{ file: paths.user, reason: 'saved' }]);
    // The watcher sees our own rename and schedules a reload: run that reload now, on its own.
    await turnsUntil(() => vi.getTimerCount() > 0);
    await vi.runOnlyPendingTimersAsync();
    // Then a real external edit. Reloads run one after the other, so had the reload of our own save reported an
    // external edit, that report would come before this one's.
    await replaceFile(paths.user, [entry('a'), entry('b'), entry('c')]);
    await vi.waitFor(() => {
      expect(stack.entries().map((row) => row.entry.model_name)).toEqual(['a', 'b', 'c']);
      expect(changes.at(-1)).toEqual({ file: paths.user, reason: 'external-edit' });
    }, waitOptions);
    expect(changes).toEqual([
      { file: paths.user, reason: 'saved' },
      { file: paths.user, reason: 'external-edit' },
    ]);
  });

  it('close stops watching, drops a reload that was due, and stops notifying', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { stack, paths } = await openStack({ user: [entry('a')] });
    const changes: RegistryChange[] = [];
    stack.onChange((change) => changes.push(change));
    const opened = openedWatchers.length;
    stack.watch(20);
    const watchers = openedWatchers.slice(opened);
    expect(watchers).not.toEqual([]);
    const closed = new Set<FSWatcher>();
    for (const watcher of watchers) watcher.once('close', () => closed.add(watcher));
    // An external edit is seen: its reload waits out the debounce when the stack closes.
    await replaceFile(paths.user, [entry('b')]);
    await turnsUntil(() => vi.getTimerCount() > 0);

    stack.close();
    expect(vi.getTimerCount()).toBe(0);
    // Every folder watcher the stack opened is closed: no later change on disk can reach it.
    await vi.waitFor(() => expect(closed.size).toBe(watchers.length), waitOptions);
    expect(changes).toEqual([]);
    expect(stack.entries().map((row) => row.entry.model_name)).toEqual(['a']);
    // Nor does anything reach its listeners: a reload that finds the edit tells no one.
    await stack.reload();
    expect(stack.entries().map((row) => row.entry.model_name)).toEqual(['b']);
    expect(changes).toEqual([]);
  });
});
