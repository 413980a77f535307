import { tracked } from '@trpc/server';
import { z } from 'zod';
import { participantIdPattern } from '../../../src-shared/conversation/transcript.js';
import type { StartedTurn } from '../../conversation/session-engine.js';
import { generationOptionsSchema, sessionIdSchema } from '../../conversation/session-schema.js';
import { queryInput } from '../schemas.js';
import { procedure, router } from '../trpc.js';
import { voteWinners } from '../../../src-shared/conversation/session.js';

const participantId = z.string().regex(participantIdPattern, 'a participant id such as "model", "a" or "b"');
const messageId = z.string().min(1).max(100);
/** A system prompt: at most 100,000 characters. */
const systemPrompt = z.string().max(100_000);
/** A message: at most 1,000,000 characters. */
const messageText = z.string().max(1_000_000);

const participantInput = z.strictObject({
  query: queryInput,
  system: systemPrompt.optional(),
  options: generationOptionsSchema.optional(),
});

/** Replies run on in main; the API answers as soon as they started. A reply's failure is in its message. */
function started(turn: StartedTurn): { message_id: string; reply_ids: string[] } {
  turn.finished.catch((error: unknown) =>
    process.stderr.write(`clemplay: a reply failed unexpectedly: ${String(error)}\n`),
  );
  return { message_id: turn.message_id, reply_ids: turn.reply_ids };
}

/**
 * Conversations: sessions live in main with ids, outlive a socket and are saved as they go. Subscribe to a session to
 * see it (a snapshot, then every change; resuming after the last event id replays what was missed); the mutations
 * start, stop and change its turns and answer at once.
 */
