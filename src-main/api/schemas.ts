import { z } from 'zod';
import { isJsonObject, type JsonObject } from '../../src-shared/json.js';

/** Any JSON object (a model spec, a registry entry). */
export const jsonObject = z.custom<JsonObject>(isJsonObject, { message: 'expected a JSON object' });

/** A query: a model name, a JSON string of a spec, or a spec object. */
export const queryInput = z.union([z.string().min(1).max(100_000), jsonObject]);

/** Where an entry is: its registry file (absolute path, as `registry.files` lists it) and its 0-based position. */
export const entryAddress = z.object({
  file: z.string().min(1).max(4096),
  index: z.number().int().nonnegative(),
  /** The file version (from `registry.files`) the caller saw; a mismatch is a `conflict`. */
  version: z.string().max(128).optional(),
});
