/**
 * Is the game engine ever what a model waits on? Episodes per second with programmatic players, three ways, in the
 * same run:
 *
 * 1. players alone (the baseline): the rule-based players answer the very histories they get in the episodes, with
 *    no game master, no record and no scores;
 * 2. in process: the runner's episode loop (game master, each player's own history, the record, the scores), the
 *    players called directly, nothing written;
 * 3. through `clemplay run` with results written: a child process plays an instance file of many episodes; the rate
 *    after start-up is (N − 1) / (time for N − time for 1).
 *
 * Figures: in process ÷ players alone (what the engine costs on top of the players), and `clemplay run` ÷ in process
 * (what writing the results costs). Aim: over 1,000 taboo episodes/s in process.
 *
 * Run: npx tsx bench/games.ts  (the `clemplay run` part needs the build: npm run build)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChatMessage } from '../src-shared/chat.js';
import type { InstanceFile } from '../src-shared/games/game.js';
import { scoreEpisode } from '../src-shared/games/scores.js';
import { createGameResources, defaultInstancesPath } from '../src-main/games/game-files.js';
import {
  planRun,
  playEpisode,
  recorderFor,
  type EpisodeRef,
  type GamePlan,
  type RunPlan,
} from '../src-main/games/runner.js';
import { findAppRoot } from '../src-main/paths.js';
import { createTestServices } from '../src-main/testing/services.js';

const games = ['taboo', 'wordle', 'wordle_withclue', 'wordle_withcritic'] as const;
/** How long each in-process measurement runs, at least (whole passes over the instances). */
const measureMs = 1500;
/** Episodes in the instance file `clemplay run` plays. */
const cliEpisodes = 600;
const cliRuns = 3;

/** One game's figures. */
export interface GameMeasurement {
  game: string;
  playersAlonePerSecond: number;
  inProcessPerSecond: number;
  /** Episodes/s of `clemplay run` after start-up (null where not measured). */
  cliPerSecond: number | null;
  /** Milliseconds `clemplay run` takes for one episode: start-up, planning, one episode, the scores table. */
  cliStartupMs: number | null;
}

/** What `npm run bench` prints for this benchmark. */
export interface GamesBenchResult {
  measurements: GameMeasurement[];
  headline: string;
}

const never = new AbortController().signal;

function refOf(gamePlan: GamePlan, index: number): EpisodeRef {
  const job = gamePlan.episodes[index]!;
  return {
    game: gamePlan.game.name,
    experiment: job.plan.experiment.name,
    game_id: job.plan.instance.game_id,
    models: gamePlan.modelsFolder,
  };
}

/** Plays every episode of the plan once; returns each player call (role and history) per episode. */
async function pass(plan: RunPlan, gamePlan: GamePlan): Promise<{ role: number; history: ChatMessage[] }[][]> {
  const calls: { role: number; history: ChatMessage[] }[][] = [];
  for (let index = 0; index < gamePlan.episodes.length; index += 1) {
    const job = gamePlan.episodes[index]!;
    const recorder = recorderFor(gamePlan, job, 'bench');
    const requests = await playEpisode(plan, gamePlan, job, recorder, refOf(gamePlan, index), never, undefined);
    scoreEpisode(recorder.interactions, gamePlan.game.scoring);
    calls.push(
      requests.map((request) => ({
        role: Number(request.raw_response_obj.clem_player.player.replace('Player ', '')) - 1,
        history: request.manipulated_prompt_obj,
      })),
    );
  }
  return calls;
}

async function perSecond(work: () => Promise<number> | number): Promise<number> {
  let episodes = 0;
  const start = performance.now();
  while (performance.now() - start < measureMs) episodes += await work();
  return (episodes / (performance.now() - start)) * 1000;
}

