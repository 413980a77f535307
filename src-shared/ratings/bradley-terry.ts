import { seededRandom } from '../random.js';

/** One comparison between two models: which one a person preferred, or a tie. */
export interface Comparison {
  a: string;
  b: string;
  winner: 'a' | 'b' | 'tie';
}

/** One row of a leaderboard. */
export interface RatingRow {
  model: string;
  /** Bradley–Terry strength on the Elo scale: 1000 is the average model, +400 means 10:1 odds of being preferred. */
  rating: number;
  /** The 95% bootstrap interval of the rating (2.5th and 97.5th percentiles). */
  low: number;
  high: number;
  /** Comparisons the model took part in. */
  votes: number;
  wins: number;
  losses: number;
  ties: number;
}

/** Options of {@link bradleyTerry}. */
export interface BradleyTerryOptions {
  /**
   * Virtual games, half won and half lost, of every model against an average opponent (strength 1, rating 1000).
   * They keep an unbeaten model's rating finite and pull models with few votes toward the average; 0 gives the plain
   * maximum-likelihood estimate (which exists only when every model has both won and lost, ties counting half).
   * Default 1.
   */
  prior?: number;
}

const iterationLimit = 10_000;
const tolerance = 1e-12;

/**
 * Bradley–Terry strengths by the MM algorithm (Hunter 2004): P(i preferred to j) = p_i / (p_i + p_j), a tie counting
 * half a win for each side. Returns each model's strength; the geometric mean is 1 when `prior` is 0, otherwise the
 * virtual average opponent anchors the scale.
 */
export function bradleyTerry(
  comparisons: readonly Comparison[],
  options: BradleyTerryOptions = {},
): Map<string, number> {
  const prior = options.prior ?? 1;
  const models = [...new Set(comparisons.flatMap((comparison) => [comparison.a, comparison.b]))].sort();
  const index = new Map(models.map((model, position) => [model, position]));
  const size = models.length;
  const wins = new Float64Array(size).fill(prior / 2);
  const games: Float64Array[] = models.map(() => new Float64Array(size));
  for (const { a, b, winner } of comparisons) {
    const i = index.get(a)!;
    const j = index.get(b)!;
    if (i === j) continue;
    games[i]![j]! += 1;
    games[j]![i]! += 1;
    if (winner === 'a') wins[i]! += 1;
    else if (winner === 'b') wins[j]! += 1;
    else {
      wins[i]! += 0.5;
      wins[j]! += 0.5;
    }
  }
  let strength = new Float64Array(size).fill(1);
  for (let iteration = 0; iteration < iterationLimit; iteration += 1) {
    const next = new Float64Array(size);
    for (let i = 0; i < size; i += 1) {
      let denominator = prior / (strength[i]! + 1);
      for (let j = 0; j < size; j += 1) {
        const count = games[i]![j]!;
        if (count > 0) denominator += count / (strength[i]! + strength[j]!);
      }
      next[i] = denominator > 0 ? wins[i]! / denominator : 1;
    }
    if (prior === 0) {
      // Without an anchor the scale is free: fix the geometric mean at 1.
      const logMean = next.reduce((sum, value) => sum + Math.log(Math.max(value, Number.MIN_VALUE)), 0) / size;
      for (let i = 0; i < size; i += 1) next[i] = next[i]! / Math.exp(logMean);
    }
    const change = next.reduce(
      (largest, value, i) => Math.max(largest, Math.abs(value - strength[i]!) / strength[i]!),
      0,
    );
    strength = next;
    if (change < tolerance) break;
  }
  return new Map(models.map((model, i) => [model, strength[i]!]));
}

/** A strength on the Elo scale: 1000 + 400 · log10(strength). */
export function eloScale(strength: number): number {
  return 1000 + 400 * Math.log10(strength);
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * fraction;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/** Options of {@link leaderboard}. */
export interface LeaderboardOptions extends BradleyTerryOptions {
  /** Bootstrap resamples for the interval; default 200. */
  resamples?: number;
  /** Seed of the resampling; default 1. */
  seed?: number;
}

/**
 * Ratings from all comparisons, best first: Bradley–Terry on the Elo scale, with a 95% interval from resampling the
 * comparisons (a model missing from a resample keeps no rating there; its interval comes from the others).
 */
export function leaderboard(comparisons: readonly Comparison[], options: LeaderboardOptions = {}): RatingRow[] {
  const strengths = bradleyTerry(comparisons, options);
  const samples = new Map<string, number[]>([...strengths.keys()].map((model) => [model, []]));
  const random = seededRandom(options.seed ?? 1);
  const resamples = comparisons.length === 0 ? 0 : (options.resamples ?? 200);
  for (let round = 0; round < resamples; round += 1) {
    const drawn = comparisons.map(() => comparisons[Math.floor(random() * comparisons.length)]!);
    for (const [model, strength] of bradleyTerry(drawn, options)) samples.get(model)?.push(eloScale(strength));
  }
  const rows = [...strengths].map(([model, strength]): RatingRow => {
    const own = comparisons.filter((comparison) => comparison.a === model || comparison.b === model);
    const won = own.filter(
      (comparison) =>
        (comparison.winner === 'a' && comparison.a === model) || (comparison.winner === 'b' && comparison.b === model),
    );
    const ties = own.filter((comparison) => comparison.winner === 'tie').length;
    const sorted = [...(samples.get(model) ?? [])].sort((left, right) => left - right);
    const rating = eloScale(strength);
    return {
      model,
      rating,
      low: sorted.length > 0 ? percentile(sorted, 0.025) : rating,
      high: sorted.length > 0 ? percentile(sorted, 0.975) : rating,
      votes: own.length,
      wins: won.length,
      losses: own.length - won.length - ties,
      ties,
    };
  });
  return rows.sort((left, right) => right.rating - left.rating || left.model.localeCompare(right.model));
}
