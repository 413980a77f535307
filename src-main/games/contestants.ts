import type { GenerationOptions } from '../../src-shared/chat.js';
import type { PreparedEpisode } from '../../src-shared/games/game.js';
import type { JsonObject } from '../../src-shared/json.js';
import { readResponses, scriptedAnswer } from '../backends/programmatic.js';
import { redactSpec } from '../conversation/session-export.js';
import type { AppServices } from '../services.js';
import { openModelPlayer, resolvePlayer, type ModelPlayer } from './model-player.js';
import type { Player } from './player.js';

/** How a contestant answers: scripted responses, the game's rule-based player, or a model. */
export type ContestantKind = 'scripted' | 'rule-based' | 'model';

/**
 * A model taking part in a run: resolved once, made once, and playing its roles in every episode (in self-play
 * both roles, each episode's players still with their own histories).
 */
export interface Contestant {
  readonly kind: ContestantKind;
  /** The resolved spec, without secrets (what the records keep). */
  readonly spec: JsonObject;
  /** The name in folder names and records: the spec's `model_name`, else `model_id`, else its backend. */
  readonly modelName: string;
  /** The spec's backend. */
  readonly backend: string;
  /** Whether its episodes may run at the same time: not for local models (`llamacpp`) or a person (`human`). */
  readonly concurrent: boolean;
  /** Makes the model (a download or load may take long), once; the programmatic kinds need nothing. */
  open(signal: AbortSignal): Promise<void>;
  /** The player of one role in one episode. */
  player(role: number, episode: PreparedEpisode, options: GenerationOptions): Player;
  dispose(): Promise<void>;
}

function nameOf(spec: JsonObject): string {
  for (const key of ['model_name', 'model_id', 'backend']) {
    const value = spec[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return 'model';
}

/**
 * Resolves a query (a name or a spec) into a contestant. A `programmatic` spec with `responses` plays exactly those
 * (in order, the last repeating); one without (the registry's `programmatic` entry included, whose `echo` is for
 * chat) gets the game's rule-based player for its role. Any other spec is a model.
 */
export function createContestant(
  services: Pick<AppServices, 'registry' | 'backendContext'>,
  query: string | JsonObject,
): Contestant {
  const { spec } = resolvePlayer(services, query);
  const backend = typeof spec.backend === 'string' ? spec.backend : '';
  const base = {
    spec: redactSpec(spec) as JsonObject,
    modelName: nameOf(spec),
    backend,
    async open() {},
    async dispose() {},
  };
  if (backend === 'programmatic') {
    const responses = readResponses(spec);
    if (responses !== null) {
      return {
        ...base,
        kind: 'scripted',
        concurrent: true,
        player: () => ({ respond: async (messages) => ({ text: scriptedAnswer(responses, messages) }) }),
      };
    }
    return {
      ...base,
      kind: 'rule-based',
      concurrent: true,
      player: (role, episode) => {
        const player = episode.ruleBasedPlayer(role);
        return { respond: async (messages) => ({ text: player.respond(messages) }) };
      },
    };
  }
  let model: Promise<ModelPlayer> | null = null;
  return {
    ...base,
    kind: 'model',
    concurrent: backend !== 'llamacpp' && backend !== 'human',
    async open(signal) {
      model ??= openModelPlayer(services, spec, signal);
      await model;
    },
    player(_role, _episode, options) {
      return {
        async respond(messages, signal) {
          if (model === null) throw new Error('the contestant was not opened');
          return (await model).respond(messages, options, signal);
        },
      };
    },
    async dispose() {
      if (model !== null) await (await model.catch(() => null))?.dispose();
    },
  };
}
