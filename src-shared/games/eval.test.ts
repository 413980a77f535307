import { describe, expect, it } from 'vitest';
import { evaluate, resultsCsv, type EpisodeScoreRecord } from './eval.js';

function episode(models: string, game: string, aborted: number, main: number | null): EpisodeScoreRecord {
  return { models, game, episodeScores: { Aborted: aborted, 'Main Score': main } };
}

// A known set of episodes, computed by hand:
// A on taboo: 4 episodes, one aborted → played 75%; quality mean(100, 50, 0) = 50; std 50.
// A on wordle: 2 episodes, none aborted → played 100%; quality mean(100, 20) = 60; std 56.57.
// A overall: played (75 + 100) / 2 = 87.5, quality (50 + 60) / 2 = 55, clemscore 0.875 × 55 = 48.13 (48.125).
// B on taboo: 3 episodes, all aborted → played 0; quality none; clemscore 0.
const records: EpisodeScoreRecord[] = [
  episode('A', 'taboo', 0, 100),
  episode('A', 'taboo', 0, 50),
  episode('A', 'taboo', 0, 0),
  episode('A', 'taboo', 1, null),
  episode('A', 'wordle', 0, 100),
  episode('A', 'wordle', 0, 20),
  episode('B', 'taboo', 1, null),
  episode('B', 'taboo', 1, null),
  episode('B', 'taboo', 1, null),
];

describe('evaluate', () => {
  it('computes % played, quality score and clemscore per game and model pair, and overall', () => {
    const result = evaluate(records);
    expect(result.rows).toEqual([
      {
        game: 'taboo',
        models: 'A',
        episodes: 4,
        played: 75,
        quality_score: 50,
        quality_score_std: 50,
        clemscore: 37.5,
      },
      {
        game: 'taboo',
        models: 'B',
        episodes: 3,
        played: 0,
        quality_score: null,
        quality_score_std: null,
        clemscore: 0,
      },
      {
        game: 'wordle',
        models: 'A',
        episodes: 2,
        played: 100,
        quality_score: 60,
        quality_score_std: 56.57,
        clemscore: 60,
      },
    ]);
    expect(result.overall).toEqual([
      { models: 'A', played: 87.5, quality_score: 55, clemscore: 48.13 },
      { models: 'B', played: 0, quality_score: null, clemscore: 0 },
    ]);
    expect(result.clemscore).toBeNull();
  });

  it('gives the overall clemscore at the top when there is one model pair', () => {
    expect(evaluate(records.filter((record) => record.models === 'A')).clemscore).toBe(48.13);
    expect(evaluate([])).toEqual({ rows: [], overall: [], clemscore: null });
  });

  it("writes clembench's results.csv columns", () => {
    expect(resultsCsv(evaluate(records))).toBe(
      [
        ',"-, clemscore","all, Average % Played","all, Average Quality Score","taboo, % Played","taboo, Quality Score","taboo, Quality Score (std)","wordle, % Played","wordle, Quality Score","wordle, Quality Score (std)"',
        'A,48.13,87.5,55,75,50,50,100,60,56.57',
        'B,0,0,,0,,,,,',
        '',
      ].join('\n'),
    );
  });
});
