import { escapeHtml } from './html.js';
import { metrics, type ScoreValue } from './scores.js';

/** One episode's scores, as eval reads them from `<models>/<game>/…/scores.json`. */
export interface EpisodeScoreRecord {
  /** The models folder's name. */
  models: string;
  game: string;
  episodeScores: Record<string, ScoreValue>;
}

/** One game for one model pair. */
export interface EvalRow {
  game: string;
  models: string;
  /** Episodes with scores. */
  episodes: number;
  /** Share of episodes not aborted, in percent (0..100). */
  played: number;
  /** Mean Main Score of the episodes played (0..100); null when none was played. */
  quality_score: number | null;
  /** Sample standard deviation of those Main Scores; null with fewer than two. */
  quality_score_std: number | null;
  /** (played / 100) × quality_score; 0 when nothing was played. */
  clemscore: number;
}

/** One model pair over all its games: the macro averages, and clembench's clemscore from them. */
export interface EvalOverall {
  models: string;
  /** Mean of the games' % played. */
  played: number;
  /** Mean of the games' quality scores (games with none left out); null when no game has one. */
  quality_score: number | null;
  /** (played / 100) × quality_score; 0 when nothing was played. */
  clemscore: number;
}

/** Eval of a results folder. */
export interface EvalResult {
  rows: EvalRow[];
  overall: EvalOverall[];
  /** The overall clemscore when the results hold one model pair; null when they hold several (see `overall`). */
  clemscore: number | null;
}

/** Two decimals, as clembench's tables round. */
function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function sampleStd(values: readonly number[]): number | null {
  const average = mean(values);
  if (average === null || values.length < 2) return null;
  return Math.sqrt(values.reduce((sum, value) => sum + (value - average) ** 2, 0) / (values.length - 1));
}

function clemscore(played: number, quality: number | null): number {
  return played === 0 || quality === null ? 0 : round2((played / 100) * quality);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * clembench's eval: per game and model pair, % Played (episodes not aborted) and the Quality Score (mean Main Score
 * of the played ones); per model pair, both macro-averaged over games and clemscore = (% Played / 100) × Quality
 * Score. Figures are rounded to two decimals per game before they are averaged, as clembench does.
 */
export function evaluate(records: readonly EpisodeScoreRecord[]): EvalResult {
  const groups = new Map<string, { game: string; models: string; played: number[]; scores: number[] }>();
  for (const record of records) {
    const aborted = record.episodeScores[metrics.aborted];
    if (typeof aborted !== 'number') continue;
    const key = JSON.stringify([record.game, record.models]);
    let group = groups.get(key);
    if (group === undefined) {
      group = { game: record.game, models: record.models, played: [], scores: [] };
      groups.set(key, group);
    }
    group.played.push(1 - aborted);
    const score = record.episodeScores[metrics.mainScore];
    if (typeof score === 'number' && !Number.isNaN(score)) group.scores.push(score);
  }
  const rows: EvalRow[] = [...groups.values()]
    .map((group) => {
      const played = round2((mean(group.played) ?? 0) * 100);
      const quality = mean(group.scores);
      const std = sampleStd(group.scores);
      const qualityScore = quality === null ? null : round2(quality);
      return {
        game: group.game,
        models: group.models,
        episodes: group.played.length,
        played,
        quality_score: qualityScore,
        quality_score_std: std === null ? null : round2(std),
        clemscore: clemscore(played, qualityScore),
      };
    })
    .sort((a, b) => compare(a.game, b.game) || compare(a.models, b.models));
  const modelNames = [...new Set(rows.map((row) => row.models))].sort(compare);
  const overall = modelNames.map((models) => {
    const ofModels = rows.filter((row) => row.models === models);
    const played = round2(mean(ofModels.map((row) => row.played)) ?? 0);
    const qualities = ofModels.flatMap((row) => (row.quality_score === null ? [] : [row.quality_score]));
    const quality = mean(qualities);
    const qualityScore = quality === null ? null : round2(quality);
    return { models, played, quality_score: qualityScore, clemscore: clemscore(played, qualityScore) };
  });
  return { rows, overall, clemscore: overall.length === 1 ? overall[0]!.clemscore : null };
}

/** The table of clembench's results.csv/.html: one row per model pair, columns `<game>, <metric>`. */
function resultsTable(result: EvalResult): { header: string[]; rows: string[][] } {
  const gameNames = [...new Set(result.rows.map((row) => row.game))];
  const header = ['', '-, clemscore', 'all, Average % Played', 'all, Average Quality Score'];
  for (const game of gameNames)
    header.push(`${game}, % Played`, `${game}, Quality Score`, `${game}, Quality Score (std)`);
  const cell = (value: number | null | undefined): string =>
    value === null || value === undefined ? '' : String(value);
  const rows = result.overall.map((overall) => {
    const cells = [overall.models, cell(overall.clemscore), cell(overall.played), cell(overall.quality_score)];
    for (const game of gameNames) {
      const row = result.rows.find((candidate) => candidate.game === game && candidate.models === overall.models);
      cells.push(cell(row?.played), cell(row?.quality_score), cell(row?.quality_score_std));
    }
    return cells;
  });
  return { header, rows };
}

function csvCell(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** results.csv, in clembench's layout. */
export function resultsCsv(result: EvalResult): string {
  const table = resultsTable(result);
  return [table.header, ...table.rows].map((row) => row.map(csvCell).join(',')).join('\n') + '\n';
}

/** results.html: the same table as a page. */
export function resultsHtml(result: EvalResult): string {
  const table = resultsTable(result);
  const head = table.header.map((cell) => `<th>${escapeHtml(cell)}</th>`).join('');
  const body = table.rows
    .map(
      (row) =>
        `<tr>${row.map((cell, index) => (index === 0 ? `<th>${escapeHtml(cell)}</th>` : `<td>${escapeHtml(cell)}</td>`)).join('')}</tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>clemplay results</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
thead th { background: #f3f3f3; }
tbody th { text-align: left; }
</style>
</head>
<body>
<h1>Results</h1>
<table>
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody>
</table>
</body>
</html>
`;
}
