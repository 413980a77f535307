import { z } from 'zod';
import { queryInput } from '../api/schemas.js';

/** A game's name, as `games.list` gives it. */
export const gameNameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a game name such as "taboo"');

/**
 * What a run plays: games, one model (every role) or two (one per role), optionally only some experiments, the first
 * `instances` of each or the `instance_ids` given, a temperature (default 0) and max tokens. The API checks requests
 * with it, and a run.json read back from disk is checked with it before anything plays it again.
 */
export const runRequestSchema = z.strictObject({
  games: z.array(gameNameSchema).min(1).max(10),
  models: z.array(queryInput).min(1).max(2),
  experiments: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
  instance_ids: z.array(z.number().int().nonnegative()).min(1).max(10_000).optional(),
  instances: z.number().int().min(1).max(100_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
  max_tokens: z.number().int().min(1).max(1_000_000).optional(),
});

/** The request as run.json keeps it: a run request, and the instance file a `clemplay run --instances` used. */
export const savedRunRequestSchema = runRequestSchema.extend({
  instances_file: z.string().min(1).max(4096).optional(),
});
