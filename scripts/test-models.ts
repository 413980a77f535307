// Generated GGUF models for tests and benchmarks, cached under .cache/gguf/ so each shape is written once.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GgufPresetName, type MakeGgufOptions, ggufPresets, resolveGgufOptions, writeGguf } from './make-gguf.js';

/** Root of the repository (this file lives in scripts/). */
export const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

/** Folder holding the generated models; git-ignored through `.cache/`. */
export const testModelCacheFolder = join(repositoryRoot, '.cache', 'gguf');

// The writer's own source (and the random numbers it draws weights from) is part of the cache key, so editing the
// writer never serves a stale model.
const writerSourceFiles = ['make-gguf.ts', 'gguf-writer.ts', '../src-shared/random.ts'].map((name) =>
  fileURLToPath(new URL(name, import.meta.url)),
);

let writerFingerprint: Promise<string> | undefined;

function fingerprintWriter(): Promise<string> {
  writerFingerprint ??= (async () => {
    const hash = createHash('sha256');
    for (const file of writerSourceFiles) hash.update(await readFile(file));
    return hash.digest('hex');
  })();
  return writerFingerprint;
}

// Keys sorted so that the same options spelled in a different order hash the same.
function canonicalJson(value: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([left], [right]) => left.localeCompare(right))));
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return false;
    throw error;
  }
}

// Callers in the same process asking for the same model share one write.
const pendingWrites = new Map<string, Promise<string>>();

/** Path of a cached model for a preset or explicit options, generating it first if it is not there yet. */
export async function ensureTestModel(presetOrOptions: GgufPresetName | MakeGgufOptions): Promise<string> {
  const options = typeof presetOrOptions === 'string' ? ggufPresets[presetOrOptions] : presetOrOptions;
  const resolved = resolveGgufOptions(options);
  const key = createHash('sha256')
    .update(canonicalJson(resolved))
    .update(await fingerprintWriter())
    .digest('hex')
    .slice(0, 16);
  const label = resolved.name.replace(/[^a-zA-Z0-9._-]+/g, '-');
  const path = join(testModelCacheFolder, `${label}-${resolved.tensorType.toLowerCase()}-${key}.gguf`);

  const pending = pendingWrites.get(path);
  if (pending !== undefined) return pending;
  const write = (async () => {
    if (await exists(path)) return path;
    await mkdir(dirname(path), { recursive: true });
    // Other test workers may be reading or writing the same model: only a complete file is ever renamed into place.
    const temporaryPath = `${path}.${randomUUID()}.tmp`;
    try {
      await writeGguf(temporaryPath, resolved);
      await rename(temporaryPath, path);
    } catch (error) {
      await rm(temporaryPath, { force: true });
      throw error;
    }
    return path;
  })();
  pendingWrites.set(path, write);
  try {
    return await write;
  } finally {
    pendingWrites.delete(path);
  }
}
