import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../src-shared/errors.js';
import type { TranscriptMessage } from '../../src-shared/conversation/transcript.js';
import type { Interactions, Outcome } from '../../src-shared/games/episode.js';
import {
  evaluate,
  resultsCsv,
  resultsHtml,
  type EpisodeScoreRecord,
  type EvalResult,
} from '../../src-shared/games/eval.js';
import { episodeMessages, playerSpeaker, type RunPlayer } from '../../src-shared/games/run-view.js';
import { metrics, outcomeOf, type ScoreValue } from '../../src-shared/games/scores.js';
import { renderTranscript } from '../../src-shared/games/transcript.js';
import { isJsonObject, type JsonObject } from '../../src-shared/json.js';
import { errnoCode } from '../credentials/json-file.js';
import type { SavedRunRequest } from './results-files.js';
import { savedRunRequestSchema } from './run-request.js';
import { exists } from '../files/file-checks.js';

/** An episode folder of a results folder: `<models>/<game>/<experiment>/<instance>/`. */
export interface EpisodeFolder {
  models: string;
  game: string;
  experiment: string;
  instance: string;
  path: string;
}

async function subfolders(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

/**
 * Every episode folder of a results folder in clembench's layout (or of the models folders `only` names, where they
 * exist); `not-found` when the results folder does not exist.
 */
export async function findEpisodeFolders(resultsDir: string, only?: readonly string[]): Promise<EpisodeFolder[]> {
  let modelsFolders: string[];
  try {
    modelsFolders = await subfolders(resultsDir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw new AppError('not-found', `there is no results folder ${resultsDir}`);
    throw error;
  }
  const found: EpisodeFolder[] = [];
  for (const models of only === undefined ? modelsFolders : modelsFolders.filter((name) => only.includes(name))) {
    for (const game of await subfolders(join(resultsDir, models))) {
      for (const experiment of await subfolders(join(resultsDir, models, game))) {
        for (const instance of await subfolders(join(resultsDir, models, game, experiment))) {
          found.push({
            models,
            game,
            experiment,
            instance,
            path: join(resultsDir, models, game, experiment, instance),
          });
        }
      }
    }
  }
  return found;
}

/**
 * The episode scores of a scores.json. clembench writes NaN (not JSON) where a score does not apply; it reads here
 * as null, as clemplay writes it.
 */
export function parseEpisodeScores(text: string): Record<string, ScoreValue> | null {
  const parsed: unknown = JSON.parse(text.replace(/:\s*-?(?:NaN|Infinity)\b/g, ': null'));
  if (!isJsonObject(parsed) || !isJsonObject(parsed['episode scores'])) return null;
  const scores: Record<string, ScoreValue> = {};
  for (const [name, value] of Object.entries(parsed['episode scores'])) {
    scores[name] = typeof value === 'number' ? value : null;
  }
  return scores;
}

/** The episode scores of every complete episode (one with a scores.json) in a results folder, or in `only`. */
export async function readEpisodeScores(resultsDir: string, only?: readonly string[]): Promise<EpisodeScoreRecord[]> {
  const records: EpisodeScoreRecord[] = [];
  for (const folder of await findEpisodeFolders(resultsDir, only)) {
    let text: string;
    try {
      text = await readFile(join(folder.path, 'scores.json'), 'utf8');
    } catch {
      continue;
    }
    const episodeScores = parseEpisodeScores(text);
    if (episodeScores !== null) records.push({ models: folder.models, game: folder.game, episodeScores });
  }
  return records;
}

/** Evaluates a results folder and writes results.csv and results.html into it. */
export async function evaluateResults(resultsDir: string): Promise<EvalResult> {
  const result = evaluate(await readEpisodeScores(resultsDir));
  await writeFile(join(resultsDir, 'results.csv'), resultsCsv(result));
  await writeFile(join(resultsDir, 'results.html'), resultsHtml(result));
  return result;
}

/** Writes transcript.html again for every episode folder with an interactions.json; returns how many it wrote. */
export async function transcribeResults(resultsDir: string): Promise<{ written: number; skipped: string[] }> {
  let written = 0;
  const skipped: string[] = [];
  for (const folder of await findEpisodeFolders(resultsDir)) {
    let interactions: unknown;
    try {
      interactions = JSON.parse(await readFile(join(folder.path, 'interactions.json'), 'utf8'));
    } catch {
      skipped.push(folder.path);
      continue;
    }
    if (!isJsonObject(interactions) || !Array.isArray(interactions.turns) || !isJsonObject(interactions.meta)) {
      skipped.push(folder.path);
      continue;
    }
    await writeFile(join(folder.path, 'transcript.html'), renderTranscript(interactions as unknown as Interactions));
    written += 1;
  }
  return { written, skipped };
}

/** Where an episode of a results folder stands: ended by the rules, failed with an error, or not finished. */
export type SavedEpisodeStatus = Outcome | 'error' | 'incomplete';

/** One episode of a results folder. */
export interface SavedEpisode {
  models: string;
  game: string;
  experiment: string;
  /** The instance folder's name (`instance_00003`). */
  instance: string;
  status: SavedEpisodeStatus;
  /** Its Main Score; null when it has none (aborted, failed, not finished). */
  main_score: number | null;
}

/** The scores of some models folders: eval (% played, quality score, clemscore) and every episode's outcome. */
export interface RunResults {
  eval: EvalResult;
  episodes: SavedEpisode[];
}

function statusOf(scores: Record<string, ScoreValue>): SavedEpisodeStatus {
  if (scores[metrics.aborted] === 1) return 'aborted';
  if (scores[metrics.success] === 1) return 'success';
  return 'lose';
}

/** The results of the models folders `folders` (of the games `games`, where given): eval and every episode. */
export async function readRunResults(
  resultsDir: string,
  folders: readonly string[],
  games?: readonly string[],
): Promise<RunResults> {
  const records: EpisodeScoreRecord[] = [];
  const episodes: SavedEpisode[] = [];
  for (const folder of await findEpisodeFolders(resultsDir, folders)) {
    if (games !== undefined && !games.includes(folder.game)) continue;
    const { models, game, experiment, instance } = folder;
    let episodeScores: Record<string, ScoreValue> | null = null;
    try {
      episodeScores = parseEpisodeScores(await readFile(join(folder.path, 'scores.json'), 'utf8'));
    } catch {
      // No scores (yet): failed, or cut off by a stop.
    }
    if (episodeScores === null) {
      const failed = await exists(join(folder.path, 'error.json'));
      episodes.push({ models, game, experiment, instance, status: failed ? 'error' : 'incomplete', main_score: null });
      continue;
    }
    records.push({ models, game, episodeScores });
    const main = episodeScores[metrics.mainScore];
    episodes.push({
      models,
      game,
      experiment,
      instance,
      status: statusOf(episodeScores),
      main_score: typeof main === 'number' ? main : null,
    });
  }
  return { eval: evaluate(records), episodes };
}

/** One episode read back from its folder: who played, its messages as a transcript, and how it ended. */
export interface SavedEpisodeTranscript {
  players: RunPlayer[];
  messages: TranscriptMessage[];
  status: SavedEpisodeStatus;
}

/** The transcript of an episode folder (`<models>/<game>/<experiment>/<instance>`); `not-found` without a record. */
export async function readEpisodeTranscript(
  resultsDir: string,
  place: Pick<SavedEpisode, 'models' | 'game' | 'experiment' | 'instance'>,
): Promise<SavedEpisodeTranscript> {
  const directory = join(resultsDir, place.models, place.game, place.experiment, place.instance);
  let interactions: unknown;
  try {
    interactions = JSON.parse(await readFile(join(directory, 'interactions.json'), 'utf8'));
  } catch {
    throw new AppError('not-found', `there is no readable interactions.json in ${directory}`);
  }
  if (!isJsonObject(interactions) || !Array.isArray(interactions.turns)) {
    throw new AppError('corrupt', `${join(directory, 'interactions.json')} is not an interactions record`);
  }
  const record = interactions as unknown as Interactions;
  const players: RunPlayer[] = [];
  for (const [name, player] of Object.entries(isJsonObject(record.players) ? record.players : {})) {
    const match = /^Player (\d+)$/.exec(name);
    if (match === null) continue;
    const index = Number(match[1]) - 1;
    const described: JsonObject = isJsonObject(player) ? player : {};
    const spec = isJsonObject(record.player_models) ? record.player_models[name] : undefined;
    players[index] = {
      id: playerSpeaker(index),
      role: typeof described.game_role === 'string' ? described.game_role : name,
      model: typeof described.model_name === 'string' ? described.model_name : typeof player === 'string' ? player : '',
      backend: isJsonObject(spec) && typeof spec.backend === 'string' ? spec.backend : '',
    };
  }
  const outcome = outcomeOf(record);
  const status: SavedEpisodeStatus =
    outcome ?? ((await exists(join(directory, 'error.json'))) ? 'error' : 'incomplete');
  return { players: players.filter((player) => player !== undefined), messages: episodeMessages(record), status };
}

/** A models folder of the results folder as its run.json describes it. */
export interface SavedRun {
  /** The models folder's name. */
  folder: string;
  /** When the folder was first written, ISO 8601; null when run.json does not say. */
  created: string | null;
  /** When a run last started or ended there, ISO 8601; null when unknown. */
  last_run: string | null;
  /** The games played there. */
  games: string[];
  /** The players' model names, in role order. */
  models: string[];
  /** What was asked (when clemplay 0.1 or later wrote it), so the run can be played again. */
  request: SavedRunRequest | null;
}

function isoOrNull(value: unknown): string | null {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : null;
}

/** A run.json's request, when it is one (a file edited by hand or by another tool is only shown, not played). */
function savedRequestOf(value: unknown): SavedRunRequest | null {
  const parsed = savedRunRequestSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** The runs of a results folder (one per models folder with a run.json), newest first; none when it does not exist. */
export async function listSavedRuns(resultsDir: string): Promise<SavedRun[]> {
  let folders: string[];
  try {
    folders = await subfolders(resultsDir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  const runs: SavedRun[] = [];
  for (const folder of folders) {
    let data: unknown;
    try {
      data = JSON.parse(await readFile(join(resultsDir, folder, 'run.json'), 'utf8'));
    } catch {
      continue;
    }
    if (!isJsonObject(data)) continue;
    const games = isJsonObject(data.games) ? data.games : {};
    const times = Object.values(games)
      .flatMap((entry) => (isJsonObject(entry) ? [entry.benchmark_end, entry.benchmark_start] : []))
      .map(isoOrNull)
      .filter((time): time is string => time !== null)
      .sort();
    const players = isJsonObject(data.player_models) ? data.player_models : {};
    const models = Object.keys(players)
      .sort()
      .map((name) => {
        const spec = players[name];
        return isJsonObject(spec) && typeof spec.model_name === 'string' ? spec.model_name : name;
      });
    runs.push({
      folder,
      created: isoOrNull(data.created),
      last_run: times.at(-1) ?? null,
      games: Object.keys(games),
      models,
      // From disk: played again only when it is a request clemplay would take from the API.
      request: savedRequestOf(data.request),
    });
  }
  return runs.sort((a, b) => (b.last_run ?? '').localeCompare(a.last_run ?? ''));
}
