// Writes registry/model_registry.schema.json from the zod schema the app validates registry files with, so that
// Monaco, other tools and the app agree on what a registry file is. src-main/registry/registry-schema.test.ts fails
// when the committed file is stale: run `npx tsx scripts/write-registry-schema.ts` after changing the schema.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { findAppRoot } from '../src-main/paths.js';
import { registryEntryAdviceJsonSchema, registryJsonSchema } from '../src-main/registry/registry-schema.js';

const schemas = {
  'model_registry.schema.json': registryJsonSchema(),
  // The entry with the keys clemplay reads: the editors' completions, hover docs and warnings.
  'model_registry.entry.schema.json': registryEntryAdviceJsonSchema(),
};
for (const [name, schema] of Object.entries(schemas)) {
  const path = join(findAppRoot(), 'registry', name);
  // Formatted as `prettier --check` expects, so the generated file passes the lint step unchanged.
  const config = (await resolveConfig(path)) ?? {};
  await writeFile(path, await format(JSON.stringify(schema, null, 2), { ...config, filepath: path }));
  process.stdout.write(`wrote ${path}\n`);
}