function cliSeconds(root: string, game: string, file: string): number {
  const results = mkdtempSync(join(tmpdir(), 'clemplay-bench-results-'));
  const start = performance.now();
  const child = spawnSync(
    process.execPath,
    [
      join(root, 'bin', 'clemplay.mjs'),
      'run',
      '-g',
      game,
      '-m',
      'programmatic',
      '--instances',
      file,
      '--results',
      results,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const seconds = (performance.now() - start) / 1000;
  rmSync(results, { recursive: true, force: true });
  if (child.status !== 0) throw new Error(`clemplay run failed (${child.status}): ${child.stderr.slice(-500)}`);
  return seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** An instance file of `count` episodes: the game's own instances, repeated with new ids, in one experiment. */
function bigInstanceFile(root: string, game: string, count: number, directory: string): string {
  const own = JSON.parse(readFileSync(defaultInstancesPath(root, game), 'utf8')) as InstanceFile;
  const instances = own.experiments.flatMap((experiment) =>
    experiment.game_instances.map((instance) => ({ experiment, instance })),
  );
  const experiment = instances[0]!.experiment;
  const file = join(directory, `${game}-${count}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      experiments: [
        {
          ...experiment,
          name: 'bench',
          game_instances: Array.from({ length: count }, (_, id) => ({
            ...instances[id % instances.length]!.instance,
            game_id: id,
          })),
        },
      ],
    }),
  );
  return file;
}

export async function main(): Promise<GamesBenchResult> {
  const root = findAppRoot();
  const services = await createTestServices();
  const resources = createGameResources();
  const scratch = mkdtempSync(join(tmpdir(), 'clemplay-bench-games-'));
  const built = existsSync(join(root, 'out', 'main', 'cli.js'));
  const measurements: GameMeasurement[] = [];
  try {
    for (const game of games) {
      const plan = await planRun(services, { games: [game], models: ['programmatic'], resultsDir: scratch }, resources);
      const gamePlan = plan.games[0]!;
      // Record what each player is asked; each measurement runs once untimed first (word lists, indexes, the JIT).
      const calls = await pass(plan, gamePlan);
      const inProcess = async (): Promise<number> => (await pass(plan, gamePlan)).length;
      const playersAlone = (): number => {
        calls.forEach((episode, index) => {
          const prepared = gamePlan.episodes[index]!.plan.prepared;
          const players = gamePlan.game.roles.map((_role, role) => prepared.ruleBasedPlayer(role));
          for (const call of episode) players[call.role]!.respond(call.history);
        });
        return calls.length;
      };
      await perSecond(inProcess);
      await perSecond(playersAlone);
      const inProcessPerSecond = await perSecond(inProcess);
      const playersAlonePerSecond = await perSecond(playersAlone);
      let cliPerSecond: number | null = null;
      let cliStartupMs: number | null = null;
      if (built && (game === 'taboo' || game === 'wordle')) {
        const one = bigInstanceFile(root, game, 1, scratch);
        const many = bigInstanceFile(root, game, cliEpisodes, scratch);
        const startup = median(Array.from({ length: cliRuns }, () => cliSeconds(root, game, one)));
        const whole = median(Array.from({ length: cliRuns }, () => cliSeconds(root, game, many)));
        cliStartupMs = startup * 1000;
        cliPerSecond = (cliEpisodes - 1) / (whole - startup);
      }
      measurements.push({ game, playersAlonePerSecond, inProcessPerSecond, cliPerSecond, cliStartupMs });
    }
  } finally {
    await services.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }

  const rate = (value: number | null): string => (value === null ? '–' : Math.round(value).toLocaleString('en-US'));
  console.log(
    [
      'game'.padEnd(18),
      'players alone/s'.padStart(16),
      'in process/s'.padStart(13),
      'engine ratio'.padStart(13),
      'clemplay run/s'.padStart(15),
      'run / in process'.padStart(17),
      'run start-up ms'.padStart(16),
    ].join(' '),
  );
  for (const m of measurements) {
    console.log(
      [
        m.game.padEnd(18),
        rate(m.playersAlonePerSecond).padStart(16),
        rate(m.inProcessPerSecond).padStart(13),
        (m.inProcessPerSecond / m.playersAlonePerSecond).toFixed(2).padStart(13),
        rate(m.cliPerSecond).padStart(15),
        (m.cliPerSecond === null ? '–' : (m.cliPerSecond / m.inProcessPerSecond).toFixed(2)).padStart(17),
        (m.cliStartupMs === null ? '–' : Math.round(m.cliStartupMs).toString()).padStart(16),
      ].join(' '),
    );
  }
  if (!built) console.log('(clemplay run not measured: build first with npm run build)');
  const taboo = measurements[0]!;
  const headline =
    `taboo ${rate(taboo.inProcessPerSecond)} episodes/s in process (${(taboo.inProcessPerSecond / taboo.playersAlonePerSecond).toFixed(2)} of the players alone), ` +
    `${rate(taboo.cliPerSecond)} episodes/s through clemplay run with results written`;
  return { measurements, headline };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await main();
  console.log(result.headline);
}
