import type { ChatMessage, GenerationOptions, Usage } from '../../src-shared/chat.js';
import { AppError, type AppErrorShape } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { loadBackend } from '../backends/loader.js';
import type { Model } from '../backends/types.js';
import type { Resolution } from '../registry/registry-stack.js';
import type { AppServices } from '../services.js';
import type { PlayerReply } from './player.js';

// The one place where games reach models. The session engine's participants replace it (issue 8): resolve once,
// make the model once, and collect each reply from its stream parts.

/** Resolves a player's query against the registry, once per run. */
export function resolvePlayer(services: Pick<AppServices, 'registry'>, query: string | JsonObject): Resolution {
  return services.registry.resolve(query);
}

/** A model made once for a run and shared by its episodes; every call brings the player's whole history. */
export interface ModelPlayer {
  respond(messages: readonly ChatMessage[], options: GenerationOptions, signal: AbortSignal): Promise<PlayerReply>;
  dispose(): Promise<void>;
}

/** Makes the model of a resolved spec (a download or a load may take long; aborting `signal` stops it). */
export async function openModelPlayer(
  services: Pick<AppServices, 'backendContext'>,
  spec: JsonObject,
  signal?: AbortSignal,
): Promise<ModelPlayer> {
  if (typeof spec.backend !== 'string') throw new AppError('invalid-spec', 'the resolved spec has no backend');
  const backend = await loadBackend(spec.backend);
  const model: Model = await backend.createModel(spec, services.backendContext, signal);
  return {
    async respond(messages, options, replySignal) {
      let text = '';
      let usage: Usage | undefined;
      let error: AppErrorShape | undefined;
      let finish: PlayerReply['finish_reason'] = 'stop';
      for await (const part of model.generate({ messages: [...messages], options }, replySignal)) {
        if (part.type === 'text-delta') text += part.text;
        else if (part.type === 'usage') usage = part.usage;
        else if (part.type === 'end') finish = part.reason;
        else if (part.type === 'error') {
          error = part.error;
          finish = 'error';
        }
      }
      return {
        text,
        finish_reason: finish,
        ...(usage === undefined ? {} : { usage }),
        ...(error === undefined ? {} : { error }),
      };
    },
    dispose: () => model.dispose(),
  };
}
