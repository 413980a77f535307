import type { StreamPart } from '../../src-shared/chat.js';
import type { SpecSource } from '../../src-shared/conversation/session.js';
import { AppError, toAppErrorShape } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { loadBackend } from '../backends/loader.js';
import type { BackendContext, GenerateRequest, Model } from '../backends/types.js';
import type { RegistryStack } from '../registry/registry-stack.js';
import { coalesceDeltas } from './coalesce.js';

/** A query: a model name, JSON text of a spec, or a spec object. */
export type Query = string | JsonObject;

/** What a query resolved to: the spec and the registry entry it came from. */
export interface ResolvedQuery {
  spec: JsonObject;
  source: SpecSource | null;
}

/** A model made from a resolved query, held by its owner until `model.dispose()`. */
export interface OpenedModel extends ResolvedQuery {
  model: Model;
}

/** What opening models needs from the services. */
export interface ModelDependencies {
  registry: Pick<RegistryStack, 'resolve'>;
  backendContext: BackendContext;
}

/** Resolves a query against the registry; throws `no-match` or `invalid-spec`. */
export function resolveQuery(registry: Pick<RegistryStack, 'resolve'>, query: Query): ResolvedQuery {
  const resolution = registry.resolve(query);
  return { spec: resolution.spec, source: resolution.source };
}

/** Makes the model a resolved spec names (loading its backend first); throws `invalid-spec`, `model-load`, …. */
export async function createModelFor(
  spec: JsonObject,
  backendContext: BackendContext,
  signal?: AbortSignal,
): Promise<Model> {
  const backendName = spec.backend;
  if (typeof backendName !== 'string') throw new AppError('invalid-spec', 'the resolved spec has no backend');
  const backend = await loadBackend(backendName);
  return backend.createModel(spec, backendContext, signal);
}

/**
 * Resolves a query once and makes its model: the one way a conversation, a game or an API request gets a model.
 * The caller holds the result for as long as it talks to the model and then disposes `model`.
 */
export async function openModel(
  dependencies: ModelDependencies,
  query: Query,
  signal?: AbortSignal,
): Promise<OpenedModel> {
  const resolved = resolveQuery(dependencies.registry, query);
  const model = await createModelFor(resolved.spec, dependencies.backendContext, signal);
  return { ...resolved, model };
}

/**
 * Streams one generation of a model, with deltas merged while the reader is busy. Never throws: a backend that throws
 * anyway ends the stream with an `error` part, and every stream ends with exactly one `end` or `error`.
 */
export async function* streamReply(
  model: Model,
  request: GenerateRequest,
  signal: AbortSignal,
): AsyncGenerator<StreamPart> {
  let streamedText = false;
  let ended = false;
  try {
    for await (const part of coalesceDeltas(model.generate(request, signal))) {
      if (part.type === 'text-delta' || part.type === 'reasoning-delta') streamedText = true;
      if (part.type === 'end' || part.type === 'error') ended = true;
      yield part;
    }
  } catch (error) {
    if (!ended) yield { type: 'error', error: toAppErrorShape(error), partial: streamedText };
    ended = true;
  }
  if (!ended)
    yield {
      type: 'error',
      error: { code: 'internal', message: 'the model ended without saying why' },
      partial: streamedText,
    };
}
