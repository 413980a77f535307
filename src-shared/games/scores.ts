import { invalidFormatAction, type InteractionEvent, type Interactions, type Outcome } from './episode.js';

/** clembench's metric names (clemcore's `metrics.py`), as they appear in `scores.json`. */
export const metrics = {
  aborted: 'Aborted',
  lose: 'Lose',
  success: 'Success',
  requestCount: 'Request Count',
  parsedRequestCount: 'Parsed Request Count',
  violatedRequestCount: 'Violated Request Count',
  requestSuccessRatio: 'Request Success Ratio',
  mainScore: 'Main Score',
} as const;

/** A score; null where it does not apply (clembench writes NaN, e.g. the Main Score of an aborted episode). */
export type ScoreValue = number | null;

/** `scores.json`: per-round scores (keyed by the round's index, from 0) and the episode's scores. */
export interface EpisodeScores {
  'turn scores': Record<string, Record<string, ScoreValue>>;
  'episode scores': Record<string, ScoreValue>;
}

/** What a game adds to the common scoring. */
export interface GameScoring {
  /** The Main Score of a won episode of `rounds` rounds (lost episodes score 0, aborted ones none). */
  successScore(rounds: number): number;
  /** Game-specific scores of one round, given the rounds so far (e.g. taboo's `Accuracy`). */
  turnScores?(
    round: readonly InteractionEvent[],
    index: number,
    rounds: readonly (readonly InteractionEvent[])[],
  ): Record<string, ScoreValue>;
}

/** How an episode ended, from the outcome keys its game master logged; null while it has not ended. */
export function outcomeOf(interactions: Interactions): Outcome | null {
  if (interactions.Aborted === 1) return 'aborted';
  if (interactions.Success === 1) return 'success';
  if (interactions.Lose === 1) return 'lose';
  return null;
}

/** GM notes of this type in a round. */
export function notesOf(round: readonly InteractionEvent[], type: string): InteractionEvent[] {
  return round.filter((event) => event.from === 'GM' && event.to === 'GM' && event.action.type === type);
}

function requestCounts(round: readonly InteractionEvent[]): { requests: number; violated: number } {
  return {
    requests: round.filter((event) => event.action.type === 'get message').length,
    violated: notesOf(round, invalidFormatAction).length,
  };
}

/**
 * Scores an ended episode from its record alone, as clembench's scorers do (so a record can be scored again): a
 * request is an answer from a player; a violated request is one the game master could not parse (`invalid format`).
 */
export function scoreEpisode(interactions: Interactions, scoring: GameScoring): EpisodeScores {
  const outcome = outcomeOf(interactions);
  if (outcome === null) throw new Error('the episode has not ended: its record has no Aborted, Lose or Success');
  const rounds = interactions.turns;
  const turnScores: EpisodeScores['turn scores'] = {};
  let requests = 0;
  let violated = 0;
  rounds.forEach((round, index) => {
    const counts = requestCounts(round);
    requests += counts.requests;
    violated += counts.violated;
    turnScores[String(index)] = {
      [metrics.requestCount]: counts.requests,
      [metrics.parsedRequestCount]: counts.requests - counts.violated,
      [metrics.violatedRequestCount]: counts.violated,
      ...scoring.turnScores?.(round, index, rounds),
    };
  });
  const parsed = requests - violated;
  const mainScore = outcome === 'aborted' ? null : outcome === 'lose' ? 0 : scoring.successScore(rounds.length);
  return {
    'turn scores': turnScores,
    'episode scores': {
      [metrics.aborted]: outcome === 'aborted' ? 1 : 0,
      [metrics.lose]: outcome === 'lose' ? 1 : 0,
      [metrics.success]: outcome === 'success' ? 1 : 0,
      [metrics.requestCount]: requests,
      [metrics.parsedRequestCount]: parsed,
      [metrics.violatedRequestCount]: violated,
      [metrics.requestSuccessRatio]: requests === 0 ? 0 : parsed / requests,
      [metrics.mainScore]: mainScore,
    },
  };
}
