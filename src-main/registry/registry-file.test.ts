import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src-shared/json.js';
import {
  findJsonSyntaxError,
  formatRegistry,
  hashText,
  parseRegistryText,
  readRegistryFile,
  registryEntryProblem,
  type RegistryFileContent,
  type RegistryFileProblem,
} from './registry-file.js';
import { registryEntrySchema } from './registry-schema.js';

const file = '/registries/model_registry.json';

function problemOf(content: RegistryFileContent): RegistryFileProblem;
function problemOf(content: RegistryFileContent, okIsNull: true): RegistryFileProblem | null;
function problemOf(content: RegistryFileContent, okIsNull = false): RegistryFileProblem | null {
  if (okIsNull && content.status === 'ok') return null;
  if (content.status !== 'error') throw new Error(`expected an error, got ${content.status}`);
  return content.problem;
}

function entriesOf(content: RegistryFileContent): JsonObject[] {
  if (content.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(content)}`);
  return content.entries;
}

/** clemcore's current form: backend settings nested under model_config. */
const clemcoreNested: JsonObject = {
  model_name: 'Meta-Llama-3.1-8B-Instruct',
  backend: 'huggingface_local',
  huggingface_id: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
  release_date: '2024-07-23',
  open_weight: true,
  parameters: '8B',
  languages: ['en', 'de', 'fr'],
  context_size: '128k',
  license: { name: 'Meta', url: 'https://llama.meta.com/llama3_1/license/' },
  model_config: { requires_api_key: true, premade_chat_template: true, eos_to_cull: '<\\|eot_id\\|>' },
};

/** clemcore's older form: the same settings at the top level. */
const clemcoreFlat: JsonObject = {
  model_name: 'Meta-Llama-3-8B-Instruct-hf',
  backend: 'huggingface_local',
  requires_api_key: true,
  huggingface_id: 'meta-llama/Meta-Llama-3-8B-Instruct',
  premade_chat_template: true,
  eos_to_cull: '<\\|eot_id\\|>',
};

describe('parseRegistryText: JSON syntax errors name the file, line and column', () => {
  // Columns count from 1 in UTF-16 code units, as editors do; each case marks where the text first breaks.
  const cases: { name: string; text: string; line: number; column: number; detail: RegExp }[] = [
    {
      name: 'a missing comma between keys, on line 3',
      text: '[\n  {"model_name": "a", "backend": "b"},\n  {"model_name": "c" "backend": "d"}\n]\n',
      line: 3,
      column: 22,
      detail: /expected ',' or '}'/,
    },
    {
      name: 'a missing value (V8 names no position for this one)',
      text: '[\n  {"model_name": "a", "backend": "b"},\n  {"model_name": }\n]\n',
      line: 3,
      column: 18,
      detail: /unexpected '}'/,
    },
    {
      name: 'a trailing comma in the list',
      text: '[\n  {"model_name": "a", "backend": "b"},\n]\n',
      line: 3,
      column: 1,
      detail: /unexpected '\]'/,
    },
    {
      name: 'a trailing comma in an object',
      text: '[\n  {\n    "model_name": "a",\n    "backend": "b",\n  }\n]',
      line: 5,
      column: 3,
      detail: /property name/,
    },
    { name: 'single quotes', text: "[{'model_name': 'a'}]", line: 1, column: 3, detail: /property name/ },
    { name: 'an unclosed list', text: '[\n  {"model_name": "a", "backend": "b"}\n', line: 3, column: 1, detail: /end/ },
    {
      name: 'an unterminated string',
      text: '[{"model_name": "a, "backend": "b"}',
      line: 1,
      column: 22,
      detail: /expected ',' or '}'/,
    },
    { name: 'text after the list', text: '[]\n[]', line: 2, column: 1, detail: /after the JSON value/ },
    {
      name: 'Windows line ends',
      text: '[\r\n  {"model_name": "a",\r\n   "backend" "b"}\r\n]',
      line: 3,
      column: 14,
      detail: /':'/,
    },
    {
      name: 'a bad escape',
      text: '[\n {"model_name": "a\\q", "backend": "b"}]',
      line: 2,
      column: 19,
      detail: /escape/,
    },
  ];

  it.each(cases)('$name → line $line, column $column', ({ text, line, column, detail }) => {
    const problem = problemOf(parseRegistryText(file, text));
    expect({ line: problem.line, column: problem.column }).toEqual({ line, column });
    expect(problem.message).toMatch(new RegExp(`^${file}:${line}:${column}: invalid JSON: `));
    expect(problem.message).toMatch(detail);
  });
});

describe('parseRegistryText: schema errors name the entry index and key path', () => {
  const cases: { name: string; entries: unknown; index: number; keyPath: string; message: RegExp }[] = [
    {
      name: 'model_name of the wrong type',
      entries: [clemcoreFlat, { model_name: 3, backend: 'openai' }],
      index: 1,
      keyPath: 'model_name',
      message: /"model_name" must be a string, not number 3/,
    },
    {
      name: 'a missing backend',
      entries: [{ model_name: 'a', backend: 'b' }, { model_name: 'x' }],
      index: 1,
      keyPath: 'backend',
      message: /"backend" is missing/,
    },
    {
      name: 'a missing model_name',
      entries: [{ backend: 'openai' }],
      index: 0,
      keyPath: 'model_name',
      message: /"model_name" is missing/,
    },
    {
      name: 'a backend of null',
      entries: [{ model_name: 'a', backend: null }],
      index: 0,
      keyPath: 'backend',
      message: /"backend" must be a string, not null/,
    },
    {
      name: 'an empty model_name',
      entries: [{ model_name: '', backend: 'b' }],
      index: 0,
      keyPath: 'model_name',
      message: /"model_name" must not be empty/,
    },
    {
      name: 'model_config that is not an object',
      entries: [{ model_name: 'a', backend: 'b', model_config: ['x'] }],
      index: 0,
      keyPath: 'model_config',
      message: /"model_config" must be an object, not an array/,
    },
    {
      name: 'an entry that is not an object',
      entries: [{ model_name: 'a', backend: 'b' }, 'gpt-4o'],
      index: 1,
      keyPath: '',
      message: /the entry must be an object, not string "gpt-4o"/,
    },
    {
      name: 'a single object without a backend',
      entries: { model_name: 'solo' },
      index: 0,
      keyPath: 'backend',
      message: /"backend" is missing/,
    },
  ];

  it.each(cases)('$name → entry $index at "$keyPath"', ({ entries, index, keyPath, message }) => {
    const problem = problemOf(parseRegistryText(file, JSON.stringify(entries, null, 2)));
    expect(problem.entryIndex).toBe(index);
    expect(problem.keyPath).toBe(keyPath);
    expect(problem.message).toContain(`${file}: entry ${index}: `);
    expect(problem.message).toMatch(message);
    expect(problem.line).toBeUndefined();
  });

  it('registryEntryProblem says the same about one entry, and null for a good one', () => {
    expect(registryEntryProblem({ model_name: 'a' })).toMatch(/"backend" is missing/);
    expect(registryEntryProblem(clemcoreNested)).toBeNull();
  });
});

describe('the entry check agrees with the registry schema', () => {
  // The lookup path checks entries by hand (zod is slow to load); the schema stays the definition (JSON Schema for
  // Monaco, the API). Values that matter: absent, the wrong type, empty strings, arrays, null.
  const anyValue = fc.oneof(
    fc.constant(''),
    fc.string({ maxLength: 3 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant([]),
    fc.constant(['x']),
    fc.constant({}),
    fc.constant({ max_tokens: 1 }),
  );
  const entry = fc.oneof(
    fc.record(
      { model_name: anyValue, backend: anyValue, lookup_source: anyValue, model_config: anyValue, extra: anyValue },
      { requiredKeys: [] },
    ),
    anyValue,
  );

  it('accepts and rejects the same entries, at the same key path', () => {
    fc.assert(
      fc.property(entry, (candidate) => {
        const checked = registryEntrySchema.safeParse(candidate);
        const problem = problemOf(parseRegistryText(file, JSON.stringify([candidate])), true);
        expect(problem === null).toBe(checked.success);
        if (!checked.success && problem !== null) {
          expect(problem.keyPath).toBe((checked.error.issues[0]?.path ?? []).map(String).join('.'));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseRegistryText: files that are not lists of entries', () => {
  const cases: { name: string; text: string; message: RegExp }[] = [
    { name: 'an empty file', text: '', message: /the file is empty/ },
    { name: 'a file of blank lines', text: '\n  \n', message: /the file is empty/ },
    { name: 'null', text: 'null', message: /not null$/ },
    { name: 'a number', text: '42', message: /not number 42$/ },
    { name: 'a string', text: '"gpt-4o"', message: /not string "gpt-4o"$/ },
  ];
  it.each(cases)('$name is an error that says what a registry is', ({ text, message }) => {
    const problem = problemOf(parseRegistryText(file, text));
    expect(problem.message.startsWith(`${file}: `)).toBe(true);
    expect(problem.message).toMatch(message);
  });
});

describe('parseRegistryText: clemcore files read unchanged', () => {
  const cases: { name: string; value: unknown; entries: JsonObject[]; singleObject: boolean }[] = [
    { name: 'an empty list', value: [], entries: [], singleObject: false },
    { name: 'the nested model_config form', value: [clemcoreNested], entries: [clemcoreNested], singleObject: false },
    { name: 'the older flat form', value: [clemcoreFlat], entries: [clemcoreFlat], singleObject: false },
    {
      name: 'both forms in one file, in order',
      value: [clemcoreFlat, clemcoreNested],
      entries: [clemcoreFlat, clemcoreNested],
      singleObject: false,
    },
    { name: 'a single object', value: clemcoreNested, entries: [clemcoreNested], singleObject: true },
    {
      name: 'an entry that names its own lookup_source',
      value: [{ ...clemcoreFlat, lookup_source: 'mine' }],
      entries: [{ ...clemcoreFlat, lookup_source: 'mine' }],
      singleObject: false,
    },
  ];

  it.each(cases)('$name', ({ value, entries, singleObject }) => {
    const text = JSON.stringify(value, null, 4);
    const content = parseRegistryText(file, text);
    expect(content).toEqual({ status: 'ok', entries, singleObject, hash: hashText(text), secretFields: new Map() });
    // Unchanged means key order too, and no lookup_source tag added by the reader.
    expect(entriesOf(content).map((entry) => Object.keys(entry))).toEqual(entries.map((entry) => Object.keys(entry)));
  });

  it('a UTF-8 byte-order mark (Windows editors add one) is ignored', () => {
    expect(entriesOf(parseRegistryText(file, `\uFEFF${JSON.stringify([clemcoreFlat])}`))).toEqual([clemcoreFlat]);
  });

  it('a broken file still gets a version stamp, so a later fix is seen as a change', () => {
    const content = parseRegistryText(file, '[');
    expect(content.status === 'error' && content.hash).toBe(hashText('['));
  });
});

describe('findJsonSyntaxError', () => {
  it('finds no error in exactly the texts JSON.parse accepts', () => {
    const accepts = (text: string): boolean => {
      try {
        JSON.parse(text);
        return true;
      } catch {
        return false;
      }
    };
    // Valid JSON, then the same text with a character dropped, doubled or replaced: mostly invalid, sometimes not.
    const mutated = fc
      .tuple(fc.json(), fc.nat(), fc.constantFrom('drop', 'double', ',', '}', ']', '"', '\\', ' ', '\u0001', 'e'))
      .map(([text, at, change]) => {
        const position = text.length === 0 ? 0 : at % text.length;
        if (change === 'drop') return text.slice(0, position) + text.slice(position + 1);
        if (change === 'double') return text.slice(0, position + 1) + text.slice(position);
        return text.slice(0, position) + change + text.slice(position + 1);
      });
    fc.assert(
      fc.property(fc.oneof(fc.json(), mutated), (text) => {
        const found = findJsonSyntaxError(text);
        expect(found === null).toBe(accepts(text));
        if (found !== null) expect(found.offset).toBeLessThanOrEqual(text.length);
      }),
      { numRuns: 2000 },
    );
  });

  it('survives nesting deep enough to overflow a recursive parser', () => {
    const deep = '['.repeat(200_000);
    expect(findJsonSyntaxError(deep)).toEqual({ offset: deep.length, detail: 'unexpected end of the file' });
  });
});

describe('formatRegistry', () => {
  it('writes 2-space JSON with a final newline, keeping entry and key order', () => {
    const entries = [clemcoreNested, clemcoreFlat];
    const text = formatRegistry(entries, false);
    expect(text).toBe(`${JSON.stringify(entries, null, 2)}\n`);
    expect(text.split('\n')[1]).toBe('  {');
    expect(entriesOf(parseRegistryText(file, text))).toEqual(entries);
  });

  it('keeps a single-object file a single object while it has one entry, and makes a list when it grows', () => {
    expect(formatRegistry([clemcoreFlat], true)).toBe(`${JSON.stringify(clemcoreFlat, null, 2)}\n`);
    expect(formatRegistry([clemcoreFlat, clemcoreNested], true).startsWith('[')).toBe(true);
    expect(formatRegistry([], true)).toBe('[]\n');
  });
});

describe('readRegistryFile', () => {
  let folder = '';
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'clemplay-registry-file-'));
  });
  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('a missing file is "missing", not an error (the user and working-directory files are optional)', async () => {
    expect(await readRegistryFile(join(folder, 'absent.json'))).toEqual({ status: 'missing' });
  });

  it('a file that cannot be read is an error naming it', async () => {
    const directory = join(folder, 'a-folder.json');
    await mkdir(directory);
    const problem = problemOf(await readRegistryFile(directory));
    expect(problem.message).toMatch(new RegExp(`^${directory}: cannot read the file`));
  });

  it('reads, validates and stamps a file', async () => {
    const path = join(folder, 'model_registry.json');
    const text = JSON.stringify([clemcoreNested], null, 2);
    await writeFile(path, text);
    expect(await readRegistryFile(path)).toEqual({
      status: 'ok',
      entries: [clemcoreNested],
      singleObject: false,
      hash: hashText(text),
      secretFields: new Map(),
    });
  });

  it('finds the secret-named fields of every entry as it checks them', () => {
    const text = JSON.stringify([
      { model_name: 'a', backend: 'openai', api_key: 'sk-1' },
      { model_name: 'b', backend: 'openai', requires_api_key: true },
      { model_name: 'c', backend: 'openai', model_config: { headers: [{ Authorization: 'Bearer x' }], token: '' } },
    ]);
    const content = parseRegistryText('r.json', text);
    expect(content.status === 'ok' && [...content.secretFields]).toEqual([
      [0, ['api_key']],
      [2, ['model_config.headers[0].Authorization']],
    ]);
  });

  it('a broken file names its real path', async () => {
    const path = join(folder, 'broken.json');
    await writeFile(path, '[\n  {"model_name": "a", "backend": "b"}\n  {}\n]');
    const problem = problemOf(await readRegistryFile(path));
    expect(problem.message.startsWith(`${path}:3:3: invalid JSON`)).toBe(true);
  });
});
