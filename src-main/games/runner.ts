import { join } from 'node:path';
import type { ChatMessage, GenerationOptions } from '../../src-shared/chat.js';
import { AppError, toAppErrorShape, type AppErrorShape } from '../../src-shared/errors.js';
import { findGame, games as allGames } from '../../src-shared/games/catalog.js';
import { EpisodeRecorder, gameMasterName, playerName, type Outcome } from '../../src-shared/games/episode.js';
import type { Experiment, GameDefinition, GameResources, InstanceFile } from '../../src-shared/games/game.js';
import { prepareEpisodes, type EpisodePlan } from '../../src-shared/games/instances.js';
import { modelDescriptor, modelsFolderName } from '../../src-shared/games/results-layout.js';
import { metrics, outcomeOf, scoreEpisode } from '../../src-shared/games/scores.js';
import type { JsonObject } from '../../src-shared/json.js';
import type { AppServices } from '../services.js';
import { createContestant, type Contestant } from './contestants.js';
import { defaultInstancesPath, readInstanceFile } from './game-files.js';
import {
  episodeDirectory,
  isEpisodeComplete,
  updateRunFile,
  writeEpisode,
  writeEpisodeError,
  writeExperimentFile,
  type RequestRecord,
  type RunFileGame,
} from './results-files.js';

/** What to run: games, one or two models, which instances, where the results go. */
export interface GameRunRequest {
  /** Game names (`clemplay games`), run one after the other. */
  games: string[];
  /** One model query (a name or a spec), which then plays every role, or one per role in the game's role order. */
  models: (string | JsonObject)[];
  /** Only these experiments; default all. */
  experiments?: string[];
  /** Only instances with these `game_id`s; default all. */
  instanceIds?: number[];
  /** An instance file to use instead of the game's own (clembench's format); only with one game. */
  instancesFile?: string;
  /** The results folder. */
  resultsDir: string;
  /** Sampling temperature for every model; default 0 (clembench's habit). Part of the models folder's name. */
  temperature?: number;
  /** Most tokens per answer; default: the backend's. */
  maxTokens?: number;
  /** Episodes played at once when every model is remote; default 4. Local models and people play one at a time. */
  concurrency?: number;
}

/** One episode of a run. */
export interface EpisodeJob {
  plan: EpisodePlan;
  directory: string;
}

/** One game of a run, with its players bound to its roles. */
export interface GamePlan {
  game: GameDefinition;
  /** The instance file it comes from. */
  source: string;
  /** The contestant of each role, in the game's role order. */
  players: Contestant[];
  modelsFolder: string;
  /** Each player's spec by player name, for the records. */
  playerModels: JsonObject;
  episodes: EpisodeJob[];
}

/** A checked run, its models resolved (not yet made). */
export interface RunPlan {
  resultsDir: string;
  contestants: Contestant[];
  games: GamePlan[];
  generation: GenerationOptions;
  concurrency: number;
}

/** An episode's place, as events and summaries name it. */
export interface EpisodeRef {
  game: string;
  experiment: string;
  game_id: number;
  models: string;
}

/** What a run reports while it goes: enough for a progress bar and a live transcript. */
export type RunEvent =
  | { type: 'run-start'; total: number; skipped: number }
  | { type: 'episode-start'; episode: EpisodeRef }
  /** A message between the game master and a player (`from`/`to` are `GM` or `Player N`); `round` from 0. */
  | { type: 'message'; episode: EpisodeRef; round: number; from: string; to: string; content: string }
  | {
      type: 'episode-end';
      episode: EpisodeRef;
      outcome: Outcome;
      main_score: number | null;
      /** Episodes finished (played or failed) so far, and how many this run plays. */
      done: number;
      total: number;
    }
  | { type: 'episode-error'; episode: EpisodeRef; error: AppErrorShape; done: number; total: number }
  | { type: 'run-end'; summary: RunSummary };

/** How a run went. */
export interface RunSummary {
  /** Episodes the run covers. */
  total: number;
  played: number;
  /** Already complete from an earlier run. */
  skipped: number;
  failed: { episode: EpisodeRef; error: AppErrorShape }[];
  /** True when the run was stopped; the episodes that finished are kept. */
  stopped: boolean;
  /** The models folders written, under the results folder. */
  modelsFolders: string[];
}

