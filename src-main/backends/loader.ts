import { AppError } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import type { Backend, BackendContext } from './types.js';

/**
 * The backends clemplay has, each loaded only when first used: a backend whose optional dependency is missing or
 * broken fails alone, with a message naming it, and never keeps the others from working.
 */
const backendModules = {
  openai: () => import('./openai.js'),
  openai_compatible: () => import('./openai-compatible.js'),
  llamacpp: () => import('./llamacpp.js'),
  programmatic: () => import('./programmatic.js'),
  human: () => import('./human.js'),
} satisfies Record<string, () => Promise<{ backend: Backend }>>;

/** The name of a backend clemplay has. */
export type BackendName = keyof typeof backendModules;

/** The backend names, in the order they are listed to people. */
export const backendNames = Object.keys(backendModules) as BackendName[];

/** What each backend is for, one line each (for `backends.list`, the CLI and the UI). */
export const backendDescriptions = {
  openai: 'OpenAI’s API (official SDK); needs an API key',
  openai_compatible: 'any OpenAI-compatible server at base_url: llama.cpp server, vLLM, Ollama, LM Studio, FastChat',
  llamacpp: 'local GGUF models through node-llama-cpp, in this process (GPU where there is one)',
  programmatic: 'scripted, deterministic answers (responses, echo); no network',
  human: 'a person answers, in the app or the terminal',
} satisfies Record<BackendName, string>;

/** Backends clemcore has and clemplay does not, with the way to reach the same models here, where there is one. */
const clemcoreOnlyBackends: Record<string, string> = {
  huggingface_local:
    'serve the model with an OpenAI-compatible server (vLLM, llama.cpp server, TGI) and use backend "openai_compatible" with its base_url, or use a GGUF file with backend "llamacpp"',
  huggingface_multimodal: 'serve the model with vLLM and use backend "openai_compatible" with its base_url',
  vllm: 'run `vllm serve MODEL` and use backend "openai_compatible" with base_url http://127.0.0.1:8000/v1',
  anthropic:
    'Anthropic’s OpenAI-compatible endpoint works with backend "openai_compatible", base_url https://api.anthropic.com/v1/ and an API key',
  google:
    'Gemini’s OpenAI-compatible endpoint works with backend "openai_compatible", base_url https://generativelanguage.googleapis.com/v1beta/openai/',
  mistral: 'use backend "openai_compatible" with base_url https://api.mistral.ai/v1',
  openrouter: 'use backend "openai_compatible" with base_url https://openrouter.ai/api/v1',
  cohere: 'use backend "openai_compatible" with base_url https://api.cohere.ai/compatibility/v1',
  alephalpha: 'there is no OpenAI-compatible route; clemplay cannot reach Aleph Alpha models',
  slurk: 'slurk is a chat server for human studies; use backend "human" for a person playing here',
};

export function isBackendName(name: string): name is BackendName {
  return Object.hasOwn(backendModules, name);
}

/** Why a backend name cannot be used, as a sentence a person can act on. */
export function unknownBackendMessage(name: string): string {
  const known = backendNames.join(', ');
  const route = clemcoreOnlyBackends[name];
  if (route !== undefined) return `backend "${name}" is a clemcore backend that clemplay does not have: ${route}`;
  return `unknown backend "${name}"; clemplay has: ${known}`;
}

const loaded = new Map<BackendName, Promise<Backend>>();

/** Loads a backend by name; `invalid-spec` for names clemplay does not have, `model-load` when its module fails. */
export function loadBackend(name: string): Promise<Backend> {
  if (!isBackendName(name)) return Promise.reject(new AppError('invalid-spec', unknownBackendMessage(name)));
  let backend = loaded.get(name);
  if (backend === undefined) {
    backend = backendModules[name]().then(
      (module) => module.backend,
      (error: unknown) => {
        loaded.delete(name);
        throw new AppError(
          'model-load',
          `the ${name} backend could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
        );
      },
    );
    loaded.set(name, backend);
  }
  return backend;
}

/** One backend's availability, for `backends.list`. */
export interface BackendAvailability {
  name: BackendName;
  description: string;
  available: boolean;
  /** Why it is not available. */
  problem?: string;
}

/** Tries to load every backend and says which work here. */
export async function listBackends(): Promise<BackendAvailability[]> {
  return Promise.all(
    backendNames.map(async (name) => {
      try {
        await loadBackend(name);
        return { name, description: backendDescriptions[name], available: true };
      } catch (error) {
        const problem = error instanceof Error ? error.message : String(error);
        return { name, description: backendDescriptions[name], available: false, problem };
      }
    }),
  );
}

/** The model ids an OpenAI-style server offers; loads only the backend the spec names. */
export async function listBackendModels(
  spec: JsonObject,
  context: BackendContext,
  signal?: AbortSignal,
): Promise<string[]> {
  if (spec.backend === 'openai') return (await import('./openai.js')).listModels(spec, context, signal);
  if (spec.backend === 'openai_compatible')
    return (await import('./openai-compatible.js')).listModels(spec, context, signal);
  throw new AppError(
    'invalid-input',
    `listing models needs an openai or openai_compatible spec, not backend ${JSON.stringify(spec.backend)}`,
  );
}
