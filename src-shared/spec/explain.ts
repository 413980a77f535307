import type { JsonObject, JsonValue } from '../json.js';
import { describeJson, ownValue } from './json-tools.js';
import type { LookupResult, Provenance } from './lookup.js';
import {
  applySpecialNames,
  describeConflict,
  entryLabel,
  entryPlace,
  matchedResult,
  unmatchedResult,
} from './lookup.js';
import type { RegistryIndex, SourcedEntry } from './registry-index.js';
import { isCandidate, plainSourcedEntry } from './registry-index.js';
import type { UnifySuccess } from './unify.js';
import { unify } from './unify.js';

/** What identifies an entry in an explanation. */
interface VerdictOrigin {
  file: string;
  /** Position of the entry in its file. */
  index: number;
  lookupSource: string;
  /** The entry's `model_name`, null when it has none. */
  model_name: JsonValue | null;
}

/** One entry's verdict for a query: it unifies, or the first conflict (path and both values) that stops it. */
export type EntryVerdict = VerdictOrigin &
  ({ matched: true } | { matched: false; path: string; left: JsonValue; right: JsonValue; reason: string });

/** Why a query resolved as it did: every entry's verdict in priority order, the winner, and the outcome. */
export interface Explanation {
  /** The query as given. */
  query: JsonObject;
  /** The query after special names (what was unified with the entries). */
  effectiveQuery: JsonObject;
  /** One verdict per registry entry, in priority order. */
  verdicts: EntryVerdict[];
  /** Position in `verdicts` of the winning entry (the first that matched), or null. */
  winner: number | null;
  /** Variables bound by the winning match; empty without one. */
  bindings: Record<string, JsonValue>;
  /** Provenance of the result; null on no-match. */
  provenance: Provenance | null;
  /** The same result {@link lookup} gives: the resolved spec, or the no-match error. */
  result: LookupResult;
}

/**
 * Explains a lookup by trying every entry, not only the index's candidates; an entry the index would skip is reported
 * as the `model_name` conflict that makes the index skip it.
 */
export function explain(query: JsonObject, index: RegistryIndex): Explanation {
  const effectiveQuery = applySpecialNames(query);
  const verdicts: EntryVerdict[] = [];
  let winner: { position: number; sourced: SourcedEntry; unified: UnifySuccess } | null = null;
  for (let position = 0; position < index.entries.length; position++) {
    const sourced = index.entries[position];
    if (sourced === undefined) continue;
    const origin: VerdictOrigin = {
      file: sourced.file,
      index: sourced.index,
      lookupSource: sourced.lookupSource,
      model_name: ownValue(sourced.entry, 'model_name') ?? null,
    };
    if (!isCandidate(index, effectiveQuery, position)) {
      verdicts.push({
        ...origin,
        matched: false,
        path: 'model_name',
        left: ownValue(effectiveQuery, 'model_name') ?? null,
        right: origin.model_name,
        reason: 'different values',
      });
      continue;
    }
    const unified = unify(effectiveQuery, sourced.entry);
    if (unified.ok) {
      verdicts.push({ ...origin, matched: true });
      winner ??= { position, sourced, unified };
    } else {
      verdicts.push({
        ...origin,
        matched: false,
        path: unified.path,
        left: unified.left,
        right: unified.right,
        reason: unified.reason,
      });
    }
  }
  // The winner as a plain object: the index may hold entries tagged when first read (LazilyTaggedEntry), and the
  // copy that redacts secrets from an explanation copies own fields, where such an entry keeps `entry` in a getter.
  const result = winner
    ? matchedResult(effectiveQuery, plainSourcedEntry(winner.sourced), winner.unified)
    : unmatchedResult(effectiveQuery, index);
  return {
    query,
    effectiveQuery,
    verdicts,
    winner: winner?.position ?? null,
    bindings: result.ok ? result.provenance.bindings : {},
    provenance: result.ok ? result.provenance : null,
    result,
  };
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

/** An explanation as text for the CLI: one line per entry, then the result and where its keys came from. */
export function formatExplanation(explanation: Explanation): string {
  const lines: string[] = [`query ${describeJson(explanation.query, 200)}`];
  if (explanation.effectiveQuery !== explanation.query) {
    lines.push(`  read as ${describeJson(explanation.effectiveQuery, 200)} (special model name)`);
  }
  lines.push(`entries (${explanation.verdicts.length}):`);
  explanation.verdicts.forEach((verdict, position) => {
    const label = `${entryPlace(verdict.lookupSource, verdict.index)} ${entryLabel(verdict.model_name)}`;
    if (verdict.matched) lines.push(`  ✓ ${label}${position === explanation.winner ? '  ← wins' : ''}`);
    else lines.push(`  ✗ ${label}: ${describeConflict(verdict)}`);
  });
  const result = explanation.result;
  if (!result.ok) {
    lines.push(`no match: ${result.error.message}`);
    return lines.join('\n');
  }
  const provenance = result.provenance;
  if (result.match === null) {
    lines.push('result: no entry matched; the query names a backend, so it is used as it is');
  } else {
    lines.push(`result: ${entryPlace(result.match.lookupSource, result.match.index)} (${result.match.file})`);
  }
  lines.push(indent(JSON.stringify(result.finalSpec, null, 2), '  '));
  const bindings = Object.entries(provenance.bindings);
  if (bindings.length > 0) {
    lines.push(`bindings: ${bindings.map(([variable, value]) => `${variable} = ${describeJson(value)}`).join(', ')}`);
  }
  lines.push(`keys from query: ${provenance.fromQuery.join(', ') || '(none)'}`);
  lines.push(`keys from entry: ${provenance.fromEntry.join(', ') || '(none)'}`);
  return lines.join('\n');
}
