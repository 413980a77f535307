import { z } from 'zod';
import { streamChat } from '../../chat/chat-service.js';
import { queryInput } from '../schemas.js';
import { procedure, router } from '../trpc.js';

const chatMessage = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  /** The message text; at most 1,000,000 characters. */
  content: z.string().max(1_000_000),
});

/** Per-call generation options; each overrides the spec's value of the same name. */
export const generationOptionsInput = z.strictObject({
  /** 0..2. */
  temperature: z.number().min(0).max(2).optional(),
  /** Upper bound on generated tokens. */
  max_tokens: z.number().int().positive().max(1_000_000).optional(),
  /** 0..1. */
  top_p: z.number().min(0).max(1).optional(),
  seed: z.number().int().optional(),
  /** Up to 16 stop strings. */
  stop: z.array(z.string().min(1).max(1000)).max(16).optional(),
});

export const chatRouter = router({
  /**
   * Streams one reply: first `{ type: 'resolved', spec, source }`, then text/reasoning deltas, usage,
   * `human-input-needed` (answer with chat.humanReply), and one final `end` or `error`. Unsubscribing stops it.
   */
  stream: procedure
    .input(
      z.object({
        query: queryInput,
        messages: z.array(chatMessage).min(1).max(10_000),
        options: generationOptionsInput.optional(),
      }),
    )
    .subscription(({ ctx, input, signal }) => streamChat(ctx.services, input, signal ?? new AbortController().signal)),

  /** The person's answer to a `human-input-needed` part. Errors: not-found when nobody waits for that id. */
  humanReply: procedure
    .input(z.object({ request_id: z.string().min(1).max(100), text: z.string().max(1_000_000) }))
    .mutation(({ ctx, input }) => {
      ctx.services.humanInput.reply(input.request_id, input.text);
      return { ok: true as const };
    }),
});
