import { endBeforeOutput, type ChatMessage, type GenerationOptions, type StreamPart } from '../../src-shared/chat.js';
import { AppError, toAppErrorShape } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { loadBackend } from '../backends/loader.js';
import type { BackendContext } from '../backends/types.js';
import type { RegistryStack, Resolution } from '../registry/registry-stack.js';
import { coalesceDeltas } from './coalesce.js';

/** One generation to stream: what to resolve, the conversation, and per-call options. */
export interface ChatStreamRequest {
  /** A model name, a JSON spec string or a spec object; resolved against the registry. */
  query: string | JsonObject;
  messages: ChatMessage[];
  options?: GenerationOptions;
}

/** What the chat stream needs from the services. */
export interface ChatDependencies {
  registry: Pick<RegistryStack, 'resolve'>;
  backendContext: BackendContext;
}

/** The first part of every chat stream: what the query resolved to, so a client can show and store it. */
export interface ResolvedPart {
  type: 'resolved';
  spec: JsonObject;
  source: Resolution['source'];
}

/**
 * Resolves the query, makes the model and streams its parts (deltas merged while the client is busy). Never throws:
 * every failure, resolution included, is an `error` part, and the stream always ends with one `end` or `error`.
 */
export async function* streamChat(
  dependencies: ChatDependencies,
  request: ChatStreamRequest,
  signal: AbortSignal,
): AsyncGenerator<StreamPart | ResolvedPart> {
  let resolution: Resolution;
  try {
    resolution = dependencies.registry.resolve(request.query);
  } catch (error) {
    yield { type: 'error', error: toAppErrorShape(error), partial: false };
    return;
  }
  yield { type: 'resolved', spec: resolution.spec, source: resolution.source };
  const backendName = resolution.spec.backend;
  let model;
  try {
    if (typeof backendName !== 'string') throw new AppError('invalid-spec', 'the resolved spec has no backend');
    const backend = await loadBackend(backendName);
    model = await backend.createModel(resolution.spec, dependencies.backendContext, signal);
  } catch (error) {
    // Stopped while the model was still downloading or loading is a stop like any other.
    yield* endBeforeOutput(error, signal.aborted);
    return;
  }
  let streamedText = false;
  let ended = false;
  try {
    for await (const part of coalesceDeltas(
      model.generate({ messages: request.messages, options: request.options ?? {} }, signal),
    )) {
      if (part.type === 'text-delta' || part.type === 'reasoning-delta') streamedText = true;
      if (part.type === 'end' || part.type === 'error') ended = true;
      yield part;
    }
  } catch (error) {
    // Backends report failures as parts; one that throws anyway must not reach the client as a transport error.
    if (!ended) yield { type: 'error', error: toAppErrorShape(error), partial: streamedText };
  } finally {
    await model.dispose();
  }
}
