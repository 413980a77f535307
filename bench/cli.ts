/**
 * The CLI as a person or a script meets it: whole processes, start-up included.
 *
 * 1. Start-up: `clemplay --version`, `--help`, `models` and `resolve gpt-4o --json` against `node -e 0`, the least
 *    any Node program costs. Runs interleave (so that other load on the machine hits every command alike); medians.
 * 2. `clemplay resolve --queries` with 2,000 queries against registries of 100, 1,000 and 10,000 entries, whole
 *    process, against resolving the same queries one by one with a linear scan in this process (no process start,
 *    registry already parsed): our own lookup without its name index (bench/resolve's baseline), and clemcore's way —
 *    every entry in order fully unified with the query until one unifies, as clemcore's lookup does — in TypeScript
 *    with our unifier, and, where Python with nltk is installed (Debian: python3-nltk), clemcore's own lookup with
 *    nltk's unification, its spec objects and the error it raises and catches per entry that does not unify
 *    (bench/clemcore-lookup.py: the baseline the aims were set against), and nltk's unify alone. Slow scans are
 *    timed on an even sample of the queries and scaled to 2,000. Every answer of the CLI is first checked against
 *    the linear scan's.
 *
 * Run: npx tsx bench/cli.ts (the CLI runs from out/: `npm run build` first).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JsonObject } from '../src-shared/json.js';
import { createRegistryIndex, lookupFinalSpec, tagEntry, type SourcedEntry } from '../src-shared/spec/lookup.js';
import { parseQuery } from '../src-shared/spec/parse-query.js';
import { finalizeSpec, unify } from '../src-shared/spec/unify.js';
import { findAppRoot } from '../src-main/paths.js';
import { seededRandom } from '../src-shared/random.js';
import { buildQueries, buildRegistrySpecs } from './resolve.js';

/** One command's start-up, whole process. */
export interface StartupMeasurement {
  command: string;
  medianMs: number;
  minimumMs: number;
  /** median ÷ the median of `node -e 0`. */
  ratio: number;
}

/** `resolve --queries` at one registry size. */
export interface QueriesMeasurement {
  entries: number;
  queries: number;
  /** The whole `clemplay resolve --queries` process (median). */
  processMs: number;
  /** The same queries resolved one by one with our lookup, unindexed, in this process. */
  linearMs: number;
  /** The same queries the clemcore way (scaled from `clemcoreSample` queries where that is fewer). */
  clemcoreStyleMs: number;
  clemcoreSample: number;
  /** linearMs ÷ processMs. */
  linearRatio: number;
  /** clemcoreStyleMs ÷ processMs. */
  clemcoreRatio: number;
  /**
   * clemcore's lookup with nltk in Python (its spec objects and errors included), scaled to all queries, and nltk's
   * unification alone over the same entries; null where nltk is not installed.
   */
  nltk: { ms: number; unifyMs: number; sample: number; ratio: number; unifyRatio: number } | null;
}

/** What `npm run bench` prints for this benchmark. */
export interface CliBenchResult {
  startup: StartupMeasurement[];
  queries: QueriesMeasurement[];
  headline: string;
}

const startupRuns = 21;
const queriesRuns = 7;
const queryCount = 2_000;
/** The clemcore-style scan of a large registry takes minutes for all queries: time this many, scale the rest. */
const clemcoreSampleAtLarge = 100;

const root = findAppRoot();
const bin = join(root, 'bin', 'clemplay.mjs');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** A folder with no model_registry.json and an empty config folder: the stack is the official registry. */
function cleanEnvironment(): { cwd: string; env: NodeJS.ProcessEnv } {
  const folder = mkdtempSync(join(tmpdir(), 'clemplay-bench-cli-'));
  return { cwd: folder, env: { ...process.env, XDG_CONFIG_HOME: join(folder, 'config') } };
}

