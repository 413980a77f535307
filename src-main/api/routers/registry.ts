import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AppError } from '../../../src-shared/errors.js';
import { isJsonObject, type JsonObject } from '../../../src-shared/json.js';
import { procedure, router } from '../trpc.js';

const jsonObject = z.custom<JsonObject>(isJsonObject, { message: 'expected a JSON object' });

const listedEntry = z.object({
  /** The entry as written in its file. */
  entry: jsonObject,
  /** Position of the entry in its file, from 0. */
  index: z.number().int().nonnegative(),
  /** Absolute path of the file. */
  file: z.string(),
});
/** One row of `registry.list`. */
export type ListedEntry = z.infer<typeof listedEntry>;

export const registryRouter = router({
  list: procedure.output(z.array(listedEntry)).query(async ({ ctx }) => {
    const file = ctx.services.officialRegistryPath;
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (!Array.isArray(parsed)) throw new AppError('invalid-spec', `${file}: expected a list of entries`);
    return parsed.filter(isJsonObject).map((entry, index) => ({ entry, index, file }));
  }),
});