/** What a run needs from the app. */
export type RunServices = Pick<AppServices, 'registry' | 'backendContext' | 'version' | 'appRoot'>;

function inputError(message: string): AppError {
  return new AppError('invalid-input', message);
}

function selectExperiments(
  file: InstanceFile,
  game: string,
  source: string,
  names: readonly string[] | undefined,
): Experiment[] {
  if (names === undefined || names.length === 0) return file.experiments;
  const available = file.experiments.map((experiment) => experiment.name);
  const unknown = names.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    throw inputError(
      `${game} has no experiment ${unknown.map((name) => `"${name}"`).join(', ')} in ${source}; it has: ${available.join(', ')}`,
    );
  }
  return file.experiments.filter((experiment) => names.includes(experiment.name));
}

function selectInstances(experiments: Experiment[], game: string, ids: readonly number[] | undefined): Experiment[] {
  if (ids === undefined || ids.length === 0) return experiments;
  const present = new Set(
    experiments.flatMap((experiment) => experiment.game_instances.map((instance) => instance.game_id)),
  );
  const missing = ids.filter((id) => !present.has(id));
  if (missing.length > 0)
    throw inputError(`${game} has no instance with game_id ${missing.join(', ')} in the chosen experiments`);
  return experiments.map((experiment) => ({
    ...experiment,
    game_instances: experiment.game_instances.filter((instance) => ids.includes(instance.game_id)),
  }));
}

/**
 * Checks a run request and resolves its models, before anything plays: unknown games, experiments or instances, a
 * bad instance file, a model count the game cannot take, and queries that resolve to nothing are input errors.
 */
export async function planRun(
  services: RunServices,
  request: GameRunRequest,
  resources: GameResources,
): Promise<RunPlan> {
  if (request.games.length === 0)
    throw inputError('no game given; the games are: ' + allGames.map((game) => game.name).join(', '));
  if (request.models.length < 1 || request.models.length > 2) {
    throw inputError(`give one model (it plays every role) or two (one per role), not ${request.models.length}`);
  }
  if (request.instancesFile !== undefined && request.games.length > 1) {
    throw inputError('an instance file belongs to one game: give --instances with a single --game');
  }
  const temperature = request.temperature ?? 0;
  const definitions = request.games.map((name) => {
    const game = findGame(name);
    if (game === undefined) {
      throw inputError(`unknown game "${name}"; the games are: ${allGames.map((known) => known.name).join(', ')}`);
    }
    if (request.models.length > game.roles.length) {
      throw inputError(`${name} has one player (${game.roles.join(', ')}): give one model`);
    }
    return game;
  });
  const contestants = request.models.map((query) => createContestant(services, query));
  // As clemcore names it: after the models given (one for self-play), not after the roles.
  const modelsFolder = modelsFolderName(contestants.map((player) => modelDescriptor(player.modelName, temperature)));
  const games: GamePlan[] = [];
  for (const game of definitions) {
    const source = request.instancesFile ?? defaultInstancesPath(services.appRoot, game.name);
    const file = await readInstanceFile(source);
    const experiments = selectInstances(
      selectExperiments(file, game.name, source, request.experiments),
      game.name,
      request.instanceIds,
    );
    const players = game.roles.map((_role, index) => contestants[contestants.length === 1 ? 0 : index]!);
    const playerModels: JsonObject = {};
    players.forEach((player, index) => (playerModels[playerName(index)] = player.spec));
    games.push({
      game,
      source,
      players,
      modelsFolder,
      playerModels,
      episodes: prepareEpisodes(game, experiments, resources, source).map((plan) => ({
        plan,
        directory: episodeDirectory(
          request.resultsDir,
          modelsFolder,
          game.name,
          plan.experiment.name,
          plan.instance.game_id,
        ),
      })),
    });
  }
  return {
    resultsDir: request.resultsDir,
    contestants,
    games,
    generation: { temperature, ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }) },
    concurrency: Math.max(1, request.concurrency ?? 4),
  };
}