/** Runs a command to the end; its wall time in milliseconds. */
function timeRun(command: string, args: readonly string[], where: { cwd: string; env: NodeJS.ProcessEnv }): number {
  const started = performance.now();
  const result = spawnSync(command, args, { ...where, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return elapsed;
}

function measureStartup(): StartupMeasurement[] {
  const where = cleanEnvironment();
  const commands: [string, string[]][] = [
    ['node -e 0', ['-e', '0']],
    ['clemplay --version', [bin, '--version']],
    ['clemplay --help', [bin, '--help']],
    ['clemplay models', [bin, 'models']],
    ['clemplay resolve gpt-4o --json', [bin, 'resolve', 'gpt-4o', '--json']],
  ];
  const times = commands.map(() => [] as number[]);
  for (const [, args] of commands) timeRun(process.execPath, args, where);
  for (let run = 0; run < startupRuns; run += 1) {
    for (const [index, [, args]] of commands.entries()) times[index]?.push(timeRun(process.execPath, args, where));
  }
  const baseline = median(times[0] ?? []);
  return commands.map(([command], index) => ({
    command,
    medianMs: median(times[index] ?? []),
    minimumMs: Math.min(...(times[index] ?? [])),
    ratio: median(times[index] ?? []) / baseline,
  }));
}

/** clemcore's lookup: each entry in order, fully unified with the query, until one unifies (no index, no probes). */
function clemcoreStyleLookup(query: JsonObject, entries: readonly SourcedEntry[]): JsonObject | null {
  for (const sourced of entries) {
    const result = unify(query, sourced.entry);
    if (result.ok) return finalizeSpec(result.value);
  }
  return null;
}

/** A Python that has nltk, or null. */
function findNltkPython(): string | null {
  for (const python of ['python3', '/usr/bin/python3']) {
    if (spawnSync(python, ['-c', 'import nltk'], { stdio: 'ignore' }).status === 0) return python;
  }
  return null;
}

const nltkPython = findNltkPython();
/** Every how many queries nltk's scan is timed: 100–200 queries, seconds to half a minute of Python per size. */
const nltkStep: Readonly<Record<number, number>> = { 100: 10, 1000: 20, 10000: 20 };

/**
 * clemcore's lookup with nltk over the same files (bench/clemcore-lookup.py), and nltk's unification alone, scaled to
 * all the queries; the ratios are filled in by the caller.
 */
function measureNltk(registryFile: string, queriesFile: string, entries: number): QueriesMeasurement['nltk'] {
  if (nltkPython === null) return null;
  const step = nltkStep[entries] ?? 20;
  const script = join(root, 'bench', 'clemcore-lookup.py');
  const result = spawnSync(nltkPython, [script, registryFile, queriesFile, String(step)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`clemcore-lookup.py failed: ${result.stderr}`);
  const timed = JSON.parse(result.stdout) as { seconds: number; unify_seconds: number; timed: number; matched: number };
  if (timed.matched !== timed.timed) throw new Error(`nltk matched ${timed.matched} of ${timed.timed} queries`);
  const scaled = (seconds: number): number => ((seconds * 1000) / timed.timed) * queryCount;
  return {
    ms: scaled(timed.seconds),
    unifyMs: scaled(timed.unify_seconds),
    sample: timed.timed,
    ratio: 0,
    unifyRatio: 0,
  };
}

function measureQueries(entries: number): QueriesMeasurement {
  const random = seededRandom(20_261_129 + entries);
  const specs = buildRegistrySpecs(entries, random);
  const folder = mkdtempSync(join(tmpdir(), 'clemplay-bench-queries-'));
  const registryFile = join(folder, 'model_registry.json');
  writeFileSync(registryFile, `${JSON.stringify(specs, null, 2)}\n`);
  const sourced: SourcedEntry[] = specs.map((spec, index) => ({
    entry: tagEntry(spec, registryFile),
    file: registryFile,
    lookupSource: registryFile,
    index,
  }));
  // Mostly names, some with a backend, a fifth that only the catch-all matches (scanned to the end).
  const queries = [
    ...buildQueries(sourced, 'name', random, queryCount / 2),
    ...buildQueries(sourced, 'name+backend', random, (queryCount * 3) / 10),
    ...buildQueries(sourced, 'unknown name', random, queryCount / 5),
  ];
  const lines = queries.map((query) => JSON.stringify(query));
  const queriesFile = join(folder, 'queries.txt');
  writeFileSync(queriesFile, `${lines.join('\n')}\n`);

  // The CLI's answers first: each must be what the linear scan resolves.
  const args = [bin, 'resolve', '--queries', queriesFile, '--registry', registryFile];
  const where = cleanEnvironment();
  const answer = spawnSync(process.execPath, args, { ...where, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  const answers = answer.stdout.trimEnd().split('\n');
  const linearIndex = createRegistryIndex(sourced, { indexed: false });
  const resolveLinear = (line: string): JsonObject | null => {
    const parsed = parseQuery(line);
    if (!parsed.ok) return null;
    // The spec alone, as the CLI's batch resolves it (no provenance): the same work, without the index.
    const result = lookupFinalSpec(parsed.query, linearIndex);
    return result.ok ? result.finalSpec : null;
  };
  for (const [index, line] of lines.entries()) {
    if (answers[index] !== JSON.stringify(resolveLinear(line))) {
      throw new Error(`query ${index} (${line}): the CLI said ${answers[index]}, the linear scan otherwise`);
    }
  }

  const processTimes: number[] = [];
  for (let run = 0; run < queriesRuns; run += 1) processTimes.push(timeRun(process.execPath, args, where));

  // Warm the baselines up as a long-running process would be, then time every query (one pass, in order).
  for (const line of lines.slice(0, 50)) resolveLinear(line);
  let started = performance.now();
  for (const line of lines) resolveLinear(line);
  const linearMs = performance.now() - started;

  const sample = entries >= 10_000 ? clemcoreSampleAtLarge : queryCount;
  const parsedQueries = lines.map((line) => {
    const parsed = parseQuery(line);
    if (!parsed.ok) throw new Error(`bench query does not parse: ${line}`);
    return parsed.query;
  });
  for (const query of parsedQueries.slice(0, 5)) clemcoreStyleLookup(query, sourced);
  // An even spread of the query kinds: every `step`-th query.
  const step = queryCount / sample;
  started = performance.now();
  for (let index = 0; index < queryCount; index += step)
    clemcoreStyleLookup(parsedQueries[index] as JsonObject, sourced);
  const clemcoreStyleMs = ((performance.now() - started) * queryCount) / sample;

  const processMs = median(processTimes);
  const nltk = measureNltk(registryFile, queriesFile, entries);
  return {
    nltk: nltk === null ? null : { ...nltk, ratio: nltk.ms / processMs, unifyRatio: nltk.unifyMs / processMs },
    entries,
    queries: queryCount,
    processMs,
    linearMs,
    clemcoreStyleMs,
    clemcoreSample: sample,
    linearRatio: linearMs / processMs,
    clemcoreRatio: clemcoreStyleMs / processMs,
  };
}

export async function main(): Promise<CliBenchResult> {
  const startup = measureStartup();
  console.log('start-up, whole process (median of %d interleaved runs):', startupRuns);
  for (const row of startup) {
    console.log(
      `  ${row.command.padEnd(31)} ${row.medianMs.toFixed(1).padStart(7)} ms  (min ${row.minimumMs.toFixed(1)})  ` +
        `${row.ratio.toFixed(2)}× node -e 0`,
    );
  }
  const queries = [100, 1_000, 10_000].map(measureQueries);
  console.log(
    `\nresolve --queries, ${queryCount} queries, whole process (median of ${queriesRuns}) vs one-by-one scans:`,
  );
  console.log(
    '  entries  clemplay ms  linear scan ms  clemcore-style ms  clemcore+nltk ms  nltk unify ms   ÷ linear  ' +
      '÷ clemcore-style  ÷ clemcore+nltk  ÷ nltk unify',
  );
  for (const row of queries) {
    const nltkMs = row.nltk === null ? 'not installed' : `${row.nltk.ms.toFixed(0)} (${row.nltk.sample} timed)`;
    const unifyMs = row.nltk === null ? '–' : row.nltk.unifyMs.toFixed(0);
    const nltkRatio = row.nltk === null ? '–' : `${row.nltk.ratio.toFixed(0)}×`;
    const unifyRatio = row.nltk === null ? '–' : `${row.nltk.unifyRatio.toFixed(0)}×`;
    console.log(
      `  ${row.entries.toLocaleString('en-US').padStart(7)}  ${row.processMs.toFixed(0).padStart(11)}  ` +
        `${row.linearMs.toFixed(0).padStart(14)}  ${row.clemcoreStyleMs.toFixed(0).padStart(17)}  ` +
        `${nltkMs.padStart(16)}  ${unifyMs.padStart(13)}  ${row.linearRatio.toFixed(1).padStart(8)}×  ` +
        `${row.clemcoreRatio.toFixed(0).padStart(15)}×  ${nltkRatio.padStart(15)}  ${unifyRatio.padStart(12)}`,
    );
  }
  if (nltkPython === null) console.log('  (for the nltk column: apt-get install python3-nltk)');
  const version = startup.find((row) => row.command === 'clemplay --version');
  const resolve = startup.find((row) => row.command.startsWith('clemplay resolve'));
  const largest = queries.at(-1);
  const headline =
    `--version ${version?.ratio.toFixed(2)}× node -e 0 (aim ≤ 1.5), resolve --json ${resolve?.ratio.toFixed(2)}× ` +
    `(aim ≤ 2); resolve --queries at 10,000 entries: ` +
    (largest?.nltk
      ? `${largest.nltk.ratio.toFixed(0)}× clemcore's nltk lookup (aim ≥ 1,000; ` +
        `${largest.nltk.unifyRatio.toFixed(0)}× nltk's unify alone), `
      : '') +
    `${largest?.clemcoreRatio.toFixed(0)}× a clemcore-style scan in TypeScript, ` +
    `${largest?.linearRatio.toFixed(1)}× our unindexed scan`;
  console.log(`\n${headline}`);
  return { startup, queries, headline };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
