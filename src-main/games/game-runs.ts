import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { currentVersion } from '../../src-shared/conversation/transcript.js';
import { AppError, toAppErrorShape, type AppErrorShape } from '../../src-shared/errors.js';
import { games as catalog } from '../../src-shared/games/catalog.js';
import type { GameResources } from '../../src-shared/games/game.js';
import {
  applyRunEvent,
  type RunEvent,
  type RunRequestView,
  type RunStatus,
  type RunView,
} from '../../src-shared/games/run-view.js';
import type { Query } from '../conversation/open-model.js';
import { redactQuery } from '../conversation/session-export.js';
import { EventLog, type TrackedEvent } from '../jobs/event-log.js';
import { createGameResources, defaultInstancesPath, readInstanceFile } from './game-files.js';
import {
  listSavedRuns,
  readEpisodeTranscript,
  readRunResults,
  type RunResults,
  type SavedEpisode,
  type SavedEpisodeTranscript,
  type SavedRun,
} from './results-reader.js';
import { executeRun, planRun, type RunPlan, type RunServices } from './runner.js';

/** What to play: the API's run request, with the model queries as given (they may name keys: never shown back). */
export type StartRunInput = Omit<RunRequestView, 'models'> & { models: Query[] };

/** A game as the Games page offers it: its roles and the experiments of its shipped instances. */
export interface GameInfo {
  name: string;
  description: string;
  /** The players' roles, in the order models are bound to them. */
  roles: string[];
  experiments: { name: string; instances: number }[];
  /** Why its instance file could not be read (then it has no experiments). */
  problem?: string;
}

/** A run of this process in the runs list. */
export interface LiveRunEntry {
  id: string;
  status: RunStatus;
  created_at: string;
  updated_at: string;
  games: string[];
  /** The model queries (redacted), in role order. */
  models: RunRequestView['models'];
  progress: RunView['progress'];
  models_folders: string[];
}

/** The runs the Games page lists: this process's (live or ended) and the earlier ones of the results folder. */
export interface RunListing {
  live: LiveRunEntry[];
  saved: SavedRun[];
}

/** What the run jobs need. */
export interface GameRunsDependencies {
  services: RunServices;
  /** Where runs write (`<data>/results` in the app). */
  resultsDir: string;
  /** Word lists; default the packaged ones, read on first use. */
  resources?: GameResources;
  /** Delivers a person's answer to the human backend's question (the services' HumanInputHub). */
  humanInput?: { reply(requestId: string, text: string): void };
  /** Episodes played at once when every model is remote; default the runner's (4). */
  concurrency?: number;
  /** The clock, milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** Ended runs kept in memory (and listed with their last transcripts); default 20. */
  keepEnded?: number;
}

interface LiveRun {
  id: string;
  view: RunView;
  /** The request as given, for playing it again. */
  request: StartRunInput;
  events: EventLog<RunEvent>;
  controller: AbortController | null;
  task: Promise<void> | null;
  /** A resume is choosing its instances (before it plays): a second resume meanwhile is refused. */
  resuming: boolean;
}

function newRunId(now: number): string {
  return `run-${now.toString(36)}-${randomBytes(3).toString('hex')}`;
}

function redactedRequest(input: StartRunInput): RunRequestView {
  return { ...input, models: input.models.map(redactQuery) };
}

/**
 * Game runs as jobs in main: each has an id, runs on whoever watches (a reloaded page subscribes again and gets a
 * snapshot, a reconnecting one what it missed), and can be stopped (what finished is kept) and resumed (played again,
 * skipping the episodes already complete). A human player's question goes out as a stream part of its answer and
 * is answered with {@link humanReply}.
 */
export class GameRuns {
  private readonly runs = new Map<string, LiveRun>();
  private readonly now: () => number;
  private resourcesValue: GameResources | null;
  private disposed = false;

  constructor(private readonly dependencies: GameRunsDependencies) {
    this.now = dependencies.now ?? Date.now;
    this.resourcesValue = dependencies.resources ?? null;
  }

  private get resources(): GameResources {
    return (this.resourcesValue ??= createGameResources());
  }

