import { z } from 'zod';
import { entryWarnings } from '../../registry/registry-schema.js';
import type { RegistryChange } from '../../registry/registry-stack.js';
import { entryAddress, jsonObject } from '../schemas.js';
import { procedure, router } from '../trpc.js';

export const registryRouter = router({
  /** Every entry of the stack, highest priority first, as written in its file. */
  list: procedure.query(({ ctx }) => ctx.services.registry.entries()),

  get: procedure
    .input(entryAddress.pick({ file: true, index: true }))
    .query(({ ctx, input }) => ctx.services.registry.get(input.file, input.index)),

  /**
   * Entries and files (with their versions) from one moment: an editor that pairs a row with its file's version
   * must get both together, or a change in between would make a stale edit look current.
   */
  snapshot: procedure.query(({ ctx }) => ({
    entries: ctx.services.registry.entries(),
    files: ctx.services.registry.files(),
  })),

  /** The stack's files with their load status and problems. */
  files: procedure.query(({ ctx }) => ctx.services.registry.files()),

  /**
   * Creates (no index) or replaces (index) an entry; official entries are overridden in the user registry. Returns
   * where it is, and `warnings` (an unknown backend, a key of the wrong type) for an entry that saved but looks wrong.
   */
  save: procedure
    .input(
      z.object({
        file: z.string().min(1).max(4096).optional(),
        index: z.number().int().nonnegative().optional(),
        entry: jsonObject,
        version: z.string().max(128).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => ({
      ...(await ctx.services.registry.save(input)),
      warnings: entryWarnings(input.entry),
    })),

  duplicate: procedure
    .input(entryAddress)
    .mutation(({ ctx, input }) => ctx.services.registry.duplicate(input.file, input.index, input.version)),

  delete: procedure
    .input(entryAddress)
    .mutation(({ ctx, input }) => ctx.services.registry.remove(input.file, input.index, input.version)),

  /** Moves an entry one place up or down: earlier entries win lookups. */
  move: procedure
    .input(entryAddress.extend({ direction: z.enum(['up', 'down']) }))
    .mutation(({ ctx, input }) => ctx.services.registry.move(input.file, input.index, input.direction, input.version)),

  /** One event per change of a registry file (saved here, or edited outside the app). */
  changes: procedure.subscription(async function* ({ ctx, signal }): AsyncGenerator<RegistryChange> {
    const queue: RegistryChange[] = [];
    let wake: (() => void) | null = null;
    const stop = ctx.services.registry.onChange((change) => {
      queue.push(change);
      wake?.();
    });
    const aborted = new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
    try {
      while (!signal?.aborted) {
        const change = queue.shift();
        if (change !== undefined) {
          yield change;
          continue;
        }
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
        wake = null;
      }
    } finally {
      stop();
    }
  }),
});
