import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAppRoot } from '../paths.js';
import { parseRegistryText } from './registry-file.js';
import type { JsonObject } from '../../src-shared/json.js';
import {
  entryWarnings,
  registryEntryAdviceJsonSchema,
  registryEntrySchema,
  registryFileSchema,
  registryJsonSchema,
} from './registry-schema.js';

const root = findAppRoot();
const officialPath = join(root, 'registry', 'model_registry.json');
const schemaPath = join(root, 'registry', 'model_registry.schema.json');

describe('registry/model_registry.schema.json', () => {
  it('is exactly what registryJsonSchema() generates (run scripts/write-registry-schema.ts after a change)', () => {
    const committed: unknown = JSON.parse(readFileSync(schemaPath, 'utf8'));
    // Compared as text so that key order counts too: the file must be the generator's output, not merely equivalent.
    expect(JSON.stringify(committed, null, 2)).toBe(JSON.stringify(registryJsonSchema(), null, 2));
  });

  it('requires a string model_name and backend in a list entry and in a single-object file', () => {
    const schema = registryJsonSchema() as {
      $schema: string;
      anyOf: [{ type: 'array'; items: Record<string, unknown> }, Record<string, unknown>];
    };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    for (const entry of [schema.anyOf[0].items, schema.anyOf[1]]) {
      expect(entry).toMatchObject({
        type: 'object',
        required: ['model_name', 'backend'],
        properties: { model_name: { type: 'string' }, backend: { type: 'string' } },
      });
    }
  });
});

describe('the official registry', () => {
  const text = readFileSync(officialPath, 'utf8');

  it('passes registryFileSchema', () => {
    const checked = registryFileSchema.safeParse(JSON.parse(text));
    expect(checked.error?.issues ?? []).toEqual([]);
  });

  it('loads as a list of valid entries, none of which carries a lookup_source (the loader tags them)', () => {
    const content = parseRegistryText(officialPath, text);
    expect(content.status).toBe('ok');
    const entries = content.status === 'ok' ? content.entries : [];
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      expect(registryEntrySchema.safeParse(entry).success).toBe(true);
      expect(Object.hasOwn(entry, 'lookup_source')).toBe(false);
    }
  });
});

describe('entry warnings', () => {
  it('warns about an unknown backend and a wrong type, and nothing for a good entry', () => {
    expect(entryWarnings({ model_name: 'x', backend: 'openai', temperature: 0.2, gpu_layers: 'auto' })).toEqual([]);
    expect(entryWarnings({ model_name: 'x', backend: 'anthropic' })).toEqual([
      expect.stringContaining('backend "anthropic" is a clemcore backend that clemplay does not have'),
    ]);
    expect(entryWarnings({ model_name: 'x', backend: 'my-backend' })).toEqual([
      expect.stringContaining('unknown backend "my-backend"; clemplay has: openai'),
    ]);
    const [typeWarning, ...others] = entryWarnings({ model_name: 'x', backend: 'openai', temperature: 'hot' });
    expect(others).toEqual([]);
    expect(typeWarning).toMatch(/^temperature: expected number.*not "hot"$/);
  });

  it('never warns about the official registry', () => {
    const entries = JSON.parse(readFileSync(officialPath, 'utf8')) as JsonObject[];
    expect(entries.flatMap((entry) => entryWarnings(entry))).toEqual([]);
  });

  it('registry/model_registry.entry.schema.json is what registryEntryAdviceJsonSchema() generates', () => {
    const committed: unknown = JSON.parse(
      readFileSync(join(root, 'registry', 'model_registry.entry.schema.json'), 'utf8'),
    );
    expect(JSON.stringify(committed, null, 2)).toBe(JSON.stringify(registryEntryAdviceJsonSchema(), null, 2));
  });
});
