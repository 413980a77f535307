/**
 * How fast a query resolves against registries of 100, 1,000 and 10,000 entries, with the name index and without it
 * (a linear scan over the same lookup code), measured in the same run so that the ratio is the figure to read.
 *
 * Run: npx tsx bench/resolve.ts
 */
import { pathToFileURL } from 'node:url';
import type { JsonObject } from '../src-shared/json.js';
import { seededRandom } from '../src-shared/random.js';
import {
  createRegistryIndex,
  lookup,
  tagEntry,
  type RegistryIndex,
  type SourcedEntry,
} from '../src-shared/spec/lookup.js';

/** The kinds of query measured: a registry name, a name with a backend, a name only the catch-all entry matches. */
export type QueryKind = 'name' | 'name+backend' | 'unknown name';

/** One measured cell: a registry size, a query kind, with or without the index. */
export interface ResolveMeasurement {
  entries: number;
  query: QueryKind;
  mode: 'indexed' | 'linear';
  /** Lookups per second over a loop of the query set. */
  lookupsPerSecond: number;
  /** Median latency of one lookup, in microseconds (includes about 0.05 µs of timer overhead). */
  p50Microseconds: number;
  /** 99th percentile latency of one lookup, in microseconds. */
  p99Microseconds: number;
}

/** Everything one run measured, and the headline: how many times faster indexed lookups are than a linear scan. */
export interface ResolveBenchResult {
  measurements: ResolveMeasurement[];
  /** indexed lookups per second / linear lookups per second, by registry size and query kind. */
  ratios: { entries: number; query: QueryKind; ratio: number }[];
  headline: string;
}

const sizes = [100, 1_000, 10_000];
const queryKinds: QueryKind[] = ['name', 'name+backend', 'unknown name'];
const backends = ['openai', 'openai_compatible', 'llamacpp', 'anthropic', 'huggingface_local'];
/** Time spent per measured cell; 18 cells keep the whole run well under 20 s even on a slow machine. */
const throughputBudgetMs = 250;
const latencyBudgetMs = 150;
const warmupMs = 60;

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)] as T;
}

/**
 * Registry entries like a real stack's: about a fifth of the names repeat with another backend; three wildcard
 * entries with variables near the end (the catch-all for local servers among them).
 */
export function buildRegistrySpecs(size: number, random: () => number): JsonObject[] {
  const specs: JsonObject[] = [];
  const distinctNames = Math.max(1, Math.floor(size * 0.8));
  for (let position = 0; position < size - 3; position++) {
    const name = `model-${Math.floor(random() * distinctNames)}`;
    const backend = pick(backends, random);
    const spec: JsonObject = {
      model_name: name,
      backend,
      model_id: `${name}-${backend}`,
      open_weight: random() < 0.5,
      context_size: pick(['8k', '32k', '128k'], random),
    };
    if (random() < 0.3) spec['model_config'] = { temperature: 0, eos_to_cull: '<|eot_id|>' };
    if (backend === 'openai_compatible') spec['base_url'] = 'http://127.0.0.1:8080/v1';
    specs.push(spec);
  }
  specs.splice(size - 10, 0, {
    model_name: '?m',
    backend: 'openai_compatible',
    model_id: '?m',
    base_url: 'http://127.0.0.1:8080/v1',
  });
  specs.splice(size - 6, 0, { model_name: '?m', backend: 'llamacpp', model_path: '?m' });
  specs.push({ backend: 'human', model_name: '?m' });
  return specs;
}

/** {@link buildRegistrySpecs} as a stack: the first tenth from a user file, the rest from the official one. */
export function buildRegistry(size: number, random: () => number): SourcedEntry[] {
  const userCount = Math.floor(size / 10);
  return buildRegistrySpecs(size, random).map((spec, position) => {
    const user = position < userCount;
    const lookupSource = user ? 'user' : 'official';
    return {
      entry: tagEntry(spec, lookupSource),
      file: user ? '~/.config/clemplay/model_registry.json' : 'registry/model_registry.json',
      lookupSource,
      index: user ? position : position - userCount,
    };
  });
}

