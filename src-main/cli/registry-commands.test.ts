import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src-shared/json.js';
import { findAppRoot } from '../paths.js';

// These run the real entry point, `node bin/clemplay.mjs`, on the build (`npx electron-vite build` first). Every run
// gets its own working directory and XDG folders, so no test reads or writes the real user's registry.
const root = findAppRoot();
const bin = join(root, 'bin', 'clemplay.mjs');
const officialPath = join(root, 'registry', 'model_registry.json');
const official = JSON.parse(readFileSync(officialPath, 'utf8')) as JsonObject[];
const homes: string[] = [];

interface Home {
  cwd: string;
  userRegistry: string;
  /** Writes a file under the home folder and returns its path. */
  file(name: string, content: unknown): string;
}

let home: Home;

beforeEach(() => {
  const folder = mkdtempSync(join(tmpdir(), 'clemplay-cli-'));
  homes.push(folder);
  const cwd = join(folder, 'cwd');
  mkdirSync(cwd);
  home = {
    cwd,
    userRegistry: join(folder, 'config', 'clemplay', 'model_registry.json'),
    file(name, content) {
      const path = join(folder, name);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
      return path;
    },
  };
});
afterAll(() => {
  for (const folder of homes) rmSync(folder, { recursive: true, force: true });
});

function clemplay(...args: string[]) {
  const folder = join(home.cwd, '..');
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: home.cwd,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, XDG_CONFIG_HOME: join(folder, 'config'), XDG_DATA_HOME: join(folder, 'data') },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const entry = (name: string, extra: JsonObject = {}): JsonObject => ({ model_name: name, backend: 'openai', ...extra });

/** A registry without a catch-all, so that unknown names do not match. */
function smallRegistry(): string {
  return home.file('small.json', [entry('gpt-4o', { model_id: 'gpt-4o' }), entry('claude', { backend: 'anthropic' })]);
}

interface ListedRow {
  entry: JsonObject;
  index: number;
  file: string;
  lookupSource: string;
}

describe('clemplay models', () => {
  it('lists the stack with backend and source: working dir, then user, then official', () => {
    home.file('cwd/model_registry.json', [entry('here', { backend: 'llamacpp' })]);
    home.file('config/clemplay/model_registry.json', [entry('user-model', { backend: 'human' })]);
    const result = clemplay('models');
    expect(result.status).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^model_name\s+backend\s+source$/);
    expect(lines[1]).toMatch(new RegExp(`^here\\s+llamacpp\\s+${join(home.cwd, 'model_registry.json')} #0$`));
    expect(lines[2]).toMatch(new RegExp(`^user-model\\s+human\\s+${home.userRegistry} #0$`));
    expect(lines.slice(3)).toHaveLength(official.length);
    official.forEach((row, index) => {
      expect(lines[3 + index]?.split(/\s{2,}/)).toEqual([row.model_name, row.backend, `official #${index}`]);
    });
  });

  it('--json prints one array of { entry, index, file, lookupSource } in lookup order', () => {
    home.file('cwd/model_registry.json', [entry('here')]);
    const result = clemplay('models', '--json');
    expect(result.status).toBe(0);
    const rows = JSON.parse(result.stdout) as ListedRow[];
    expect(rows[0]).toMatchObject({ entry: entry('here'), index: 0, file: join(home.cwd, 'model_registry.json') });
    expect(rows.slice(1).map((row) => row.entry)).toEqual(official);
    expect(rows.slice(1).every((row) => row.lookupSource === 'official' && row.file === officialPath)).toBe(true);
  });

  it('--registry (repeatable) replaces the stack with exactly those files, in order', () => {
    home.file('cwd/model_registry.json', [entry('not-listed')]);
    const first = home.file('first.json', [entry('one'), entry('two')]);
    const second = home.file('second.json', entry('three'));
    const result = clemplay('models', '--json', '--registry', first, '-r', second);
    expect(result.status).toBe(0);
    const rows = JSON.parse(result.stdout) as ListedRow[];
    expect(rows.map((row) => [row.entry.model_name, row.file, row.index])).toEqual([
      ['one', first, 0],
      ['two', first, 1],
      ['three', second, 0],
    ]);
  });

  it('--registry with a missing file exits 2 and names it', () => {
    const missing = join(home.cwd, 'nope.json');
    const result = clemplay('models', '--registry', missing);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`error[invalid-spec]: ${missing}: no such registry file\n`);
  });

  it('a broken registry in the working directory is reported with file, line and column, and the rest is used', () => {
    const broken = home.file('cwd/model_registry.json', '[\n  {"model_name": "x", "backend": "openai"}\n  {}\n]');
    const result = clemplay('models');
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`^warning: ${broken}:3:3: invalid JSON.*\\(this file is skipped\\)`));
    expect(result.stdout).toContain('gpt-4o-mini');
  });

  it('a broken --registry file exits 2 with the file, line and column', () => {
    const broken = home.file('broken.json', '[\n  {"model_name": "x", "backend": "openai"}\n  {}\n]');
    const result = clemplay('models', '--registry', broken);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^error\\[invalid-spec\\]: ${broken}:3:3: invalid JSON`));
  });

  it('a registry entry of the wrong type exits 2 with the entry index and key', () => {
    const wrong = home.file('wrong.json', [entry('ok'), { model_name: 3, backend: 'openai' }]);
    const result = clemplay('models', '--registry', wrong);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${wrong}: entry 1: "model_name" must be a string, not number 3`);
  });
});

