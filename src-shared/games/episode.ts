import type { JsonObject, JsonValue } from '../json.js';

/** The game master's name in a record (clembench's `GM`). */
export const gameMasterName = 'GM';

/** A player's name in a record: `Player 1`, `Player 2`, … in the game's role order (clembench's names). */
export function playerName(index: number): string {
  return `Player ${index + 1}`;
}

/** What happened, as clembench logs it: a message between the game master and a player, or a note of the master's. */
export interface GameAction {
  /**
   * `send message` (GM → player), `get message` (player → GM), or a note from GM to GM such as `invalid format`
   * (an answer that could not be parsed), `clue`, `guess`, `correct guess`.
   */
  type: string;
  content: JsonValue;
  /** `context` on sent messages, `response` on answers. */
  label?: string;
}

/** One logged event of an episode (an entry of `interactions.json`'s `turns`). */
export interface InteractionEvent {
  /** `GM` or `Player N`. */
  from: string;
  to: string;
  /** ISO 8601 time of the event. */
  timestamp: string;
  action: GameAction;
}

/** How an episode ended. */
export type Outcome = 'success' | 'lose' | 'aborted';

/** The head of `interactions.json`: which episode this is. */
export interface InteractionsMeta {
  game_name: string;
  experiment_name: string;
  game_id: number;
  /** The model folder's name (`model_a-t0.0--model_b-t0.0`). */
  results_folder: string;
  /** The clemplay version that played it (clembench writes `clem_version`). */
  clemplay_version: string;
}

/**
 * The record of one episode, in clembench's `interactions.json` shape: who played, every event grouped by round,
 * and keys the game master logs at the end (`Aborted`, `Lose`, `Success`, 0 or 1 each).
 */
export interface Interactions {
  meta: InteractionsMeta;
  /** Each player's resolved spec, by player name. */
  player_models: Record<string, JsonObject>;
  /** `GM` and each player with its game role and model name. */
  players: Record<string, { game_role: string; model_name: string }>;
  /** Rounds of events; a round is one cycle through the players (taboo: a clue and a guess). */
  turns: InteractionEvent[][];
  /** Keys the game master logged (`Aborted`, `Lose`, `Success`, game-specific ones). */
  [key: string]: unknown;
}

let lastMillisecond = -1;
let lastIso = '';

/** The time as ISO 8601; events of the same millisecond share one string (formatting one is most of the cost). */
function isoNow(): string {
  const now = Date.now();
  if (now !== lastMillisecond) {
    lastMillisecond = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

/** One player as the record names it. */
export interface RecordedPlayer {
  role: string;
  modelName: string;
  spec: JsonObject;
}

/** Collects the events of one episode into {@link Interactions}. */
export class EpisodeRecorder {
  readonly interactions: Interactions;

  constructor(
    meta: InteractionsMeta,
    players: readonly RecordedPlayer[],
    private readonly now: () => string = isoNow,
  ) {
    const named: Interactions['players'] = {
      [gameMasterName]: { game_role: 'Game Master', model_name: 'programmatic' },
    };
    const models: Interactions['player_models'] = {};
    players.forEach((player, index) => {
      named[playerName(index)] = { game_role: player.role, model_name: player.modelName };
      models[playerName(index)] = player.spec;
    });
    this.interactions = { meta, player_models: models, players: named, turns: [[]] };
  }

  /** The index of the round being played, from 0. */
  get round(): number {
    return this.interactions.turns.length - 1;
  }

  log(from: string, to: string, action: GameAction): void {
    this.interactions.turns[this.round]!.push({ from, to, timestamp: this.now(), action });
  }

  nextRound(): void {
    this.interactions.turns.push([]);
  }

  /** A top-level key of the record (clemcore's `log_key`). */
  setKey(key: string, value: JsonValue): void {
    this.interactions[key] = value;
  }
}

/** What the game master wants next: a message to one player (whose answer it then needs), or the end. */
export type GameMove = { type: 'ask'; player: number; content: string } | { type: 'end'; outcome: Outcome };

/**
 * A game master: a state machine that, given the last answer, says what happens next. It is pure and synchronous;
 * the runner delivers its messages to the players (each with its own history) and brings their answers back.
 */
export interface GameMaster {
  readonly recorder: EpisodeRecorder;
  /** The first move. */
  start(): GameMove;
  /** The answer of the player asked last; returns the next move. */
  next(answer: string): GameMove;
}

/**
 * What every game master shares: logging each message sent and received the way clembench does, the current
 * player, and ending with the outcome keys. A game implements `begin` and `answer`.
 */
export abstract class DialogueMaster implements GameMaster {
  private waitingFor: number | null = null;
  private ended = false;

  constructor(readonly recorder: EpisodeRecorder) {}

  protected abstract begin(): GameMove;
  protected abstract answer(player: number, text: string): GameMove;

  start(): GameMove {
    return this.begin();
  }

  next(text: string): GameMove {
    const player = this.waitingFor;
    if (player === null || this.ended) throw new Error('the game master is not waiting for an answer');
    this.waitingFor = null;
    this.recorder.log(playerName(player), gameMasterName, { type: 'get message', content: text, label: 'response' });
    return this.answer(player, text);
  }

  /** Sends a message to a player, whose answer comes next. */
  protected ask(player: number, content: string): GameMove {
    this.recorder.log(gameMasterName, playerName(player), { type: 'send message', content, label: 'context' });
    this.waitingFor = player;
    return { type: 'ask', player, content };
  }

  /** A note from the game master to itself (no player sees it). */
  protected note(type: string, content: JsonValue): void {
    this.recorder.log(gameMasterName, gameMasterName, { type, content });
  }

  /** An answer that does not follow the format: counted as a violated request, and the episode is aborted. */
  protected abortForFormat(reason: string): GameMove {
    this.note(invalidFormatAction, reason);
    return this.end('aborted');
  }

  protected end(outcome: Outcome): GameMove {
    this.ended = true;
    this.recorder.setKey('Aborted', outcome === 'aborted' ? 1 : 0);
    this.recorder.setKey('Lose', outcome === 'lose' ? 1 : 0);
    this.recorder.setKey('Success', outcome === 'success' ? 1 : 0);
    return { type: 'end', outcome };
  }
}

/** The note type of an answer that could not be parsed (clembench's `invalid format`); scoring counts them. */
export const invalidFormatAction = 'invalid format';
