import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../json.js';
import { explain, formatExplanation } from './explain.js';
import type { LookupResult, SourcedEntry } from './lookup.js';
import { applySpecialNames, createRegistryIndex, lookup, tagEntry } from './lookup.js';
import { LazilyTaggedEntry } from './registry-index.js';
import { unify } from './unify.js';

const officialFile = 'registry/model_registry.json';
const userFile = '/home/someone/.config/clemplay/model_registry.json';

function sourced(entries: JsonObject[], lookupSource = 'official', file = officialFile): SourcedEntry[] {
  return entries.map((entry, index) => ({ entry: tagEntry(entry, lookupSource), file, lookupSource, index }));
}

const catchAll: JsonObject = {
  model_name: '?m',
  backend: 'openai_compatible',
  model_id: '?m',
  base_url: 'http://127.0.0.1:8080/v1',
};

const official = sourced([
  { model_name: 'gpt-4o', backend: 'openai', model_id: 'gpt-4o' },
  { model_name: 'llama-3', backend: 'llamacpp', model_path: 'llama.gguf' },
  { model_name: 'llama-3', backend: 'openai_compatible', base_url: 'http://127.0.0.1:8080/v1' },
  { model_name: 'gpt-4o-mini', backend: 'openai', model_id: 'gpt-4o-mini' },
  { model_name: 'o4-mini', backend: 'openai', model_config: { reasoning_model: true, eos_to_cull: '</s>' } },
  { model_name: 'mock', backend: 'programmatic', script: 'echo' },
]);

const registry = createRegistryIndex(official);
const linear = createRegistryIndex(official, { indexed: false });

function matchOf(result: LookupResult): string | null {
  if (!result.ok) return 'no-match';
  return result.match === null ? null : `${result.match.lookupSource} #${result.match.index}`;
}

describe('tagEntry', () => {
  it('adds lookup_source at the end unless the entry has one, without changing the input', () => {
    const entry: JsonObject = { model_name: 'x' };
    expect(tagEntry(entry, 'user')).toEqual({ model_name: 'x', lookup_source: 'user' });
    expect(entry).toEqual({ model_name: 'x' });
    const pinned: JsonObject = { model_name: 'x', lookup_source: 'elsewhere' };
    expect(tagEntry(pinned, 'user')).toBe(pinned);
  });

  it('LazilyTaggedEntry: indexed by its untagged name, tagged once when read, resolving as tagged entries do', () => {
    const raw: JsonObject[] = [
      { model_name: 'a', backend: 'x' },
      { model_name: '?m', backend: 'y' },
      { model_name: 'b', backend: 'z', lookup_source: 'pinned' },
    ];
    const lazy = raw.map((entry, index) => new LazilyTaggedEntry(entry, 'f.json', 'user', index));
    const eager = raw.map((entry, index) => ({
      entry: tagEntry(entry, 'user'),
      file: 'f.json',
      lookupSource: 'user',
      index,
    }));
    const lazyIndex = createRegistryIndex(lazy);
    expect(lazyIndex.names).toEqual(['a', null, 'b']);
    const queries: JsonObject[] = [
      { model_name: 'a' },
      { model_name: 'c' },
      { model_name: 'b' },
      { lookup_source: 'pinned' },
    ];
    for (const query of queries) {
      const [fromLazy, fromEager] = [lookup(query, lazyIndex), lookup(query, createRegistryIndex(eager))];
      expect(fromLazy.ok && [fromLazy.finalSpec, fromLazy.match?.index, fromLazy.provenance]).toEqual(
        fromEager.ok && [fromEager.finalSpec, fromEager.match?.index, fromEager.provenance],
      );
    }
    expect(lazy[0]?.entry).toBe(lazy[0]?.entry);
    expect(lazy[0]?.entry).toEqual({ model_name: 'a', backend: 'x', lookup_source: 'user' });
    expect(raw[0]).toEqual({ model_name: 'a', backend: 'x' });
    expect(JSON.parse(JSON.stringify(lazy[2]))).toEqual({ ...eager[2], entry: raw[2] });
  });
});

