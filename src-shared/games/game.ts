import type { ChatMessage } from '../chat.js';
import type { JsonObject } from '../json.js';
import type { EpisodeRecorder, GameMaster } from './episode.js';
import type { GameScoring } from './scores.js';

/** One game instance of an instance file (clembench's shape): a `game_id` and the game's own keys. */
export type GameInstance = JsonObject & { game_id: number };

/** One experiment of an instance file: a name, its instances, and settings shared by them (prompts, limits). */
export type Experiment = JsonObject & { name: string; game_instances: GameInstance[] };

/** An instance file: `{"experiments": [...]}`. */
export interface InstanceFile {
  experiments: Experiment[];
}

/** Word lists a game may need beyond its instance file; main loads them from packages on first use. */
export interface GameResources {
  /** Five-letter lower-case words: wordle's vocabulary when an experiment carries none. */
  fiveLetterWords(): readonly string[];
  /** Lower-case English words, for the rule-based taboo guesser. */
  englishWords(): readonly string[];
}

/** A player that plays by rules: it reads its own history and answers at once (no model, no streaming). */
export interface RuleBasedPlayer {
  respond(messages: readonly ChatMessage[]): string;
}

/** One instance, read and checked, ready to be played any number of times. */
export interface PreparedEpisode {
  createMaster(recorder: EpisodeRecorder): GameMaster;
  /** The game's rule-based player for a role (an index into the game's roles). */
  ruleBasedPlayer(role: number): RuleBasedPlayer;
}

/** A game clemplay can run. */
export interface GameDefinition {
  name: string;
  /** One sentence for `clemplay games` and the Games page. */
  description: string;
  /** The players' game roles, in the order models are bound to them. */
  roles: readonly string[];
  /** Reads one instance of an experiment; throws an {@link InstanceProblem} when a key is missing or wrong. */
  prepare(experiment: Experiment, instance: GameInstance, resources: GameResources): PreparedEpisode;
  scoring: GameScoring;
}

/** What is wrong with an instance or experiment: the key and why. */
export class InstanceProblem extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'InstanceProblem';
  }
}

/** A string setting of an experiment or instance; the default when absent, a problem when not a string. */
export function readString(object: JsonObject, key: string, fallback?: string): string {
  const value = object[key];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string') throw new InstanceProblem(key, `\`${key}\` must be a string`);
  return value;
}

/** A positive whole-number setting; the default when absent. */
export function readCount(object: JsonObject, key: string, fallback: number): number {
  const value = object[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InstanceProblem(key, `\`${key}\` must be a whole number of at least 1`);
  }
  return value;
}

/** The number of assistant turns in a history: how often this player has answered so far. */
export function answersGiven(messages: readonly ChatMessage[]): number {
  let count = 0;
  for (const message of messages) if (message.role === 'assistant') count += 1;
  return count;
}