describe('clemplay resolve', () => {
  it('--json prints exactly the resolved spec as one JSON object', () => {
    const result = clemplay('resolve', 'gpt-4o-mini', '--json');
    expect(result.status).toBe(0);
    const officialEntry = official.find((row) => row.model_name === 'gpt-4o-mini');
    expect(officialEntry).toBeDefined();
    // Query keys first, then the entry's keys in its order, then the lookup_source tag: byte for byte.
    expect(result.stdout).toBe(`${JSON.stringify({ ...officialEntry, lookup_source: 'official' })}\n`);
    expect(result.stderr).toBe('');
  });

  it('--json with a JSON query keeps the query keys and takes the user registry first', () => {
    const user = home.file('config/clemplay/model_registry.json', [entry('gpt-4o-mini', { model_id: 'mine' })]);
    const result = clemplay('resolve', '{"model_name": "gpt-4o-mini", "temperature": 0}', '--json');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      model_name: 'gpt-4o-mini',
      temperature: 0,
      backend: 'openai',
      model_id: 'mine',
      lookup_source: user,
    });
  });

  it('without --json prints the spec and says where it came from', () => {
    const result = clemplay('resolve', 'human');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ model_name: 'human', backend: 'human' });
    const index = official.findIndex((row) => row.model_name === 'human');
    expect(result.stderr).toBe(`from: official #${index}\n`);
  });

  it('a variable catch-all (the README example, in the user registry) reports its bindings', () => {
    home.file('config/clemplay/model_registry.json', [
      { model_name: '?m', backend: 'openai_compatible', model_id: '?m', base_url: 'http://127.0.0.1:8080/v1' },
    ]);
    const result = clemplay('resolve', 'my-local-model');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ model_name: 'my-local-model', model_id: 'my-local-model' });
    expect(result.stderr).toMatch(/\(variables: \?m = "my-local-model"\)\n$/);
  });

  it('no match exits 2 with error[no-match] and the nearest entries on stderr, nothing on stdout', () => {
    const result = clemplay('resolve', 'gpt-4', '--json', '--registry', smallRegistry());
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^error\[no-match\]: no registry entry matches .*did you mean "gpt-4o"\? Nearest: gpt-4o/,
    );
  });

  it('a typo of an official name is an error that says which name was meant, not a guess at a local server', () => {
    const result = clemplay('resolve', 'gpt-4o-mnii');
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('did you mean "gpt-4o-mini"?');
  });

  it('an invalid JSON query exits 2 with error[invalid-spec] and the line and column', () => {
    const result = clemplay('resolve', '{"model_name": }', '--json');
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error\[invalid-spec\]: invalid JSON at line 1, column 16/);
  });

  it('a query that names a backend and matches nothing is used as it is', () => {
    const query = { model_name: 'adhoc', backend: 'openai_compatible', base_url: 'http://127.0.0.1:9/v1' };
    const result = clemplay('resolve', JSON.stringify(query), '--json', '--registry', smallRegistry());
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(query);
  });

  const usage: { name: string; args: string[] }[] = [
    { name: 'neither a query nor --queries', args: ['resolve'] },
    { name: 'both a query and --queries', args: ['resolve', 'x', '--queries', 'file.txt'] },
    { name: 'a --queries file that does not exist', args: ['resolve', '--queries', 'missing.txt'] },
  ];
  it.each(usage)('$name exits 2 with a message', ({ args }) => {
    const result = clemplay(...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^error\[invalid-input\]: /);
  });

  it('with a broken --registry and a missing --queries file, the registry is reported (and only it)', () => {
    const broken = home.file('broken.json', '[{"model_name": 1}]');
    const result = clemplay('resolve', '--queries', 'missing.txt', '--registry', broken);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `error[invalid-spec]: ${broken}: entry 0: "model_name" must be a string, not number 1; every entry is an ` +
        'object with a string "model_name" and "backend"\n',
    );
  });
});

