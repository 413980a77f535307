/**
 * Lookup of a query in the registry stack (DESIGN.md, "Lookup"): the first entry, in priority order, that unifies
 * with the query wins.
 *
 * Provenance: every key path of the result is in exactly one of `fromQuery` and `fromEntry`. A key whose value is
 * an object on both sides was merged: it is not listed itself, its keys are, as dotted paths (recursively). Any other
 * key goes to the side that gave it a concrete value: the query when the query has it and it is not a bare variable,
 * else the entry when the entry has it and it is not a bare variable; when only variables stand at that key, it goes
 * to the side whose value the variable took (so in `{"model_name": "?m", "model_id": "?m"}` matched by the query
 * `{"model_name": "gpt"}`, `model_id` is from the query), and an unbound variable is the query's if the query has
 * the key, else the entry's.
 */
import type { JsonObject, JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import type { PathSegment } from './json-tools.js';
import { copyJsonObject, describeJson, formatPath, ownValue, setOwnKey } from './json-tools.js';
import type { RegistryIndex, SourcedEntry } from './registry-index.js';
import { candidateLists, concreteModelName } from './registry-index.js';
import type { Side, UnifyFailure, UnifySuccess } from './unify.js';
import { finalizeSpec, isVariable, unify, unifyFlat } from './unify.js';

export type { RegistryIndex, RegistryIndexOptions, SourcedEntry } from './registry-index.js';
export { createRegistryIndex, tagEntry } from './registry-index.js';

/** Where a resolved spec came from, key by key. */
export interface Provenance {
  /** The registry file of the matching entry; null when the query was used as it is. */
  file: string | null;
  /** The matching entry's registry (`lookup_source`); null when the query was used as it is. */
  lookupSource: string | null;
  /** The matching entry's position in its file; null when the query was used as it is. */
  index: number | null;
  /** Key paths of the result whose values came from the query (see the file comment for the rules). */
  fromQuery: string[];
  /** Key paths of the result whose values came from the entry. */
  fromEntry: string[];
  /** The variables bound by the match (`?m` → value). */
  bindings: Record<string, JsonValue>;
}

/** A registry entry near a query that matched nothing, and where it conflicts with it. */
export interface NearEntry {
  file: string;
  /** Position of the entry in its file. */
  index: number;
  lookupSource: string;
  /** The entry's `model_name`, null when it has none. */
  model_name: JsonValue | null;
  /** Key path of the first conflict, e.g. `model_name` or `model_config.eos_to_cull`. */
  path: string;
  /** The query's value at `path`. */
  left: JsonValue;
  /** The entry's value at `path`. */
  right: JsonValue;
  /** Why the two values do not unify. */
  reason: string;
}

/** No entry matched and the query names no backend: a message a person can act on and the nearest entries. */
export interface NoMatchError {
  code: 'no-match';
  message: string;
  /** Up to 5 entries, nearest `model_name` first (ties in registry order). */
  nearest: NearEntry[];
  /**
   * The registry name the query's `model_name` most likely meant (a typo: within {@link suggestionDistance}
   * edits), or null when no name is that near, or when the name exists and another key is what conflicts.
   */
  suggestion: string | null;
}

/** A query resolved to a spec. */
export interface LookupSuccess {
  ok: true;
  /** The resolved spec in unification form (escaped literals kept): safe to unify again or to store. */
  spec: JsonObject;
  /** The user-facing form of `spec` (literals unescaped, see unify.ts): what backends and displays use. */
  finalSpec: JsonObject;
  /** The entry that matched; null when the query named a backend, matched nothing and was used as it is. */
  match: SourcedEntry | null;
  provenance: Provenance;
}

/** The outcome of {@link lookup}. */
export type LookupResult = LookupSuccess | { ok: false; error: NoMatchError };

const backendsOfSpecialNames: Readonly<Record<string, string>> = {
  human: 'human',
  terminal: 'human',
  mock: 'programmatic',
  programmatic: 'programmatic',
};

/** The query with the backend that a special `model_name` (human, terminal, mock, programmatic) implies. */
export function applySpecialNames(query: JsonObject): JsonObject {
  const name = ownValue(query, 'model_name');
  if (typeof name !== 'string' || !Object.hasOwn(backendsOfSpecialNames, name) || Object.hasOwn(query, 'backend')) {
    return query;
  }
  const withBackend: JsonObject = {};
  for (const key of Object.keys(query)) setOwnKey(withBackend, key, query[key] as JsonValue);
  withBackend['backend'] = backendsOfSpecialNames[name] ?? name;
  return withBackend;
}

/** The concrete backend a query names, if any: a variable names none. */
export function namedBackend(query: JsonObject): string | null {
  const backend = ownValue(query, 'backend');
  return typeof backend === 'string' && backend !== '' && !isVariable(backend) ? backend : null;
}

type Scalar = string | number | boolean | null;

/** A concrete scalar of the query; an entry with a different concrete value at that key cannot match. */
interface Probe {
  key: string;
  value: Scalar;
}

function probesOf(query: JsonObject): Probe[] {
  const probes: Probe[] = [];
  const keys = Object.keys(query);
  for (let position = 0; position < keys.length; position++) {
    const key = keys[position] as string;
    const value = query[key] as JsonValue;
    if ((typeof value !== 'object' || value === null) && !isVariable(value)) probes.push({ key, value });
  }
  return probes;
}

/** A cheap, allocation-free test that rules out most non-matching entries before a full unification. */
function rejectedByProbes(probes: readonly Probe[], entry: JsonObject): boolean {
  for (let position = 0; position < probes.length; position++) {
    const probe = probes[position] as Probe;
    if (!Object.hasOwn(entry, probe.key)) continue;
    const value = entry[probe.key];
    if (value === probe.value) continue;
    if (typeof value === 'object' && value !== null) return true;
    if (!isVariable(value)) return true;
  }
  return false;
}

function sideOfKey(
  queryValue: JsonValue | undefined,
  entryValue: JsonValue | undefined,
  sides: UnifySuccess['bindingSides'],
): Side {
  if (queryValue !== undefined && !isVariable(queryValue)) return 'left';
  if (entryValue !== undefined && !isVariable(entryValue)) return 'right';
  const variable = isVariable(queryValue) ? queryValue : entryValue;
  const side = typeof variable === 'string' && Object.hasOwn(sides, variable) ? sides[variable] : undefined;
  return side ?? (queryValue !== undefined ? 'left' : 'right');
}

function attribute(
  query: JsonObject,
  entry: JsonObject,
  result: JsonObject,
  prefix: PathSegment[],
  sides: UnifySuccess['bindingSides'],
  provenance: Provenance,
): void {
  for (const key of Object.keys(result)) {
    const queryValue = ownValue(query, key);
    const entryValue = ownValue(entry, key);
    const resultValue = result[key];
    const path = [...prefix, key];
    if (isJsonObject(queryValue) && isJsonObject(entryValue) && isJsonObject(resultValue)) {
      attribute(queryValue, entryValue, resultValue, path, sides, provenance);
    } else if (sideOfKey(queryValue, entryValue, sides) === 'left') {
      provenance.fromQuery.push(formatPath(path));
    } else {
      provenance.fromEntry.push(formatPath(path));
    }
  }
}

/** Provenance of a unified spec; `query` is the query after special names. */
export function provenanceOf(query: JsonObject, match: SourcedEntry, result: UnifySuccess): Provenance {
  const provenance: Provenance = {
    file: match.file,
    lookupSource: match.lookupSource,
    index: match.index,
    fromQuery: [],
    fromEntry: [],
    bindings: result.bindings,
  };
  attribute(query, match.entry, result.value, [], result.bindingSides, provenance);
  return provenance;
}

/** The success for a matching entry; `query` is the query after special names. */
export function matchedResult(query: JsonObject, match: SourcedEntry, result: UnifySuccess): LookupSuccess {
  return {
    ok: true,
    spec: result.value,
    finalSpec: finalizeSpec(result.value),
    match,
    provenance: provenanceOf(query, match, result),
  };
}

/** The entry unified with the query, or null when they conflict; `flat`: the query holds concrete scalars only. */
function tryEntry(query: JsonObject, probes: readonly Probe[], flat: boolean, entry: JsonObject): UnifySuccess | null {
  if (rejectedByProbes(probes, entry)) return null;
  const fast = flat ? unifyFlat(query, entry) : null;
  if (fast !== null) return fast;
  const result = unify(query, entry);
  return result.ok ? result : null;
}

/** The winning entry of a lookup and what it unified to. */
interface Match {
  sourced: SourcedEntry;
  result: UnifySuccess;
}

function levenshtein(left: string, right: string, row: number[]): number {
  row.length = 0;
  for (let column = 0; column <= right.length; column++) row.push(column);
  for (let line = 1; line <= left.length; line++) {
    let diagonal = row[0] as number;
    row[0] = line;
    for (let column = 1; column <= right.length; column++) {
      const above = row[column] as number;
      const cost = left.charCodeAt(line - 1) === right.charCodeAt(column - 1) ? 0 : 1;
      row[column] = Math.min(above + 1, (row[column - 1] as number) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[right.length] as number;
}

/** One conflict as people read it: `model_name "gpt-4o-mnii" ≠ "gpt-4o-mini"`, with the reason unless obvious. */
export function describeConflict(conflict: Pick<UnifyFailure, 'path' | 'left' | 'right' | 'reason'>): string {
  const text = `${conflict.path} ${describeJson(conflict.left)} ≠ ${describeJson(conflict.right)}`;
  return conflict.reason === 'different values' ? text : `${text} (${conflict.reason})`;
}

/**
 * Where an entry is, as every list, message and explanation writes it: its source (`official`, or the file its
 * entries are tagged with) and its position in that file, `official #5`. Positions restart in each file, so a bare
 * `#0` would be ambiguous.
 */
export function entryPlace(source: string, index: number): string {
  return `${source} #${index}`;
}

/** How an entry is named in messages: its `model_name`, or a stand-in when it has none. */
export function entryLabel(modelName: JsonValue | undefined | null): string {
  if (modelName === undefined || modelName === null) return '(no model_name)';
  return typeof modelName === 'string' ? modelName : describeJson(modelName);
}

/** The entries nearest a query by `model_name` (edit distance, ignoring case; ties keep registry order). */
export function nearestEntries(query: JsonObject, index: RegistryIndex, limit = 5): NearEntry[] {
  const name = concreteModelName(query);
  const wanted = name?.toLowerCase() ?? null;
  const row: number[] = [];
  const scored = index.entries.map((_, position) => {
    const entryName = index.names[position] ?? null;
    let distance = 0;
    // Entries without a concrete name say nothing about similarity: they come after every named one.
    if (wanted !== null)
      distance = entryName === null ? Number.MAX_SAFE_INTEGER : levenshtein(wanted, entryName.toLowerCase(), row);
    return { position, distance };
  });
  scored.sort((left, right) => left.distance - right.distance || left.position - right.position);
  const nearest: NearEntry[] = [];
  for (const { position } of scored.slice(0, limit)) {
    const sourced = index.entries[position];
    if (sourced === undefined) continue;
    const result = unify(query, sourced.entry);
    if (result.ok) continue;
    nearest.push({
      file: sourced.file,
      index: sourced.index,
      lookupSource: sourced.lookupSource,
      model_name: ownValue(sourced.entry, 'model_name') ?? null,
      path: result.path,
      left: result.left,
      right: result.right,
      reason: result.reason,
    });
  }
  return nearest;
}

/** How many edits (insert, delete, replace a character; case ignored) a typo may be from the name it meant. */
export function suggestionDistance(name: string): number {
  return Math.max(2, Math.floor(name.length / 4));
}

/**
 * The registry name nearest a name that no entry has, when it is within {@link suggestionDistance} edits (case and
 * surrounding spaces ignored); ties go to the earlier entry. Null when the name exists or nothing is that near.
 */
export function suggestName(name: string, index: RegistryIndex): string | null {
  if (index.positionsByName.has(name) || index.names.includes(name)) return null;
  const wanted = name.trim().toLowerCase();
  const row: number[] = [];
  let best: { name: string; distance: number } | null = null;
  const seen = new Set<string>();
  for (const candidate of index.names) {
    if (candidate === null || seen.has(candidate)) continue;
    seen.add(candidate);
    const distance = levenshtein(wanted, candidate.toLowerCase(), row);
    if (distance <= suggestionDistance(wanted) && (best === null || distance < best.distance)) {
      best = { name: candidate, distance };
    }
  }
  return best?.name ?? null;
}

/** The no-match error for a query (after special names). */
export function noMatchError(query: JsonObject, index: RegistryIndex): NoMatchError {
  const nearest = nearestEntries(query, index);
  const name = concreteModelName(query);
  const suggestion = name === null ? null : suggestName(name, index);
  const listed = nearest
    .map(
      (near) =>
        `${entryLabel(near.model_name)} (${entryPlace(near.lookupSource, near.index)}: ${describeConflict(near)})`,
    )
    .join(', ');
  const guess = suggestion === null ? '' : `did you mean ${JSON.stringify(suggestion)}? `;
  const where = index.entries.length === 0 ? 'the registry is empty' : `${guess === '' ? 'n' : 'N'}earest: ${listed}`;
  return {
    code: 'no-match',
    message:
      `no registry entry matches ${describeJson(query, 200)}; ${guess}${where}. ` +
      'Fix the query, add a registry entry, or give a "backend" to use the query as it is.',
    nearest,
    suggestion,
  };
}

/** What happens when no entry matched: the query as it is when it names a backend, else the no-match error. */
export function unmatchedResult(query: JsonObject, index: RegistryIndex): LookupResult {
  if (namedBackend(query) === null) return { ok: false, error: noMatchError(query, index) };
  const spec = copyJsonObject(query);
  return {
    ok: true,
    spec,
    finalSpec: finalizeSpec(spec),
    match: null,
    provenance: {
      file: null,
      lookupSource: null,
      index: null,
      fromQuery: Object.keys(spec).map((key) => formatPath([key])),
      fromEntry: [],
      bindings: {},
    },
  };
}

/**
 * The first entry, in priority order, that unifies with a query (after special names), or null. Only the index's
 * candidates are tried, in the same order as a linear scan, so the match is the one a scan would find.
 */
function firstMatch(query: JsonObject, index: RegistryIndex): Match | null {
  const probes = probesOf(query);
  // A query of concrete scalars only (a name, perhaps a backend: most of them) takes unify's one-pass case.
  const flat = probes.length === Object.keys(query).length;
  const entries = index.entries;
  const lists = candidateLists(index, query);
  if (lists === null) {
    for (const sourced of entries) {
      const result = tryEntry(query, probes, flat, sourced.entry);
      if (result !== null) return { sourced, result };
    }
    return null;
  }
  const [named, wildcards] = lists;
  let namedAt = 0;
  let wildcardAt = 0;
  while (namedAt < named.length || wildcardAt < wildcards.length) {
    const nextNamed = named[namedAt] ?? Number.MAX_SAFE_INTEGER;
    const nextWildcard = wildcards[wildcardAt] ?? Number.MAX_SAFE_INTEGER;
    let position: number;
    if (nextNamed < nextWildcard) {
      position = nextNamed;
      namedAt++;
    } else {
      position = nextWildcard;
      wildcardAt++;
    }
    const sourced = entries[position];
    if (sourced === undefined) continue;
    const result = tryEntry(query, probes, flat, sourced.entry);
    if (result !== null) return { sourced, result };
  }
  return null;
}

/** Resolves a query: special names first, then the first entry (in priority order) that unifies with it. */
export function lookup(query: JsonObject, index: RegistryIndex): LookupResult {
  const effective = applySpecialNames(query);
  const found = firstMatch(effective, index);
  return found === null ? unmatchedResult(effective, index) : matchedResult(effective, found.sourced, found.result);
}

/**
 * What {@link lookup} resolves a query to, as its user-facing spec and the entry (or the same error), for batches such as
 * `resolve --queries`: no provenance is worked out (a fifth of a lookup's cost) and no result object built.
 */
export function lookupFinalSpec(
  query: JsonObject,
  index: RegistryIndex,
): { ok: true; finalSpec: JsonObject; match: SourcedEntry | null } | { ok: false; error: NoMatchError } {
  const effective = applySpecialNames(query);
  const found = firstMatch(effective, index);
  if (found !== null) return { ok: true, finalSpec: finalizeSpec(found.result.value), match: found.sourced };
  const unmatched = unmatchedResult(effective, index);
  return unmatched.ok ? { ok: true, finalSpec: unmatched.finalSpec, match: null } : unmatched;
}
