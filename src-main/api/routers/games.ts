import { tracked } from '@trpc/server';
import { z } from 'zod';
import { gameNameSchema, runRequestSchema } from '../../games/run-request.js';
import { procedure, router } from '../trpc.js';

/** One folder name of the results folder's layout: no path separator, never `.` or `..`, so it stays inside. */
const folderName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^/\\\0]+$/, 'a folder name, without "/" or "\\"')
  .refine((name) => !/^\.+$/.test(name), 'a folder name, not "." or ".."');
const runId = z.string().regex(/^run-[a-z0-9]{1,16}-[0-9a-f]{6}$/, 'a run id as `games.start` gives it');
const playerId = z.string().regex(/^player-[1-9]$/, 'a player such as "player-1"');

/**
 * Self-play games. A run is a job in main with an id: start it, subscribe to watch it (a snapshot, then its progress
 * and every message of its episodes; resuming after the last event id replays what was missed), stop it, resume it.
 * Runs write clembench's results layout into the app's results folder, whose runs, scores and episodes can be read.
 */
export const gamesRouter = router({
  /** The games, their roles (in the order models are bound to them) and the experiments of their instances. */
  list: procedure.query(({ ctx }) => ctx.services.games.games()),

  /**
   * Starts a run: games, one model (it plays every role) or two (one per role), optionally only some experiments,
   * the first `instances` of each, or the `instance_ids` given; temperature (default 0) and max tokens. Returns once
   * the models are resolved and the instances chosen; the run plays on in main.
   */
  start: procedure.input(runRequestSchema).mutation(({ ctx, input }) => ctx.services.games.start(input)),

  /** This process's runs (newest first) and the earlier runs of the results folder (one per models folder). */
  runs: procedure.query(({ ctx }) => ctx.services.games.list()),

  /** A run as it stands. */
  get: procedure.input(z.object({ id: runId })).query(({ ctx, input }) => ctx.services.games.view(input.id)),

  /**
   * A run's events: a `snapshot`, then its progress and each episode's messages and stream parts, each with an id.
   * After a dropped connection the client resumes with `lastEventId` and gets what it missed.
   */
  subscribe: procedure
    .input(z.object({ id: runId, lastEventId: z.string().max(100).nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      const stop = signal ?? new AbortController().signal;
      for await (const entry of ctx.services.games.subscribe(input.id, input.lastEventId, stop)) {
        yield tracked(entry.id, entry.event);
      }
    }),

  /** Stops a run; answers once it stopped. The episodes that finished are kept. */
  stop: procedure.input(z.object({ id: runId })).mutation(({ ctx, input }) => ctx.services.games.stop(input.id)),

  /** Plays a stopped or ended run of this process again, skipping the episodes already complete. */
  resume: procedure.input(z.object({ id: runId })).mutation(({ ctx, input }) => ctx.services.games.resume(input.id)),

  /** Plays an earlier run of the results folder again (as its run.json says), skipping complete episodes. */
  resumeSaved: procedure
    .input(z.object({ folder: folderName }))
    .mutation(({ ctx, input }) => ctx.services.games.resumeSaved(input.folder)),

  /** A person's answer for a human player of a run who was asked (its answer shows `human_request`). */
  humanReply: procedure
    .input(z.object({ run: runId, player: playerId, text: z.string().max(100_000) }))
    .mutation(({ ctx, input }) => {
      ctx.services.games.humanReply(input.run, input.player, input.text);
      return { ok: true as const };
    }),

  /**
   * The scores of models folders of the results folder (of some games, where given): eval rows with % played,
   * quality score and clemscore per game, each folder's overall clemscore, and every episode's outcome.
   */
  results: procedure
    .input(z.object({ folders: z.array(folderName).min(1).max(50), games: z.array(gameNameSchema).max(10).optional() }))
    .query(({ ctx, input }) => ctx.services.games.results(input.folders, input.games)),

  /** One episode of the results folder as a transcript (its interactions.json). */
  episode: procedure
    .input(
      z.object({
        models: folderName,
        game: folderName,
        experiment: folderName,
        instance: z.string().regex(/^instance_\d{5,}$/, 'an instance folder such as "instance_00003"'),
      }),
    )
    .query(({ ctx, input }) => ctx.services.games.episode(input)),
});
