import { entryPlace } from '../src-shared/spec/lookup';

/** What the renderer knows of a registry file: enough to name its entries. */
export interface RegistryFileName {
  path: string;
  role: 'working-directory' | 'user' | 'official' | 'explicit';
  lookupSource: string;
}

/** A file's short name in lists: `official`, `your registry`, `./model_registry.json`, or the file's name. */
export function sourceName(lookupSource: string, files: readonly RegistryFileName[]): string {
  if (lookupSource === 'official') return 'official';
  const file = files.find((candidate) => candidate.lookupSource === lookupSource || candidate.path === lookupSource);
  if (file?.role === 'user') return 'your registry';
  if (file?.role === 'working-directory') return './model_registry.json';
  return lookupSource.split(/[\\/]/).pop() ?? lookupSource;
}

/** An entry's place as every page writes it: `official #5`, `your registry #0`. */
export function placeName(lookupSource: string, index: number, files: readonly RegistryFileName[]): string {
  return entryPlace(sourceName(lookupSource, files), index);
}

/** A row of the registry list, as far as overrides are concerned. */
export interface PlacedEntry {
  lookupSource: string;
  index: number;
  entry: { model_name?: unknown };
}

/**
 * For each official entry whose `model_name` an earlier entry of another file also has (so lookups by that name
 * reach the other first), the place of that earlier entry; keyed by the official entry's index.
 */
export function overriddenOfficialEntries(
  rows: readonly PlacedEntry[],
  files: readonly RegistryFileName[],
): Map<number, string> {
  const firstByName = new Map<string, PlacedEntry>();
  const overridden = new Map<number, string>();
  for (const row of rows) {
    const name = row.entry.model_name;
    if (typeof name !== 'string') continue;
    const earlier = firstByName.get(name);
    if (row.lookupSource === 'official' && earlier !== undefined && earlier.lookupSource !== 'official') {
      overridden.set(row.index, placeName(earlier.lookupSource, earlier.index, files));
    }
    if (earlier === undefined) firstByName.set(name, row);
  }
  return overridden;
}
