import { z } from 'zod';
import { settingsSchema } from '../../settings/settings-store.js';
import { procedure, router } from '../trpc.js';

const folder = z.string().min(1).max(4096);

export const settingsRouter = router({
  /** The saved settings and the file they live in. Errors: invalid-input naming the file when it is broken. */
  get: procedure
    .output(z.object({ settings: settingsSchema, path: z.string() }))
    .query(async ({ ctx }) => ({ settings: await ctx.services.settings.read(), path: ctx.services.settings.path })),

  /** Saves the models folders (1 to 32; the first is where downloads go) and uses them at once. */
  setModelsDirs: procedure
    .input(z.object({ folders: z.array(folder).min(1).max(32) }))
    .output(z.object({ models_dirs: z.array(z.string()) }))
    .mutation(async ({ ctx, input }) => {
      ctx.services.localModels.setModelsDirs(input.folders);
      const folders = [...ctx.services.localModels.modelsDirs];
      await ctx.services.settings.update({ models_dirs: folders });
      return { models_dirs: folders };
    }),
});
