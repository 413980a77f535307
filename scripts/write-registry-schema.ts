// Writes registry/model_registry.schema.json from the zod schema the app validates registry files with, so that
// Monaco, other tools and the app agree on what a registry file is. src-main/registry/registry-schema.test.ts fails
// when the committed file is stale: run `npx tsx scripts/write-registry-schema.ts` after changing the schema.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { findAppRoot } from '../src-main/paths.js';
import { registryJsonSchema } from '../src-main/registry/registry-schema.js';

const path = join(findAppRoot(), 'registry', 'model_registry.schema.json');
// Formatted as `prettier --check` expects, so the generated file passes the lint step unchanged.
const config = (await resolveConfig(path)) ?? {};
const text = await format(JSON.stringify(registryJsonSchema(), null, 2), { ...config, filepath: path });
await writeFile(path, text);
process.stdout.write(`wrote ${path}\n`);
