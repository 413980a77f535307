import { z } from 'zod';

/**
 * What every registry entry must have (clembench/clemcore's rule): a string `model_name` and `backend`. Anything else
 * is kept as it is, so clemcore's nested `model_config` form and its older flat form both pass unchanged.
 */
export const registryEntrySchema = z
  .looseObject({
    model_name: z.string().min(1).describe('The name a query selects this entry by; "?name" makes it a variable.'),
    backend: z.string().min(1).describe('openai, openai_compatible, llamacpp, programmatic, human, …'),
    lookup_source: z.string().optional().describe('The registry this entry belongs to; set by the loader if absent.'),
    model_config: z
      .looseObject({})
      .optional()
      .describe('Backend settings (clemcore form): eos_to_cull, custom_chat_template, extra_body, …'),
  })
  .describe('One model spec of a clemplay / clembench model registry.');

/** A registry file: a list of entries (or, as clemcore also accepts, one entry on its own). */
export const registryFileSchema = z
  .union([z.array(registryEntrySchema), registryEntrySchema])
  .describe('A clemplay / clembench model registry file.');

/** The JSON Schema of a registry file, as written to registry/model_registry.schema.json (for Monaco and tools). */
export function registryJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://clemplay.local/model_registry.schema.json',
    title: 'clemplay model registry',
    ...z.toJSONSchema(registryFileSchema, { target: 'draft-2020-12' }),
  };
}
