import type { JsonObject } from '../../src-shared/json.js';
import {
  createOpenAIStyleBackend,
  listOpenAIStyleModels,
  openAICompatibleFlavour,
  type OpenAIBackendOptions,
} from './openai-shared.js';
import type { Backend, BackendContext } from './types.js';

/**
 * The `openai_compatible` backend with its own defaults (retry delays, timeouts); specs still override them.
 * Spec keys as for `openai`, but `base_url` is required (llama.cpp server, vLLM, Ollama, LM Studio, FastChat, …)
 * and the API key is optional: without one no `Authorization` header is sent.
 */
export function createOpenAICompatibleBackend(options: OpenAIBackendOptions = {}): Backend {
  return createOpenAIStyleBackend(openAICompatibleFlavour, options);
}

/** The `openai_compatible` backend: any server speaking OpenAI's chat-completions API at the spec's `base_url`. */
export const backend: Backend = createOpenAICompatibleBackend();

/**
 * The model ids the server at the spec's `base_url` offers (`GET <base_url>/models`); only `base_url` is needed.
 * Throws an `AppError` (`invalid-spec`, `auth`, `network`, `timeout`, …) on failure.
 */
export function listModels(
  spec: JsonObject,
  context: BackendContext,
  signal?: AbortSignal,
  options: OpenAIBackendOptions = {},
): Promise<string[]> {
  return listOpenAIStyleModels(openAICompatibleFlavour, spec, context, options, signal);
}
