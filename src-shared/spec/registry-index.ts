import type { JsonObject, JsonValue } from '../json.js';
import { setOwnKey } from './json-tools.js';
import { isVariable } from './unify.js';

/** A registry entry with where it came from; the loader has already tagged `entry` with its `lookup_source`. */
export interface SourcedEntry {
  /** The entry as unification sees it, including its `lookup_source` key. */
  entry: JsonObject;
  /** The registry file it was read from (a path, or a name such as `registry/model_registry.json`). */
  file: string;
  /** The name of that file in the registry stack (`official`, `user`, …), the value of the entry's `lookup_source`. */
  lookupSource: string;
  /** The entry's position (0-based) in its file. */
  index: number;
  /**
   * The entry as written in its file, where `entry` is tagged only when first read ({@link LazilyTaggedEntry}): the
   * index reads names from it, which tagging does not change.
   */
  readonly untagged?: JsonObject;
}

/** How {@link createRegistryIndex} builds its index; default `{ indexed: true }`. */
export interface RegistryIndexOptions {
  /** false: no name index, every lookup scans all entries (the baseline for benchmarks and tests). */
  indexed?: boolean;
}

/** Registry entries in priority order (highest first), with the positions of each concrete `model_name`. */
export interface RegistryIndex {
  /** All entries, in priority order. */
  readonly entries: readonly SourcedEntry[];
  /** Whether lookups narrow candidates by name; false means a linear scan. */
  readonly indexed: boolean;
  /** Positions (ascending) in `entries` of the entries with each concrete (non-variable string) `model_name`. */
  readonly positionsByName: ReadonlyMap<string, readonly number[]>;
  /** Positions (ascending) of entries without a concrete `model_name`: candidates for every query. */
  readonly wildcards: readonly number[];
  /** The concrete `model_name` of each entry by position, or null for a wildcard. */
  readonly names: readonly (string | null)[];
}

/** The value of `model_name` when it is a concrete string (not a variable), else null. */
export function concreteModelName(spec: JsonObject): string | null {
  if (!Object.hasOwn(spec, 'model_name')) return null;
  const name: JsonValue | undefined = spec['model_name'];
  return typeof name === 'string' && !isVariable(name) ? name : null;
}

/** The entry tagged with the registry it came from, unless it names one itself; the input is not modified. */
export function tagEntry(entry: JsonObject, lookupSource: string): JsonObject {
  if (Object.hasOwn(entry, 'lookup_source')) return entry;
  const tagged: JsonObject = {};
  const keys = Object.keys(entry);
  for (let position = 0; position < keys.length; position++) {
    const key = keys[position] as string;
    setOwnKey(tagged, key, entry[key] as JsonValue);
  }
  tagged['lookup_source'] = lookupSource;
  return tagged;
}

/** A sourced entry as a plain object of its four fields, whatever it was (a {@link LazilyTaggedEntry}, say). */
export function plainSourcedEntry({ entry, file, lookupSource, index }: SourcedEntry): SourcedEntry {
  return { entry, file, lookupSource, index };
}

/**
 * An entry whose tagged copy is made when a lookup first reads it. A registry of thousands of entries is indexed by
 * every CLI call, and a lookup reads only its few candidates; copying every entry up front cost more than all of them.
 */
export class LazilyTaggedEntry implements SourcedEntry {
  private tagged: JsonObject | null = null;

  constructor(
    readonly untagged: JsonObject,
    readonly file: string,
    readonly lookupSource: string,
    readonly index: number,
  ) {}

  get entry(): JsonObject {
    this.tagged ??= tagEntry(this.untagged, this.lookupSource);
    return this.tagged;
  }

  /** In JSON, what any other {@link SourcedEntry} looks like. */
  toJSON(): SourcedEntry {
    return plainSourcedEntry(this);
  }
}

/**
 * Indexes entries (in priority order) by concrete `model_name`. An entry whose name is a variable, not a string, or
 * absent can match any name, so it is a wildcard that every query considers.
 */
export function createRegistryIndex(
  entries: readonly SourcedEntry[],
  options: RegistryIndexOptions = {},
): RegistryIndex {
  const indexed = options.indexed ?? true;
  const positionsByName = new Map<string, number[]>();
  const wildcards: number[] = [];
  const names: (string | null)[] = [];
  for (let position = 0; position < entries.length; position++) {
    const sourced = entries[position] as SourcedEntry;
    const name = concreteModelName(sourced.untagged ?? sourced.entry);
    names.push(name);
    if (!indexed) continue;
    if (name === null) {
      wildcards.push(position);
      continue;
    }
    const positions = positionsByName.get(name);
    if (positions === undefined) positionsByName.set(name, [position]);
    else positions.push(position);
  }
  return { entries, indexed, positionsByName, wildcards, names };
}

/** No entry has this name; shared so that a miss allocates nothing. */
const noPositions: readonly number[] = [];

/**
 * The candidates for a query as two ascending position lists to merge (named entries, wildcards), or null when every
 * entry must be scanned: the index is off, or the query's `model_name` is absent, a variable, or not a string.
 */
export function candidateLists(
  index: RegistryIndex,
  query: JsonObject,
): readonly [readonly number[], readonly number[]] | null {
  if (!index.indexed) return null;
  const name = concreteModelName(query);
  if (name === null) return null;
  return [index.positionsByName.get(name) ?? noPositions, index.wildcards];
}

/** Whether the entry at a position is a candidate for the query (the index would not skip it). */
export function isCandidate(index: RegistryIndex, query: JsonObject, position: number): boolean {
  if (!index.indexed) return true;
  const name = concreteModelName(query);
  const entryName = index.names[position];
  return name === null || entryName === null || entryName === undefined || entryName === name;
}