/** A bound on answers per episode, far above any game's rules, so a faulty game master cannot loop forever. */
const maxAnswersPerEpisode = 1000;

function stopped(): AppError {
  return new AppError('aborted', 'the run was stopped');
}

/** A new record for an episode of a game plan. */
export function recorderFor(gamePlan: GamePlan, job: EpisodeJob, version: string): EpisodeRecorder {
  const { game } = gamePlan;
  return new EpisodeRecorder(
    {
      game_name: game.name,
      experiment_name: job.plan.experiment.name,
      game_id: job.plan.instance.game_id,
      results_folder: gamePlan.modelsFolder,
      clemplay_version: version,
    },
    gamePlan.players.map((player, role) => ({
      role: game.roles[role]!,
      modelName: player.modelName,
      spec: player.spec,
    })),
  );
}

/**
 * Plays one episode to its end into `recorder` (nothing is written); returns each call to a player. Throws when a
 * player fails or the run is stopped.
 */
export async function playEpisode(
  plan: RunPlan,
  gamePlan: GamePlan,
  job: EpisodeJob,
  recorder: EpisodeRecorder,
  ref: EpisodeRef,
  signal: AbortSignal,
  emit: ((event: RunEvent) => void) | undefined,
): Promise<RequestRecord[]> {
  const { game } = gamePlan;
  const players = gamePlan.players.map((contestant, role) =>
    contestant.player(role, job.plan.prepared, plan.generation),
  );
  const histories: ChatMessage[][] = players.map(() => []);
  const requests: RequestRecord[] = [];
  const master = job.plan.prepared.createMaster(recorder);
  let move = master.start();
  for (let answers = 0; move.type === 'ask'; answers += 1) {
    if (answers >= maxAnswersPerEpisode) {
      throw new AppError(
        'internal',
        `${game.name}'s game master did not end the episode after ${maxAnswersPerEpisode} answers`,
      );
    }
    if (signal.aborted) throw stopped();
    const name = playerName(move.player);
    const history = histories[move.player]!;
    history.push({ role: 'user', content: move.content });
    emit?.({
      type: 'message',
      episode: ref,
      round: recorder.round,
      from: gameMasterName,
      to: name,
      content: move.content,
    });
    const callStart = new Date();
    const reply = await players[move.player]!.respond(history, signal);
    if (signal.aborted) throw stopped();
    if (reply.error !== undefined) {
      throw new AppError(
        reply.error.code,
        `${name} (${gamePlan.players[move.player]!.modelName}): ${reply.error.message}`,
        reply.error.details,
      );
    }
    const now = new Date();
    requests.push({
      timestamp: now.toISOString(),
      manipulated_prompt_obj: history.slice(),
      raw_response_obj: {
        response: reply.text,
        usage: reply.usage === undefined ? null : { ...reply.usage },
        finish_reason: reply.finish_reason ?? null,
        clem_player: {
          player: name,
          game_role: game.roles[move.player]!,
          model_name: gamePlan.players[move.player]!.modelName,
          call_start: callStart.toISOString(),
          call_duration: (now.getTime() - callStart.getTime()) / 1000,
          response: reply.text,
        },
      },
    });
    history.push({ role: 'assistant', content: reply.text });
    emit?.({
      type: 'message',
      episode: ref,
      round: recorder.round,
      from: name,
      to: gameMasterName,
      content: reply.text,
    });
    move = master.next(reply.text);
  }
  return requests;
}

