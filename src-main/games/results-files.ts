import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChatMessage } from '../../src-shared/chat.js';
import type { AppErrorShape } from '../../src-shared/errors.js';
import type { Interactions } from '../../src-shared/games/episode.js';
import type { Experiment, GameInstance } from '../../src-shared/games/game.js';
import type { RunRequestView } from '../../src-shared/games/run-view.js';
import { instanceFolderName } from '../../src-shared/games/results-layout.js';
import type { EpisodeScores } from '../../src-shared/games/scores.js';
import { renderTranscript } from '../../src-shared/games/transcript.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src-shared/json.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { exists } from '../files/file-checks.js';

/** One call to a player, as clemcore's requests.json keeps it. */
export interface RequestRecord {
  /** ISO 8601 time the answer arrived. */
  timestamp: string;
  /** The messages the player was sent: its whole history, or what was left of it to fit the model's context. */
  manipulated_prompt_obj: ChatMessage[];
  raw_response_obj: {
    response: string;
    usage: JsonValue;
    finish_reason: string | null;
    /** Messages dropped from the start of the history to fit the model's context; absent when none was. */
    dropped_turns?: number;
    clem_player: {
      /** The player's name in the record (`Player 1`). */
      player: string;
      game_role: string;
      model_name: string;
      call_start: string;
      /** Seconds. */
      call_duration: number;
      response: string;
    };
  };
}

/** The files of `<results>/<models>/<game>/<experiment>/instance_<id>/` for a finished episode. */
export interface EpisodeFiles {
  instance: GameInstance;
  interactions: Interactions;
  requests: RequestRecord[];
  scores: EpisodeScores;
  playerCount: number;
}

/** The folder of one episode. */
export function episodeDirectory(
  resultsDir: string,
  modelsFolder: string,
  game: string,
  experiment: string,
  gameId: number,
): string {
  return join(resultsDir, modelsFolder, game, experiment, instanceFolderName(gameId));
}

/** The file whose presence marks an episode as complete; written last. */
const completionFile = 'scores.json';

/** Whether an episode's folder holds a complete episode (its scores.json, which is written last). */
export async function isEpisodeComplete(directory: string): Promise<boolean> {
  return exists(join(directory, completionFile));
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Writes a finished episode: instance.json, interactions.json, requests.json (every call, as clemcore writes it),
 * requests_player_N.json (each player's calls), transcript.html, and scores.json last and atomically, so that a
 * folder with scores.json is complete however the process ended. A stale error.json of an earlier try goes.
 */
export async function writeEpisode(directory: string, files: EpisodeFiles): Promise<void> {
  await mkdir(directory, { recursive: true });
  const writes = [
    writeFile(join(directory, 'instance.json'), json(files.instance)),
    writeFile(join(directory, 'interactions.json'), json(files.interactions)),
    writeFile(join(directory, 'requests.json'), json(files.requests)),
    writeFile(join(directory, 'transcript.html'), renderTranscript(files.interactions)),
    rm(join(directory, 'error.json'), { force: true }),
  ];
  for (let index = 0; index < files.playerCount; index += 1) {
    const player = `Player ${index + 1}`;
    const calls = files.requests.filter((request) => request.raw_response_obj.clem_player.player === player);
    writes.push(writeFile(join(directory, `requests_player_${index + 1}.json`), json(calls)));
  }
  await Promise.all(writes);
  await writeFileAtomic(join(directory, completionFile), json(files.scores));
}

/**
 * Records an episode that failed with an error (not one the rules ended): error.json and the interactions so far,
 * without scores, so the next run plays it again.
 */
export async function writeEpisodeError(
  directory: string,
  instance: GameInstance,
  interactions: Interactions,
  error: AppErrorShape,
): Promise<void> {
  await mkdir(directory, { recursive: true });
  await Promise.all([
    writeFile(join(directory, 'instance.json'), json(instance)),
    writeFile(join(directory, 'interactions.json'), json(interactions)),
    writeFile(join(directory, 'error.json'), json({ error, timestamp: new Date().toISOString() })),
  ]);
}

/** experiment.json: the experiment's settings without its instances, once per experiment folder (as clemcore). */
export async function writeExperimentFile(
  directory: string,
  experiment: Experiment,
  gameName: string,
  playerModels: JsonObject,
): Promise<void> {
  const path = join(directory, 'experiment.json');
  if (await exists(path)) return;
  const settings: JsonObject = {};
  for (const [key, value] of Object.entries(experiment)) if (key !== 'game_instances') settings[key] = value;
  await mkdir(directory, { recursive: true });
  await writeFile(
    path,
    json({ ...settings, timestamp: new Date().toISOString(), game_name: gameName, player_models: playerModels }),
  );
}

/** What run.json says about one game of a run. */
export interface RunFileGame {
  benchmark_start: string;
  benchmark_end?: string;
  /** Seconds. */
  duration_seconds?: number;
  /** Episodes of this run: all, played now, skipped as complete, failed with an error. */
  num_instances: number;
  played?: number;
  skipped?: number;
  failed?: number;
}

/** What run.json keeps of the request that last played into a models folder (queries redacted). */
export type SavedRunRequest = RunRequestView & {
  /** The instance file, when the run used one (`clemplay run --instances`). */
  instances_file?: string;
};

/**
 * Updates run.json at the root of a models folder (clemcore's place): the clemplay version, when the folder was
 * made, the players' specs, the request that played last (so it can be played again), and per game when this run
 * started and ended. Earlier games' entries are kept.
 */
export async function updateRunFile(
  modelsDirectory: string,
  version: string,
  playerModels: JsonObject,
  request: SavedRunRequest,
  game: string,
  entry: RunFileGame,
): Promise<void> {
  const path = join(modelsDirectory, 'run.json');
  let data: JsonObject = {};
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (isJsonObject(parsed)) data = parsed;
  } catch {
    // No run.json yet (or an unreadable one, which this run replaces).
  }
  const games = isJsonObject(data.games) ? data.games : {};
  await writeFileAtomic(
    path,
    json({
      ...data,
      clemplay_version: version,
      created: typeof data.created === 'string' ? data.created : new Date().toISOString(),
      player_models: playerModels,
      request: request as unknown as JsonObject,
      games: { ...games, [game]: entry as unknown as JsonObject },
    }),
  );
}