export const sessionsRouter = router({
  /** Saved sessions (and chats saved by version 1), newest first; unreadable files are listed as broken. */
  list: procedure.query(({ ctx }) => ctx.services.sessions.list()),

  /**
   * A new session: `chat` (one model), `pair` (two, or `blind` with models drawn from a list), `dialogue` (two).
   * Queries are resolved now: no-match and invalid-spec errors name the model.
   */
  create: procedure
    .input(
      z.strictObject({
        kind: z.enum(['chat', 'pair', 'dialogue']),
        participants: z.array(participantInput).min(1).max(2).optional(),
        blind: z
          .strictObject({
            models: z.array(queryInput).min(2).max(100),
            system: systemPrompt.optional(),
            options: generationOptionsSchema.optional(),
          })
          .optional(),
        title: z.string().max(200).optional(),
      }),
    )
    .mutation(({ ctx, input }) => ctx.services.sessions.create(input)),

  get: procedure
    .input(z.object({ id: sessionIdSchema }))
    .query(({ ctx, input }) => ctx.services.sessions.get(input.id)),

  /**
   * The session's events: a `snapshot`, then messages, stream parts, participant and session changes, each with an id.
   * After a dropped connection the client resumes with `lastEventId` and gets what it missed, then the live rest.
   */
  subscribe: procedure
    .input(z.object({ id: sessionIdSchema, lastEventId: z.string().max(100).nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      const stop = signal ?? new AbortController().signal;
      for await (const entry of ctx.services.sessions.subscribe(input.id, input.lastEventId, stop, ctx.pace)) {
        yield tracked(entry.id, entry.event);
      }
    }),

  /** Sends the person's message to the participants `to` (default all); their replies start at once. */
  send: procedure
    .input(z.object({ id: sessionIdSchema, text: messageText, to: z.array(participantId).min(1).max(8).optional() }))
    .mutation(async ({ ctx, input }) => started(await ctx.services.sessions.send(input.id, input.text, input.to))),

  /** A new version of a model's reply; the earlier versions (and what followed them) are kept. */
  regenerate: procedure
    .input(z.object({ id: sessionIdSchema, message_id: messageId }))
    .mutation(async ({ ctx, input }) => started(await ctx.services.sessions.regenerate(input.id, input.message_id))),

  /** Edits one of the person's messages (a new version) and asks the same participants again. */
  edit: procedure
    .input(z.object({ id: sessionIdSchema, message_id: messageId, text: messageText }))
    .mutation(async ({ ctx, input }) =>
      started(await ctx.services.sessions.edit(input.id, input.message_id, input.text)),
    ),

  /** Makes version `version` (0-based) of a message current, with what followed it then. */
  selectVersion: procedure
    .input(z.object({ id: sessionIdSchema, message_id: messageId, version: z.number().int().nonnegative() }))
    .mutation(({ ctx, input }) => ctx.services.sessions.selectVersion(input.id, input.message_id, input.version)),

  /** A and B talk for `turns` replies (1..1000) from an opening message sent to A. */
  dialogue: procedure
    .input(z.object({ id: sessionIdSchema, opening: messageText, turns: z.number().int().min(1).max(1000) }))
    .mutation(async ({ ctx, input }) => {
      const { finished } = await ctx.services.sessions.startDialogue(input.id, input.opening, input.turns);
      finished.catch((error: unknown) => process.stderr.write(`clemplay: a dialogue failed: ${String(error)}\n`));
      return { ok: true as const };
    }),

  /** Stops one participant's reply, or everything running in the session. */
  stop: procedure
    .input(z.object({ id: sessionIdSchema, participant: participantId.optional() }))
    .mutation(async ({ ctx, input }) => {
      await ctx.services.sessions.stop(input.id, input.participant);
      return { ok: true as const };
    }),

  /** The person's answer for a human participant that was asked (its reply shows `human_request`). */
  humanReply: procedure
    .input(z.object({ id: sessionIdSchema, participant: participantId, text: messageText }))
    .mutation(async ({ ctx, input }) => {
      await ctx.services.sessions.humanReply(input.id, input.participant, input.text);
      return { ok: true as const };
    }),

  /** Changes a participant's model (resolved now), system prompt or generation options; saved with the session. */
  configure: procedure
    .input(
      z.object({
        id: sessionIdSchema,
        participant: participantId,
        query: queryInput.optional(),
        system: systemPrompt.optional(),
        options: generationOptionsSchema.optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const { id, participant, ...change } = input;
      return ctx.services.sessions.configure(id, participant, change);
    }),

  /** Resolves a participant's query again after the registry changed ("registry changed — re-resolve?"). */
  reResolve: procedure
    .input(z.object({ id: sessionIdSchema, participant: participantId }))
    .mutation(({ ctx, input }) => ctx.services.sessions.reResolve(input.id, input.participant)),

  /** The blind vote: A better, B better, a tie or both bad; saved, then the models are revealed. */
  vote: procedure
    .input(z.object({ id: sessionIdSchema, winner: z.enum(voteWinners) }))
    .mutation(({ ctx, input }) => ctx.services.sessions.vote(input.id, input.winner)),

  rename: procedure
    .input(z.object({ id: sessionIdSchema, title: z.string().max(200) }))
    .mutation(({ ctx, input }) => ctx.services.sessions.rename(input.id, input.title)),

  /** Moves the session to the trash folder (from where a person can bring the file back). */
  delete: procedure
    .input(z.object({ id: sessionIdSchema }))
    .mutation(async ({ ctx, input }) => ({ trashedTo: await ctx.services.sessions.delete(input.id) })),

  /** The session as a file to save: JSON, or Markdown for reading; secrets stripped; blind ones after the vote. */
  export: procedure
    .input(z.object({ id: sessionIdSchema, format: z.enum(['json', 'markdown']) }))
    .query(async ({ ctx, input }) => ({
      format: input.format,
      content: await ctx.services.sessions.export(input.id, input.format),
    })),

  /** Ratings from every blind vote (Bradley–Terry on the Elo scale, 95% bootstrap interval), best first. */
  leaderboard: procedure.query(({ ctx }) => ctx.services.votes.leaderboard()),
});