describe('createRegistryIndex', () => {
  it('indexes concrete names and keeps every other entry as a wildcard', () => {
    const index = createRegistryIndex(
      sourced([
        { model_name: 'a' },
        { model_name: '?m' },
        {},
        { model_name: 3 },
        { model_name: 'a' },
        { model_name: '\\?b' },
      ]),
    );
    expect([...index.positionsByName.entries()]).toEqual([
      ['a', [0, 4]],
      ['\\?b', [5]],
    ]);
    expect(index.wildcards).toEqual([1, 2, 3]);
    expect(createRegistryIndex(index.entries, { indexed: false }).wildcards).toEqual([]);
  });
});

/** [name, query, expected match ("official #i", null for the query as it is, "no-match"), expected subset of spec] */
const lookups: [string, JsonObject, string | null, JsonObject][] = [
  ['a name picks the first entry of that name', { model_name: 'llama-3' }, 'official #1', { backend: 'llamacpp' }],
  [
    'name and backend pick a later entry',
    { model_name: 'llama-3', backend: 'openai_compatible' },
    'official #2',
    { base_url: 'http://127.0.0.1:8080/v1' },
  ],
  ['{} matches the first entry', {}, 'official #0', { model_name: 'gpt-4o' }],
  [
    'nested model_config merges',
    { model_name: 'o4-mini', model_config: { temperature: 1 } },
    'official #4',
    { model_config: { temperature: 1, reasoning_model: true, eos_to_cull: '</s>' } },
  ],
  [
    'a nested conflict rules the entry out',
    { model_name: 'o4-mini', model_config: { eos_to_cull: '<eos>' } },
    'no-match',
    {},
  ],
  [
    'a variable name scans all and takes the first',
    { model_name: '?any', backend: 'llamacpp' },
    'official #1',
    { model_name: 'llama-3' },
  ],
  ['a non-string name scans all', { model_name: 7 }, 'no-match', {}],
  ['"1" is not 1', { model_name: 'gpt-4o', model_id: 1 }, 'no-match', {}],
  [
    'a query naming a backend is used as it is',
    { model_name: 'my-model', backend: 'llamacpp', model_path: 'x.gguf' },
    null,
    { model_path: 'x.gguf' },
  ],
  ['a variable backend names no backend', { model_name: 'my-model', backend: '?b' }, 'no-match', {}],
  ['human selects the human backend', { model_name: 'human' }, null, { model_name: 'human', backend: 'human' }],
  [
    'terminal selects the human backend',
    { model_name: 'terminal', timeout: 5 },
    null,
    { backend: 'human', timeout: 5 },
  ],
  ['programmatic selects the programmatic backend', { model_name: 'programmatic' }, null, { backend: 'programmatic' }],
  ['mock matches a registry entry with that backend', { model_name: 'mock' }, 'official #5', { script: 'echo' }],
  ['a special name keeps an explicit backend', { model_name: 'human', backend: 'openai' }, null, { backend: 'openai' }],
  ['lookup_source pins a registry', { model_name: 'gpt-4o', lookup_source: 'user' }, 'no-match', {}],
];

