import type { GenerationOptions } from '../../src-shared/chat.js';
import type { PreparedEpisode } from '../../src-shared/games/game.js';
import { playerSpeaker } from '../../src-shared/games/run-view.js';
import type { JsonObject } from '../../src-shared/json.js';
import { readResponses } from '../backends/programmatic.js';
import { resolveQuery, type ModelDependencies, type Query } from '../conversation/open-model.js';
import { Participant } from '../conversation/participant.js';
import { redactSpec } from '../conversation/session-export.js';
import type { Player } from './player.js';

/** How a contestant answers: the game's rule-based player (called directly), or a model (streamed). */
export type ContestantKind = 'rule-based' | 'model';

/**
 * A model taking part in a run: resolved once, and playing its roles in every episode. A model plays each role it
 * has through its own {@link Participant} (in self-play, two participants with the same spec), and every episode
 * gives each player a fresh history of its own.
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
  /** Makes the model of the participant that plays `role` (a download or load may take long); rule-based: nothing. */
  open(role: number, signal: AbortSignal): Promise<void>;
  /** The player of one role in one episode; a model's answers go out with `options` (temperature, max tokens). */
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
 * Resolves a query (a name or a spec) into a contestant. A `programmatic` spec without `responses` (the registry's
 * `programmatic` entry included, whose `echo` is for chat) gets the game's rule-based player for its role. Any other
 * spec is a model: one with `responses` plays exactly those (in order, the last repeating), through the programmatic
 * backend like any model. Throws `no-match` or `invalid-spec`.
 */
export function createContestant(dependencies: ModelDependencies, query: Query): Contestant {
  const resolved = resolveQuery(dependencies.registry, query);
  const { spec } = resolved;
  const backend = typeof spec.backend === 'string' ? spec.backend : '';
  const base = { spec: redactSpec(spec) as JsonObject, modelName: nameOf(spec), backend };
  if (backend === 'programmatic' && readResponses(spec) === null) {
    return {
      ...base,
      kind: 'rule-based',
      concurrent: true,
      async open() {},
      player: (role, episode) => {
        const player = episode.ruleBasedPlayer(role);
        return { streams: false, respond: async (messages) => ({ text: player.respond(messages) }) };
      },
      async dispose() {},
    };
  }
  const participants: Participant[] = [];
  const participantFor = (role: number): Participant =>
    (participants[role] ??= new Participant(
      { id: playerSpeaker(role), label: `Player ${role + 1}`, query },
      dependencies,
      resolved,
    ));
  return {
    ...base,
    kind: 'model',
    concurrent: backend !== 'llamacpp' && backend !== 'human',
    async open(role, signal) {
      await participantFor(role).model(signal);
    },
    player(role, _episode, options) {
      const participant = participantFor(role);
      return {
        streams: true,
        async respond(messages, signal, onPart) {
          const version = await participant.respond(messages, 'drop-oldest', signal, {
            options,
            ...(onPart === undefined ? {} : { onPart }),
          });
          const dropped = version.dropped_turns ?? 0;
          const head = messages[0]?.role === 'system' ? 1 : 0;
          return {
            text: version.text,
            ...(version.usage === undefined ? {} : { usage: version.usage }),
            ...(version.finish_reason === undefined ? {} : { finish_reason: version.finish_reason }),
            ...(version.error === undefined ? {} : { error: version.error }),
            ...(dropped === 0
              ? {}
              : {
                  dropped_turns: dropped,
                  sent: [...messages.slice(0, head), ...messages.slice(head + dropped)],
                }),
          };
        },
      };
    },
    async dispose() {
      await Promise.all(participants.map((participant) => participant.dispose()));
    },
  };
}
