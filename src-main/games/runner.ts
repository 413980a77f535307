import { join } from 'node:path';
import type { ChatMessage, GenerationOptions } from '../../src-shared/chat.js';
import {
  gameMasterSpeaker,
  startVersion,
  typedVersion,
  type MessageVersion,
} from '../../src-shared/conversation/transcript.js';
import { AppError, toAppErrorShape, type AppErrorShape } from '../../src-shared/errors.js';
import { findGame, games as allGames } from '../../src-shared/games/catalog.js';
import { EpisodeRecorder, playerName } from '../../src-shared/games/episode.js';
import type { Experiment, GameDefinition, GameResources, InstanceFile } from '../../src-shared/games/game.js';
import { prepareEpisodes, type EpisodePlan } from '../../src-shared/games/instances.js';
import { modelDescriptor, modelsFolderName } from '../../src-shared/games/results-layout.js';
import {
  episodeKey,
  playerSpeaker,
  type EpisodeRef,
  type RunnerEvent,
  type RunPlayer,
} from '../../src-shared/games/run-view.js';
import { metrics, outcomeOf, scoreEpisode } from '../../src-shared/games/scores.js';
import type { JsonObject } from '../../src-shared/json.js';
import type { AppServices } from '../services.js';
import { redactQuery } from '../conversation/session-export.js';
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
  type SavedRunRequest,
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
  /** At most this many instances of each experiment (the first ones, after `instanceIds`); default all. */
  instanceCount?: number;
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
  /** The request as run.json keeps it (queries redacted). */
  request: SavedRunRequest;
  contestants: Contestant[];
  games: GamePlan[];
  generation: GenerationOptions;
  concurrency: number;
}

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

function selectInstances(
  experiments: Experiment[],
  game: string,
  ids: readonly number[] | undefined,
  count: number | undefined,
): Experiment[] {
  const first = (chosen: Experiment[]): Experiment[] =>
    count === undefined
      ? chosen
      : chosen.map((experiment) => ({ ...experiment, game_instances: experiment.game_instances.slice(0, count) }));
  if (ids === undefined || ids.length === 0) return first(experiments);
  const present = new Set(
    experiments.flatMap((experiment) => experiment.game_instances.map((instance) => instance.game_id)),
  );
  const missing = ids.filter((id) => !present.has(id));
  if (missing.length > 0)
    throw inputError(`${game} has no instance with game_id ${missing.join(', ')} in the chosen experiments`);
  return first(
    experiments.map((experiment) => ({
      ...experiment,
      game_instances: experiment.game_instances.filter((instance) => ids.includes(instance.game_id)),
    })),
  );
}

/** A request as run.json keeps it: the API's names, queries redacted. */
function savedRequest(request: GameRunRequest): SavedRunRequest {
  return {
    games: request.games,
    models: request.models.map(redactQuery),
    ...(request.experiments === undefined ? {} : { experiments: request.experiments }),
    ...(request.instanceIds === undefined ? {} : { instance_ids: request.instanceIds }),
    ...(request.instanceCount === undefined ? {} : { instances: request.instanceCount }),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
    ...(request.instancesFile === undefined ? {} : { instances_file: request.instancesFile }),
  };
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
      request.instanceCount,
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
    request: savedRequest(request),
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

/** The players of a game plan as transcripts name them. */
export function runPlayers(gamePlan: GamePlan): RunPlayer[] {
  return gamePlan.players.map((player, role) => ({
    id: playerSpeaker(role),
    role: gamePlan.game.roles[role]!,
    model: player.modelName,
    backend: player.backend,
  }));
}

/**
 * Plays one episode to its end into `recorder` (nothing is written); returns each call to a player. With `emit`, every
 * message goes out as it happens: the game master's, and each answer (a model's part by part). Throws when a player
 * fails or the run is stopped.
 */
export async function playEpisode(
  plan: RunPlan,
  gamePlan: GamePlan,
  job: EpisodeJob,
  recorder: EpisodeRecorder,
  ref: EpisodeRef,
  signal: AbortSignal,
  emit: ((event: RunnerEvent) => void) | undefined,
): Promise<RequestRecord[]> {
  const { game } = gamePlan;
  const players = gamePlan.players.map((contestant, role) =>
    contestant.player(role, job.plan.prepared, plan.generation),
  );
  const histories: ChatMessage[][] = players.map(() => []);
  const requests: RequestRecord[] = [];
  const key = episodeKey(ref);
  let messageCount = 0;
  /** Sends a new message of this episode to the subscribers; returns its id. */
  const post = (speaker: string, to: string, version: MessageVersion): string => {
    messageCount += 1;
    const id = `m${messageCount}`;
    const message = { id, speaker, to: [to], created_at: version.started_at, versions: [version], current: 0 };
    emit?.({ type: 'message', episode: key, message, at: Date.parse(version.started_at) });
    return id;
  };
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
    const speaker = playerSpeaker(move.player);
    const contestant = gamePlan.players[move.player]!;
    const player = players[move.player]!;
    const history = histories[move.player]!;
    history.push({ role: 'user', content: move.content });
    const callStart = Date.now();
    if (emit !== undefined) post(gameMasterSpeaker, speaker, typedVersion(move.content, callStart));
    let onPart: Parameters<typeof player.respond>[2];
    if (emit !== undefined && player.streams) {
      const messageId = post(speaker, gameMasterSpeaker, startVersion(callStart, contestant.spec));
      onPart = (part) => emit({ type: 'part', episode: key, message_id: messageId, part, at: Date.now() });
    }
    const reply = await player.respond(history, signal, onPart);
    if (signal.aborted) throw stopped();
    if (reply.error !== undefined) {
      throw new AppError(
        reply.error.code,
        `${name} (${contestant.modelName}): ${reply.error.message}`,
        reply.error.details,
      );
    }
    const now = Date.now();
    if (emit !== undefined && !player.streams) post(speaker, gameMasterSpeaker, typedVersion(reply.text, now));
    requests.push({
      timestamp: new Date(now).toISOString(),
      manipulated_prompt_obj: reply.sent ?? history.slice(),
      raw_response_obj: {
        response: reply.text,
        usage: reply.usage === undefined ? null : { ...reply.usage },
        finish_reason: reply.finish_reason ?? null,
        ...(reply.dropped_turns === undefined ? {} : { dropped_turns: reply.dropped_turns }),
        clem_player: {
          player: name,
          game_role: game.roles[move.player]!,
          model_name: contestant.modelName,
          call_start: new Date(callStart).toISOString(),
          call_duration: (now - callStart) / 1000,
          response: reply.text,
        },
      },
    });
    history.push({ role: 'assistant', content: reply.text });
    move = master.next(reply.text);
  }
  return requests;
}