  /** The games with their roles and the experiments of their shipped instance files. */
  async games(): Promise<GameInfo[]> {
    return Promise.all(
      catalog.map(async (game) => {
        const base = { name: game.name, description: game.description, roles: [...game.roles] };
        try {
          const file = await readInstanceFile(defaultInstancesPath(this.dependencies.services.appRoot, game.name));
          return {
            ...base,
            experiments: file.experiments.map((experiment) => ({
              name: experiment.name,
              instances: experiment.game_instances.length,
            })),
          };
        } catch (error) {
          return { ...base, experiments: [], problem: toAppErrorShape(error).message };
        }
      }),
    );
  }

  private async plan(input: StartRunInput): Promise<RunPlan> {
    return planRun(
      this.dependencies.services,
      {
        games: input.games,
        models: input.models,
        resultsDir: this.dependencies.resultsDir,
        ...(input.experiments === undefined ? {} : { experiments: input.experiments }),
        ...(input.instance_ids === undefined ? {} : { instanceIds: input.instance_ids }),
        ...(input.instances === undefined ? {} : { instanceCount: input.instances }),
        ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
        ...(input.max_tokens === undefined ? {} : { maxTokens: input.max_tokens }),
        ...(this.dependencies.concurrency === undefined ? {} : { concurrency: this.dependencies.concurrency }),
      },
      this.resources,
    );
  }

  /**
   * Starts a run; returns once its models are resolved and its instances chosen (unknown games, experiments or
   * instances and queries that match nothing are errors here), while it plays on in main.
   */
  async start(input: StartRunInput): Promise<RunView> {
    this.checkOpen();
    const plan = await this.plan(input);
    const at = this.now();
    const id = newRunId(at);
    const created = new Date(at).toISOString();
    const live: LiveRun = {
      id,
      request: input,
      events: new EventLog<RunEvent>(),
      controller: null,
      task: null,
      resuming: false,
      view: {
        id,
        created_at: created,
        updated_at: created,
        status: 'running',
        request: redactedRequest(input),
        models_folders: [...new Set(plan.games.map((gamePlan) => gamePlan.modelsFolder))],
        progress: { total: 0, done: 0, played: 0, failed: 0, skipped: 0 },
        episodes: [],
        failures: [],
      },
    };
    this.runs.set(id, live);
    this.launch(live, plan);
    this.forgetOldRuns();
    return live.view;
  }

  private launch(live: LiveRun, plan: RunPlan): void {
    const controller = new AbortController();
    live.controller = controller;
    live.task = (async () => {
      let status: RunStatus = 'done';
      let error: AppErrorShape | undefined;
      try {
        const summary = await executeRun(plan, {
          version: this.dependencies.services.version,
          signal: controller.signal,
          onEvent: (event) => this.emit(live, event),
        });
        if (summary.stopped) status = 'stopped';
      } catch (thrown) {
        if (controller.signal.aborted) status = 'stopped';
        else {
          status = 'failed';
          error = toAppErrorShape(thrown);
        }
      }
      live.controller = null;
      this.emit(live, { type: 'status', status, ...(error === undefined ? {} : { error }), at: this.now() });
    })();
  }

  private emit(live: LiveRun, event: RunEvent): void {
    live.view = applyRunEvent(live.view, event) ?? live.view;
    live.events.emit(event);
  }

  private get(id: string): LiveRun {
    const live = this.runs.get(id);
    if (live === undefined) {
      throw new AppError(
        'not-found',
        `There is no game run ${id} in this process: runs are kept until clemplay stops (the results folder keeps ` +
          'their results; open them from the list of earlier runs).',
        { id },
      );
    }
    return live;
  }

  /** A run as clients see it. */
  view(id: string): RunView {
    return this.get(id).view;
  }

  /** The runs of this process, newest first, and the earlier ones of the results folder. */
  async list(): Promise<RunListing> {
    const live = [...this.runs.values()]
      .map(({ view }) => ({
        id: view.id,
        status: view.status,
        created_at: view.created_at,
        updated_at: view.updated_at,
        games: view.request.games,
        models: view.request.models,
        progress: view.progress,
        models_folders: view.models_folders,
      }))
      .reverse();
    return { live, saved: await listSavedRuns(this.dependencies.resultsDir) };
  }

