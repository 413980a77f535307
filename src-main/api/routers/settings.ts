import { parse, resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../../src-shared/errors.js';
import { settingsSchema } from '../../settings/settings-store.js';
import { procedure, router } from '../trpc.js';

const folder = z
  .string()
  .min(1)
  .max(4096)
  .refine((text) => !text.includes('\0'), 'a folder path must not contain NUL bytes');

/** A models folder as saved: absolute; never the root of a file system, which a scan would walk whole. */
function modelsFolder(entry: string): string {
  const absolute = resolve(entry);
  if (parse(absolute).root === absolute) {
    throw new AppError(
      'invalid-input',
      `${absolute} is the root of the file system; pick the folder your models are in, such as ~/models.`,
      { folder: absolute },
    );
  }
  return absolute;
}

export const settingsRouter = router({
  /** The saved settings and the file they live in. Errors: invalid-input naming the file when it is broken. */
  get: procedure
    // Only the settings this version knows go out (settings.json may hold more).
    .output(z.object({ settings: z.object(settingsSchema.shape), path: z.string() }))
    .query(async ({ ctx }) => ({ settings: await ctx.services.settings.read(), path: ctx.services.settings.path })),

  /** Saves the CPU threads for local models whose spec sets none: `auto` (measured) or a count; applies to the next load. */
  setThreads: procedure
    .input(z.object({ threads: z.union([z.literal('auto'), z.number().int().min(1).max(1024)]) }))
    .output(z.object({ threads: z.union([z.literal('auto'), z.number()]) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.services.settings.update({ threads: input.threads });
      return { threads: input.threads };
    }),

  /** Saves the models folders (1 to 32; the first is where downloads go) and uses them at once. */
  setModelsDirs: procedure
    .input(z.object({ folders: z.array(folder).min(1).max(32) }))
    .output(z.object({ models_dirs: z.array(z.string()) }))
    .mutation(async ({ ctx, input }) => {
      // Saved first: a settings file that cannot be written must not leave this run on folders nobody saved.
      const folders = input.folders.map(modelsFolder);
      await ctx.services.settings.update({ models_dirs: folders });
      ctx.services.localModels.setModelsDirs(folders);
      return { models_dirs: folders };
    }),
});