describe('lookup', () => {
  it.each(lookups)('%s', (_name, query, expectedMatch, expectedSpec) => {
    for (const index of [registry, linear]) {
      const result = lookup(query, index);
      expect(matchOf(result)).toBe(expectedMatch);
      if (result.ok) expect(result.spec).toMatchObject(expectedSpec);
    }
  });

  it('routes any name through a catch-all entry and sends it on as model_id', () => {
    const index = createRegistryIndex([...official, ...sourced([catchAll], 'user', userFile)]);
    const result = lookup({ model_name: 'qwen-2.5' }, index);
    expect(result).toMatchObject({
      ok: true,
      spec: { ...catchAll, model_name: 'qwen-2.5', model_id: 'qwen-2.5', lookup_source: 'user' },
      match: { file: userFile, index: 0 },
      provenance: {
        file: userFile,
        lookupSource: 'user',
        index: 0,
        fromQuery: ['model_name', 'model_id'],
        fromEntry: ['backend', 'base_url', 'lookup_source'],
        bindings: { '?m': 'qwen-2.5' },
      },
    });
    expect(matchOf(lookup({ model_name: 'gpt-4o' }, index))).toBe('official #0');
  });

  it('pins lookup_source to one registry', () => {
    const index = createRegistryIndex([
      ...sourced([{ model_name: 'gpt-4o', backend: 'openai', temperature: 1 }], 'user', userFile),
      ...official,
    ]);
    expect(matchOf(lookup({ model_name: 'gpt-4o' }, index))).toBe('user #0');
    expect(matchOf(lookup({ model_name: 'gpt-4o', lookup_source: 'official' }, index))).toBe('official #0');
  });

  it('orders the result: query keys first, then the entry keys', () => {
    const result = lookup({ temperature: 0, model_name: 'gpt-4o' }, registry);
    if (!result.ok) throw new Error('expected a match');
    expect(Object.keys(result.spec)).toEqual(['temperature', 'model_name', 'backend', 'model_id', 'lookup_source']);
  });

  it('attributes nested keys of a merged object by dotted path', () => {
    const result = lookup({ model_name: 'o4-mini', model_config: { temperature: 1 } }, registry);
    if (!result.ok) throw new Error('expected a match');
    expect(result.provenance.fromQuery).toEqual(['model_name', 'model_config.temperature']);
    expect(result.provenance.fromEntry).toEqual([
      'model_config.reasoning_model',
      'model_config.eos_to_cull',
      'backend',
      'lookup_source',
    ]);
  });

  it('attributes a key filled by a variable to the side that gave the value', () => {
    const index = createRegistryIndex(sourced([{ model_name: 'gpt-4o', backend: 'openai', model_id: 'gpt-4o-2024' }]));
    const result = lookup({ model_name: 'gpt-4o', model_id: '?id', label: '?id', free: '?f' }, index);
    if (!result.ok) throw new Error('expected a match');
    expect(result.spec).toMatchObject({ model_id: 'gpt-4o-2024', label: 'gpt-4o-2024', free: '?f' });
    expect(result.provenance.fromQuery).toEqual(['model_name', 'free']);
    expect(result.provenance.fromEntry).toEqual(['model_id', 'label', 'backend', 'lookup_source']);
  });

  it('attributes every key of a query used as it is to the query', () => {
    const result = lookup({ model_name: 'x', backend: 'llamacpp' }, registry);
    expect(result).toMatchObject({
      ok: true,
      match: null,
      provenance: { file: null, lookupSource: null, index: null, fromQuery: ['model_name', 'backend'], fromEntry: [] },
    });
  });

  it('gives the user-facing spec with literals unescaped next to the unification form', () => {
    const index = createRegistryIndex(sourced([{ model_name: 'quiz', backend: 'programmatic', answer: '\\?' }]));
    const result = lookup({ model_name: 'quiz' }, index);
    expect(result).toMatchObject({ ok: true, spec: { answer: '\\?' }, finalSpec: { answer: '?' } });
  });

  it('lists the nearest entries by name, with their conflicts, in a message a person can act on', () => {
    const result = lookup({ model_name: 'gpt-4o-mnii' }, registry);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('no-match');
    expect(result.error.nearest.map((near) => near.model_name)).toEqual([
      'gpt-4o-mini',
      'gpt-4o',
      'o4-mini',
      'llama-3',
      'llama-3',
    ]);
    expect(result.error.nearest[0]).toEqual({
      file: officialFile,
      index: 3,
      lookupSource: 'official',
      model_name: 'gpt-4o-mini',
      path: 'model_name',
      left: 'gpt-4o-mnii',
      right: 'gpt-4o-mini',
      reason: 'different values',
    });
    expect(result.error.suggestion).toBe('gpt-4o-mini');
    expect(result.error.message).toContain(
      'no registry entry matches {"model_name":"gpt-4o-mnii"}; did you mean "gpt-4o-mini"? Nearest: ',
    );
    expect(result.error.message).toContain('gpt-4o-mini (official #3: model_name "gpt-4o-mnii" ≠ "gpt-4o-mini"), ');
    expect(result.error.message).toContain('give a "backend" to use the query as it is');
  });

  it('suggests a name only for a name no entry has, and only when it is near one', () => {
    const suggestionFor = (query: JsonObject): string | null => {
      const result = lookup(query, registry);
      if (result.ok) throw new Error('expected no match');
      return result.error.suggestion;
    };
    expect(suggestionFor({ model_name: 'GPT-4o-mini ' })).toBe('gpt-4o-mini');
    expect(suggestionFor({ model_name: 'llama3' })).toBe('llama-3');
    // Far from every name: no guess.
    expect(suggestionFor({ model_name: 'claude-opus' })).toBeNull();
    // The name exists; another key is what conflicts, so a different name would be the wrong advice.
    expect(suggestionFor({ model_name: 'gpt-4o-mini', model_id: 'another' })).toBeNull();
    const far = lookup({ model_name: 'claude-opus' }, registry);
    if (far.ok) throw new Error('expected no match');
    expect(far.error.message).not.toContain('did you mean');
  });

  it('keeps registry order among equally near entries and reports nested conflicts', () => {
    const index = createRegistryIndex(
      sourced([{ model_name: 'ab' }, { model_name: 'ac' }, { model_name: 'ad', model_config: { eos_to_cull: 'x' } }]),
    );
    const result = lookup({ model_name: 'ad', model_config: { eos_to_cull: 'y' } }, index);
    if (result.ok) throw new Error('expected no match');
    expect(result.error.nearest.map((near) => [near.model_name, near.path])).toEqual([
      ['ad', 'model_config.eos_to_cull'],
      ['ab', 'model_name'],
      ['ac', 'model_name'],
    ]);
  });

  it('says so when the registry is empty', () => {
    const result = lookup({ model_name: 'x' }, createRegistryIndex([]));
    expect(result).toMatchObject({ ok: false, error: { nearest: [] } });
    if (!result.ok) expect(result.error.message).toContain('the registry is empty');
  });

  it('adds the backend of a special name and keeps the other keys', () => {
    expect(applySpecialNames({ model_name: 'human', seat: 1 })).toEqual({
      model_name: 'human',
      seat: 1,
      backend: 'human',
    });
    const untouched: JsonObject = { model_name: 'gpt-4o' };
    expect(applySpecialNames(untouched)).toBe(untouched);
  });
});

