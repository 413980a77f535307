import type { JsonObject } from '../../src-shared/json.js';
import {
  createOpenAIStyleBackend,
  listOpenAIStyleModels,
  openAIFlavour,
  type OpenAIBackendOptions,
} from './openai-shared.js';
import type { Backend, BackendContext } from './types.js';

/**
 * The `openai` backend with its own defaults (retry delays, timeouts); specs still override them. Spec keys:
 * `model_id` (else `model_name`), optional `base_url` (default https://api.openai.com/v1), `organization`,
 * `model_config.extra_body`, `eos_to_cull`, `retries`, `timeout_s`, `stall_timeout_s`, generation options.
 */
export function createOpenAIBackend(options: OpenAIBackendOptions = {}): Backend {
  return createOpenAIStyleBackend(openAIFlavour, options);
}

/** The `openai` backend: the official API through the official SDK; the key comes from the context only. */
export const backend: Backend = createOpenAIBackend();

/** The model ids the OpenAI API (or the spec's `base_url`) offers; throws an `AppError` on failure. */
export function listModels(
  spec: JsonObject,
  context: BackendContext,
  signal?: AbortSignal,
  options: OpenAIBackendOptions = {},
): Promise<string[]> {
  return listOpenAIStyleModels(openAIFlavour, spec, context, options, signal);
}
