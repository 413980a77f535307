import { z } from 'zod';
import type { JsonObject } from '../../src-shared/json.js';
import { backendNames, unknownBackendMessage } from '../backends/loader.js';

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

/**
 * The keys clemplay itself reads, with their types: for advice (warnings on save, completions and hover docs in the
 * editor), never to refuse a file. clemcore files with other backends or keys still load; the editor only warns.
 */
export const registryEntryAdviceSchema = registryEntrySchema
  .extend({
    backend: z.enum(backendNames).describe('How clemplay reaches the model: ' + backendNames.join(', ') + '.'),
    model_id: z.string().optional().describe('The id sent to the server; default model_name.'),
    base_url: z.string().optional().describe('The server, e.g. http://127.0.0.1:8080/v1 (openai_compatible).'),
    temperature: z.number().min(0).max(2).optional().describe('Sampling temperature, 0 to 2; default the backend’s.'),
    max_tokens: z.number().int().positive().optional().describe('Most tokens in a reply.'),
    top_p: z.number().min(0).max(1).optional().describe('Nucleus sampling, 0 to 1.'),
    seed: z.number().int().optional().describe('Random seed, for repeatable sampling where the backend allows.'),
    stop: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .describe('Text (or texts) that ends a reply.'),
    open_weight: z.boolean().optional().describe('Whether the weights are public (clembench metadata).'),
    context_size: z
      .union([z.string(), z.number()])
      .optional()
      .describe('Context window: tokens, or "128k" (metadata; llamacpp: "auto" or tokens).'),
    model_path: z.string().optional().describe('llamacpp: a local .gguf file.'),
    model_uri: z.string().optional().describe('llamacpp: hf:user/repo:quant, hf:user/repo/file.gguf or an https URL.'),
    gpu_layers: z
      .union([z.enum(['auto', 'max']), z.number().int().min(0)])
      .optional()
      .describe('llamacpp: layers on the GPU; default auto.'),
    threads: z
      .union([z.literal('auto'), z.number().int().min(1)])
      .optional()
      .describe('llamacpp: CPU threads; default auto.'),
    timeout_s: z.number().positive().optional().describe('Seconds to wait for the first token; default 120.'),
    stall_timeout_s: z.number().positive().optional().describe('Seconds without a chunk before giving up; default 30.'),
    retries: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Tries after the first for 429, 5xx and network errors; default 2.'),
  })
  .describe('One model spec of a clemplay model registry, with the keys clemplay reads.');

/** The JSON Schema of one entry with the keys clemplay reads (registry/model_registry.entry.schema.json). */
export function registryEntryAdviceJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://clemplay.local/model_registry.entry.schema.json',
    title: 'clemplay model registry entry',
    ...z.toJSONSchema(registryEntryAdviceSchema, { target: 'draft-2020-12' }),
  };
}

/**
 * What an entry that will be saved anyway probably gets wrong, one sentence each: an unknown backend (with the way to
 * reach it, for clemcore's), or a key clemplay reads with a value of the wrong type (`temperature: "hot"`).
 */
export function entryWarnings(entry: JsonObject): string[] {
  const checked = registryEntryAdviceSchema.safeParse(entry);
  if (checked.success) return [];
  return checked.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    const backend = entry['backend'];
    if (path === 'backend' && typeof backend === 'string') return unknownBackendMessage(backend);
    return `${path}: ${issue.message.replace(/^Invalid input: /, '')}, not ${JSON.stringify(valueAt(entry, issue.path))}`;
  });
}

function valueAt(entry: JsonObject, path: readonly PropertyKey[]): unknown {
  let value: unknown = entry;
  for (const key of path)
    value = typeof value === 'object' && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}
