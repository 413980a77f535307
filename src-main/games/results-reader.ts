import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../src-shared/errors.js';
import type { Interactions } from '../../src-shared/games/episode.js';
import {
  evaluate,
  resultsCsv,
  resultsHtml,
  type EpisodeScoreRecord,
  type EvalResult,
} from '../../src-shared/games/eval.js';
import type { ScoreValue } from '../../src-shared/games/scores.js';
import { renderTranscript } from '../../src-shared/games/transcript.js';
import { isJsonObject } from '../../src-shared/json.js';
import { errnoCode } from '../credentials/json-file.js';

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

/** Every episode folder of a results folder in clembench's layout; `not-found` when the folder does not exist. */
export async function findEpisodeFolders(resultsDir: string): Promise<EpisodeFolder[]> {
  let modelsFolders: string[];
  try {
    modelsFolders = await subfolders(resultsDir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw new AppError('not-found', `there is no results folder ${resultsDir}`);
    throw error;
  }
  const found: EpisodeFolder[] = [];
  for (const models of modelsFolders) {
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

/** The episode scores of every complete episode (one with a scores.json) in a results folder. */
export async function readEpisodeScores(resultsDir: string): Promise<EpisodeScoreRecord[]> {
  const records: EpisodeScoreRecord[] = [];
  for (const folder of await findEpisodeFolders(resultsDir)) {
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