describe('clemplay resolve --explain', () => {
  it('explains in words: every entry, the winner, where the keys came from', () => {
    const registry = smallRegistry();
    const result = clemplay('resolve', 'claude', '--explain', '--registry', registry);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`✗ ${registry} #0 gpt-4o: model_name "claude" ≠ "gpt-4o"`);
    expect(result.stdout).toContain(`✓ ${registry} #1 claude  ← wins`);
  });

  it('--json gives the structured explanation', () => {
    const result = clemplay('resolve', 'claude', '--explain', '--json', '--registry', smallRegistry());
    expect(result.status).toBe(0);
    const explanation = JSON.parse(result.stdout) as {
      verdicts: { matched: boolean; model_name: string }[];
      winner: number;
      provenance: { fromQuery: string[]; fromEntry: string[] };
    };
    expect(explanation.verdicts.map((verdict) => [verdict.model_name, verdict.matched])).toEqual([
      ['gpt-4o', false],
      ['claude', true],
    ]);
    expect(explanation.winner).toBe(1);
    expect(explanation.provenance.fromQuery).toEqual(['model_name']);
    expect(explanation.provenance.fromEntry).toEqual(['backend', 'lookup_source']);
  });

  it('a no-match explanation is printed, and exits 2 with the error on stderr', () => {
    const result = clemplay('resolve', 'gemini', '--explain', '--registry', smallRegistry());
    expect(result.status).toBe(2);
    expect(result.stdout).toContain('no match');
    expect(result.stderr).toMatch(/^error\[no-match\]: /);
  });
});

describe('clemplay resolve --queries', () => {
  it('prints one JSON line per query: the spec, or {"error": {code, message}}; exits 2 when any failed', () => {
    const queries = home.file(
      'queries.txt',
      [
        'gpt-4o',
        '',
        '{"model_name": "claude", "max_tokens": 10}',
        'gemini',
        '{"model_name": ',
        "{'model_name': 'gpt-4o'}",
      ].join('\n'),
    );
    const result = clemplay('resolve', '--queries', queries, '--registry', smallRegistry());
    expect(result.status).toBe(2);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    const parsed = lines.map((line) => JSON.parse(line) as JsonObject & { error?: { code: string; message: string } });
    expect(parsed[0]).toMatchObject({ model_name: 'gpt-4o', backend: 'openai', model_id: 'gpt-4o' });
    expect(parsed[1]).toMatchObject({ model_name: 'claude', max_tokens: 10, backend: 'anthropic' });
    expect(parsed[2]?.error).toEqual({ code: 'no-match', message: expect.stringContaining('gemini') });
    expect(parsed[3]?.error).toEqual({ code: 'invalid-spec', message: expect.stringContaining('line 1, column') });
    expect(parsed[4]).toMatchObject({ model_name: 'gpt-4o' });
    expect(Object.keys(parsed[2] ?? {})).toEqual(['error']);
  });

  it('exits 0 when every query resolves, with Windows line ends', () => {
    const queries = home.file('queries.txt', 'gpt-4o\r\nclaude\r\n');
    const result = clemplay('resolve', '--queries', queries, '--registry', smallRegistry());
    expect(result.status).toBe(0);
    expect(
      result.stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as JsonObject).model_name),
    ).toEqual(['gpt-4o', 'claude']);
  });
});