/** Plays a planned run: makes the models, skips complete episodes, plays the rest, writes every result. */
export async function executeRun(
  plan: RunPlan,
  options: { version: string; signal?: AbortSignal; onEvent?: (event: RunEvent) => void },
): Promise<RunSummary> {
  const signal = options.signal ?? new AbortController().signal;
  const emit = options.onEvent;
  try {
    for (const contestant of plan.contestants) await contestant.open(signal);
    const pending: { gamePlan: GamePlan; job: EpisodeJob }[] = [];
    let skipped = 0;
    const counts = new Map<GamePlan, { played: number; skipped: number; failed: number }>();
    for (const gamePlan of plan.games) {
      const count = { played: 0, skipped: 0, failed: 0 };
      counts.set(gamePlan, count);
      for (const job of gamePlan.episodes) {
        if (await isEpisodeComplete(job.directory)) count.skipped += 1;
        else pending.push({ gamePlan, job });
      }
      skipped += count.skipped;
    }
    const summary: RunSummary = {
      total: skipped + pending.length,
      played: 0,
      skipped,
      failed: [],
      stopped: false,
      modelsFolders: [...new Set(plan.games.map((gamePlan) => gamePlan.modelsFolder))],
    };
    emit?.({ type: 'run-start', total: pending.length, skipped });

    // run.json is shared by the games of a models folder: its updates go one after the other.
    let runFileQueue: Promise<void> = Promise.resolve();
    const updateRun = (gamePlan: GamePlan, entry: RunFileGame): Promise<void> => {
      runFileQueue = runFileQueue.then(() =>
        updateRunFile(
          join(plan.resultsDir, gamePlan.modelsFolder),
          options.version,
          gamePlan.playerModels,
          gamePlan.game.name,
          entry,
        ),
      );
      return runFileQueue;
    };
    const started = new Map<GamePlan, Date>();
    for (const gamePlan of plan.games) {
      const now = new Date();
      started.set(gamePlan, now);
      await updateRun(gamePlan, { benchmark_start: now.toISOString(), num_instances: gamePlan.episodes.length });
    }

    const experimentFiles = new Map<string, Promise<void>>();
    let done = 0;
    let next = 0;
    const concurrency = plan.contestants.every((contestant) => contestant.concurrent) ? plan.concurrency : 1;
    const worker = async (): Promise<void> => {
      while (next < pending.length && !signal.aborted) {
        const { gamePlan, job } = pending[next]!;
        next += 1;
        const ref: EpisodeRef = {
          game: gamePlan.game.name,
          experiment: job.plan.experiment.name,
          game_id: job.plan.instance.game_id,
          models: gamePlan.modelsFolder,
        };
        const experimentDirectory = join(job.directory, '..');
        if (!experimentFiles.has(experimentDirectory)) {
          experimentFiles.set(
            experimentDirectory,
            writeExperimentFile(experimentDirectory, job.plan.experiment, gamePlan.game.name, gamePlan.playerModels),
          );
        }
        await experimentFiles.get(experimentDirectory);
        emit?.({ type: 'episode-start', episode: ref });
        const recorder = recorderFor(gamePlan, job, options.version);
        try {
          const requests = await playEpisode(plan, gamePlan, job, recorder, ref, signal, emit);
          const scores = scoreEpisode(recorder.interactions, gamePlan.game.scoring);
          await writeEpisode(job.directory, {
            instance: job.plan.instance,
            interactions: recorder.interactions,
            requests,
            scores,
            playerCount: gamePlan.players.length,
          });
          done += 1;
          summary.played += 1;
          counts.get(gamePlan)!.played += 1;
          emit?.({
            type: 'episode-end',
            episode: ref,
            outcome: outcomeOf(recorder.interactions)!,
            main_score: scores['episode scores'][metrics.mainScore] ?? null,
            done,
            total: pending.length,
          });
        } catch (error) {
          if (signal.aborted) return;
          const shape = toAppErrorShape(error);
          await writeEpisodeError(job.directory, job.plan.instance, recorder.interactions, shape);
          done += 1;
          summary.failed.push({ episode: ref, error: shape });
          counts.get(gamePlan)!.failed += 1;
          emit?.({ type: 'episode-error', episode: ref, error: shape, done, total: pending.length });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, pending.length)) }, () => worker()));
    summary.stopped = signal.aborted;
    for (const gamePlan of plan.games) {
      const start = started.get(gamePlan)!;
      const end = new Date();
      await updateRun(gamePlan, {
        benchmark_start: start.toISOString(),
        benchmark_end: end.toISOString(),
        duration_seconds: (end.getTime() - start.getTime()) / 1000,
        num_instances: gamePlan.episodes.length,
        ...counts.get(gamePlan)!,
      });
    }
    emit?.({ type: 'run-end', summary });
    return summary;
  } finally {
    await Promise.all(plan.contestants.map((contestant) => contestant.dispose()));
  }
}