/** Random registries with few names (so names repeat), wildcards, variables and nested configs. */
const names = ['m-0', 'm-1', 'm-2', 'm-3'];
const entryArbitrary: fc.Arbitrary<JsonObject> = fc.record(
  {
    model_name: fc.constantFrom<JsonValue>(...names, '?m', 3, null),
    backend: fc.constantFrom<JsonValue>('openai', 'llamacpp', '?b'),
    model_id: fc.constantFrom<JsonValue>('id-0', 'id-1', '?m'),
    model_config: fc.record({ temperature: fc.constantFrom<JsonValue>(0, 1, '?t') }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);
const queryArbitrary: fc.Arbitrary<JsonObject> = fc.record(
  {
    model_name: fc.constantFrom<JsonValue>(...names, 'm-9', '?q', 3, 'human', 'mock'),
    backend: fc.constantFrom<JsonValue>('openai', 'llamacpp', 'human', '?q'),
    model_id: fc.constantFrom<JsonValue>('id-0', '?q'),
    model_config: fc.record({ temperature: fc.constantFrom<JsonValue>(0, 1) }, { requiredKeys: [] }),
    lookup_source: fc.constantFrom<JsonValue>('official', 'user'),
  },
  { requiredKeys: [] },
);
const registryArbitrary = fc
  .tuple(fc.array(entryArbitrary, { maxLength: 12 }), fc.array(entryArbitrary, { maxLength: 12 }))
  .map(([user, shipped]) => [...sourced(user, 'user', userFile), ...sourced(shipped)]);

describe('index and linear scan', () => {
  it('give exactly the same result as each other and as a plain first-match scan', () => {
    fc.assert(
      fc.property(registryArbitrary, queryArbitrary, (entries, query) => {
        const indexed = lookup(query, createRegistryIndex(entries));
        const scanned = lookup(query, createRegistryIndex(entries, { indexed: false }));
        expect(indexed).toEqual(scanned);
        const effective = applySpecialNames(query);
        const first = entries.find((candidate) => unify(effective, candidate.entry).ok) ?? null;
        if (first !== null) expect(indexed.ok && indexed.match).toBe(first);
        else
          expect(indexed.ok ? indexed.match : 'no-match').toBe(
            typeof effective['backend'] === 'string' && effective['backend'] !== '?q' ? null : 'no-match',
          );
      }),
      { numRuns: 1000 },
    );
  });

  it('explain agrees with lookup and has a verdict for every entry', () => {
    fc.assert(
      fc.property(registryArbitrary, queryArbitrary, (entries, query) => {
        const index = createRegistryIndex(entries);
        const explanation = explain(query, index);
        expect(explanation.result).toEqual(lookup(query, index));
        expect(explanation.verdicts).toHaveLength(entries.length);
        const effective = applySpecialNames(query);
        explanation.verdicts.forEach((verdict, position) => {
          expect(verdict.matched).toBe(unify(effective, (entries[position] as SourcedEntry).entry).ok);
        });
        const firstMatched = explanation.verdicts.findIndex((verdict) => verdict.matched);
        expect(explanation.winner).toBe(firstMatched === -1 ? null : firstMatched);
      }),
      { numRuns: 500 },
    );
  });
});

describe('explain', () => {
  it('reports every entry, skipped ones as a model_name conflict, and formats it for the CLI', () => {
    const index = createRegistryIndex([...official, ...sourced([catchAll], 'user', userFile)]);
    const explanation = explain({ model_name: 'llama-3', backend: 'openai_compatible' }, index);
    expect(explanation.verdicts[0]).toEqual({
      file: officialFile,
      index: 0,
      lookupSource: 'official',
      model_name: 'gpt-4o',
      matched: false,
      path: 'model_name',
      left: 'llama-3',
      right: 'gpt-4o',
      reason: 'different values',
    });
    expect(explanation.verdicts[1]).toMatchObject({
      matched: false,
      path: 'backend',
      left: 'openai_compatible',
      right: 'llamacpp',
    });
    expect(explanation.verdicts[2]).toMatchObject({ matched: true });
    expect(explanation.verdicts[6]).toMatchObject({ matched: true, lookupSource: 'user' });
    expect(explanation.winner).toBe(2);
    expect(explanation.provenance?.fromEntry).toEqual(['base_url', 'lookup_source']);
    const text = formatExplanation(explanation);
    expect(text).toContain('  ✗ official #0 gpt-4o: model_name "llama-3" ≠ "gpt-4o"\n');
    expect(text).toContain('  ✓ official #2 llama-3  ← wins\n');
    expect(text).toContain('  ✓ user #0 ?m\n');
    expect(text).toContain(`result: official #2 (${officialFile})`);
    expect(text).toContain('keys from query: model_name, backend');
    expect(text).toContain('keys from entry: base_url, lookup_source');
  });

  it('shows bindings, special names and the no-match message', () => {
    const index = createRegistryIndex(sourced([catchAll]));
    const bound = formatExplanation(explain({ model_name: 'qwen' }, index));
    expect(bound).toContain('bindings: ?m = "qwen"');
    const special = formatExplanation(explain({ model_name: 'human' }, index));
    expect(special).toContain('read as {"model_name":"human","backend":"human"}');
    expect(special).toContain('  ✗ official #0 ?m: backend "human" ≠ "openai_compatible"');
    expect(special).toContain('the query names a backend, so it is used as it is');
    const missing = explain({ model_name: 'x', base_url: 'elsewhere' }, index);
    expect(missing.result.ok).toBe(false);
    expect(missing.provenance).toBeNull();
    expect(formatExplanation(missing)).toContain(
      'no match: no registry entry matches {"model_name":"x","base_url":"elsewhere"}',
    );
  });
});