  /**
   * The run's events for one client: a snapshot first, then every change. Resuming after `lastEventId` replays what
   * it missed instead, when the log still has it. Ends when `signal` aborts; the run goes on.
   */
  subscribe(
    id: string,
    lastEventId: string | null | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<TrackedEvent<RunEvent>> {
    const live = this.get(id);
    return live.events.subscribe(lastEventId, () => ({ type: 'snapshot', run: live.view }), signal);
  }

  /** Stops a run; resolves once it has stopped (the episodes that finished are kept). */
  async stop(id: string): Promise<RunView> {
    const live = this.get(id);
    live.controller?.abort();
    await live.task;
    return live.view;
  }

  /** Plays a run of this process again: the episodes complete by now are skipped. */
  async resume(id: string): Promise<RunView> {
    this.checkOpen();
    const live = this.get(id);
    if (live.controller !== null || live.resuming) {
      throw new AppError('conflict', `The run ${id} is still playing: stop it first.`);
    }
    // Marked before the first await: a double click resumes once.
    live.resuming = true;
    try {
      const plan = await this.plan(live.request);
      this.emit(live, { type: 'status', status: 'running', at: this.now() });
      this.launch(live, plan);
    } finally {
      live.resuming = false;
    }
    return live.view;
  }

  /**
   * Plays an earlier run of the results folder again, as run.json says it was asked (a new run; complete episodes
   * are skipped). Runs that used an instance file of their own are for `clemplay run --instances` to continue.
   */
  async resumeSaved(folder: string): Promise<RunView> {
    const saved = (await listSavedRuns(this.dependencies.resultsDir)).find((run) => run.folder === folder);
    if (saved === undefined) {
      throw new AppError('not-found', `There is no run.json in ${join(this.dependencies.resultsDir, folder)}.`);
    }
    const request = saved.request;
    if (request === null) {
      throw new AppError(
        'invalid-input',
        `${join(this.dependencies.resultsDir, folder, 'run.json')} does not say what was played (an older clemplay or ` +
          'clembench wrote it): start the run again from the form, with the same games and models.',
      );
    }
    if (request.instances_file !== undefined) {
      throw new AppError(
        'invalid-input',
        `That run played the instance file ${request.instances_file}: continue it with clemplay run --instances.`,
      );
    }
    const { instances_file: _file, ...rest } = request;
    return this.start(rest);
  }

  /** The person's answer for the human player `player` (`player-1`, `player-2`) of a run, who was asked. */
  humanReply(id: string, player: string, text: string): void {
    const live = this.get(id);
    for (const episode of live.view.episodes) {
      if (episode.status !== 'playing') continue;
      const asked = [...episode.messages]
        .reverse()
        .find((message) => message.speaker === player && currentVersion(message).human_request !== undefined);
      const request = asked === undefined ? undefined : currentVersion(asked).human_request;
      if (request !== undefined && this.dependencies.humanInput !== undefined) {
        this.dependencies.humanInput.reply(request.request_id, text);
        return;
      }
    }
    throw new AppError('not-found', `${player} of run ${id} is not waiting for an answer`);
  }

  /** Eval and every episode of models folders of the results folder (of the games given, where given). */
  results(folders: readonly string[], games?: readonly string[]): Promise<RunResults> {
    return readRunResults(this.dependencies.resultsDir, folders, games);
  }

  /** One episode of the results folder as a transcript. */
  episode(place: Pick<SavedEpisode, 'models' | 'game' | 'experiment' | 'instance'>): Promise<SavedEpisodeTranscript> {
    return readEpisodeTranscript(this.dependencies.resultsDir, place);
  }

  /** Ended runs beyond `keepEnded` leave memory, oldest first (their results stay in the results folder). */
  private forgetOldRuns(): void {
    const ended = [...this.runs.values()].filter((live) => live.controller === null && live.task !== null);
    const excess = ended.length - (this.dependencies.keepEnded ?? 20);
    for (const live of ended.slice(0, Math.max(0, excess))) this.runs.delete(live.id);
  }

  private checkOpen(): void {
    if (this.disposed) throw new AppError('aborted', 'clemplay is shutting down');
  }

  /** Stops every run and waits for them to end (finished episodes are written). */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const live of this.runs.values()) live.controller?.abort();
    await Promise.all([...this.runs.values()].map((live) => live.task));
  }
}
