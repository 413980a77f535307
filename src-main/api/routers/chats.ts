import { z } from 'zod';
import { chatIdSchema, chatSchema, createChat } from '../../chats/chat-schema.js';
import { queryInput } from '../schemas.js';
import { procedure, router } from '../trpc.js';

/** Saved chats: JSON files in the data folder, written atomically; deleting moves a chat to the trash folder. */
export const chatsRouter = router({
  /** Newest first; a file that cannot be read is listed as broken, never dropped. */
  list: procedure.query(({ ctx }) => ctx.services.chats.list()),
  /** A new, empty chat with a fresh id (not saved until `save`). */
  create: procedure
    .input(z.object({ spec_query: queryInput, system: z.string().max(100_000).optional() }))
    .mutation(({ input }) =>
      createChat({ spec_query: input.spec_query, ...(input.system === undefined ? {} : { system: input.system }) }),
    ),
  get: procedure.input(z.object({ id: chatIdSchema })).query(({ ctx, input }) => ctx.services.chats.get(input.id)),
  save: procedure.input(chatSchema).mutation(async ({ ctx, input }) => {
    await ctx.services.chats.save(input);
    return { id: input.id };
  }),
  delete: procedure
    .input(z.object({ id: chatIdSchema }))
    .mutation(async ({ ctx, input }) => ({ trashedTo: await ctx.services.chats.delete(input.id) })),
  /** The chat as a file to save: JSON, or Markdown for reading; secrets are stripped from both. */
  export: procedure
    .input(z.object({ id: chatIdSchema, format: z.enum(['json', 'markdown']) }))
    .query(async ({ ctx, input }) => ({
      format: input.format,
      content:
        input.format === 'json'
          ? await ctx.services.chats.exportJson(input.id)
          : await ctx.services.chats.exportMarkdown(input.id),
    })),
});