export function buildQueries(
  entries: readonly SourcedEntry[],
  kind: QueryKind,
  random: () => number,
  count = 500,
): JsonObject[] {
  const named = entries.filter(
    (sourced) =>
      typeof sourced.entry['model_name'] === 'string' && !String(sourced.entry['model_name']).startsWith('?'),
  );
  const queries: JsonObject[] = [];
  for (let made = 0; made < count; made++) {
    const sourced = pick(named, random);
    if (kind === 'name') queries.push({ model_name: sourced.entry['model_name'] ?? null });
    else if (kind === 'name+backend') {
      queries.push({ model_name: sourced.entry['model_name'] ?? null, backend: sourced.entry['backend'] ?? null });
    } else queries.push({ model_name: `local-model-${made}` });
  }
  return queries;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

/** The number of matches; returned so that the engine cannot drop the lookups as unused. */
function runFor(
  queries: readonly JsonObject[],
  index: RegistryIndex,
  milliseconds: number,
): { lookups: number; matches: number } {
  let lookups = 0;
  let matches = 0;
  const started = performance.now();
  let position = 0;
  // Checking the clock every 64 lookups keeps its cost out of the sub-microsecond indexed figures.
  while (performance.now() - started < milliseconds) {
    for (let step = 0; step < 64; step++) {
      if (lookup(queries[position] as JsonObject, index).ok) matches++;
      position = (position + 1) % queries.length;
      lookups++;
    }
  }
  return { lookups, matches };
}

function measure(
  entries: number,
  query: QueryKind,
  mode: 'indexed' | 'linear',
  queries: readonly JsonObject[],
  index: RegistryIndex,
): ResolveMeasurement {
  runFor(queries, index, warmupMs);
  const started = performance.now();
  const { lookups } = runFor(queries, index, throughputBudgetMs);
  const elapsedSeconds = (performance.now() - started) / 1000;
  const latencies: number[] = [];
  const latencyStarted = performance.now();
  let position = 0;
  while (performance.now() - latencyStarted < latencyBudgetMs && latencies.length < 20_000) {
    const before = process.hrtime.bigint();
    lookup(queries[position] as JsonObject, index);
    latencies.push(Number(process.hrtime.bigint() - before) / 1000);
    position = (position + 1) % queries.length;
  }
  latencies.sort((left, right) => left - right);
  return {
    entries,
    query,
    mode,
    lookupsPerSecond: lookups / elapsedSeconds,
    p50Microseconds: percentile(latencies, 0.5),
    p99Microseconds: percentile(latencies, 0.99),
  };
}

function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function microseconds(value: number): string {
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

/** Builds the registries, checks that index and scan agree, measures every cell and prints a table. */
export async function main(): Promise<ResolveBenchResult> {
  const measurements: ResolveMeasurement[] = [];
  const ratios: ResolveBenchResult['ratios'] = [];
  const random = seededRandom(20_240_501);
  for (const size of sizes) {
    const entries = buildRegistry(size, random);
    const indexed = createRegistryIndex(entries);
    const linear = createRegistryIndex(entries, { indexed: false });
    for (const kind of queryKinds) {
      const queries = buildQueries(entries, kind, random);
      for (const query of queries) {
        const fast = lookup(query, indexed);
        const slow = lookup(query, linear);
        if (!fast.ok || !slow.ok || fast.match !== slow.match) {
          throw new Error(`index and scan disagree on ${JSON.stringify(query)} (size ${size})`);
        }
      }
      const withIndex = measure(size, kind, 'indexed', queries, indexed);
      const withoutIndex = measure(size, kind, 'linear', queries, linear);
      measurements.push(withIndex, withoutIndex);
      ratios.push({ entries: size, query: kind, ratio: withIndex.lookupsPerSecond / withoutIndex.lookupsPerSecond });
    }
  }

  const header = [
    'entries'.padStart(7),
    'query'.padEnd(13),
    'indexed/s'.padStart(11),
    'p50 µs'.padStart(8),
    'p99 µs'.padStart(8),
    'linear/s'.padStart(11),
    'p50 µs'.padStart(8),
    'p99 µs'.padStart(8),
    'indexed/linear'.padStart(15),
  ].join('  ');
  const lines = [header, '-'.repeat(header.length)];
  for (const { entries, query, ratio } of ratios) {
    const withIndex = measurements.find(
      (cell) => cell.entries === entries && cell.query === query && cell.mode === 'indexed',
    );
    const withoutIndex = measurements.find(
      (cell) => cell.entries === entries && cell.query === query && cell.mode === 'linear',
    );
    if (withIndex === undefined || withoutIndex === undefined) continue;
    lines.push(
      [
        formatNumber(entries).padStart(7),
        query.padEnd(13),
        formatNumber(withIndex.lookupsPerSecond).padStart(11),
        microseconds(withIndex.p50Microseconds).padStart(8),
        microseconds(withIndex.p99Microseconds).padStart(8),
        formatNumber(withoutIndex.lookupsPerSecond).padStart(11),
        microseconds(withoutIndex.p50Microseconds).padStart(8),
        microseconds(withoutIndex.p99Microseconds).padStart(8),
        `${formatNumber(ratio, 1)}×`.padStart(15),
      ].join('  '),
    );
  }
  const largest = ratios.filter((row) => row.entries === sizes[sizes.length - 1]);
  const headline =
    `resolve, 10,000 entries: indexed lookups are ` +
    largest.map((row) => `${formatNumber(row.ratio, 0)}× (${row.query})`).join(', ') +
    ' faster than a linear scan';
  console.log(`${lines.join('\n')}\n\n${headline}`);
  return { measurements, ratios, headline };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