/** Plays a planned run: makes the models, skips complete episodes, plays the rest, writes every result. */
export async function executeRun(
  plan: RunPlan,
  options: { version: string; signal?: AbortSignal; onEvent?: (event: RunnerEvent) => void },
): Promise<RunSummary> {
  const signal = options.signal ?? new AbortController().signal;
  const emit = options.onEvent;
  try {
    for (const gamePlan of plan.games) {
      for (const [role, contestant] of gamePlan.players.entries()) await contestant.open(role, signal);
    }
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
    emit?.({
      type: 'run-start',
      total: pending.length,
      skipped,
      models_folders: summary.modelsFolders,
      at: Date.now(),
    });

    // run.json is shared by the games of a models folder: every update below is awaited before the next.
    const updateRun = (gamePlan: GamePlan, entry: RunFileGame): Promise<void> =>
      updateRunFile(
        join(plan.resultsDir, gamePlan.modelsFolder),
        options.version,
        gamePlan.playerModels,
        plan.request,
        gamePlan.game.name,
        entry,
      );
    const started = new Map<GamePlan, Date>();
    for (const gamePlan of plan.games) {
      const now = new Date();
      started.set(gamePlan, now);
      await updateRun(gamePlan, { benchmark_start: now.toISOString(), num_instances: gamePlan.episodes.length });
    }

    const experimentFiles = new Map<string, Promise<void>>();
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
        const key = episodeKey(ref);
        const experimentDirectory = join(job.directory, '..');
        if (!experimentFiles.has(experimentDirectory)) {
          experimentFiles.set(
            experimentDirectory,
            writeExperimentFile(experimentDirectory, job.plan.experiment, gamePlan.game.name, gamePlan.playerModels),
          );
        }
        await experimentFiles.get(experimentDirectory);
        emit?.({ type: 'episode-start', key, ref, players: runPlayers(gamePlan), at: Date.now() });
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
          summary.played += 1;
          counts.get(gamePlan)!.played += 1;
          emit?.({
            type: 'episode-end',
            episode: key,
            ref,
            outcome: outcomeOf(recorder.interactions)!,
            main_score: scores['episode scores'][metrics.mainScore] ?? null,
            at: Date.now(),
          });
        } catch (error) {
          if (signal.aborted) return;
          const shape = toAppErrorShape(error);
          await writeEpisodeError(job.directory, job.plan.instance, recorder.interactions, shape);
          summary.failed.push({ episode: ref, error: shape });
          counts.get(gamePlan)!.failed += 1;
          emit?.({ type: 'episode-error', episode: key, ref, error: shape, at: Date.now() });
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
    return summary;
  } finally {
    await Promise.all(plan.contestants.map((contestant) => contestant.dispose()));
  }
}
