import type { StreamPart } from '../chat.js';
import {
  applyStreamPart,
  currentVersion,
  gameMasterSpeaker,
  typedVersion,
  withCurrentVersion,
  type TranscriptMessage,
} from '../conversation/transcript.js';
import type { AppErrorShape } from '../errors.js';
import type { JsonObject } from '../json.js';
import { gameMasterName, type Interactions, type Outcome } from './episode.js';

/** An episode's place in a results folder: `<models>/<game>/<experiment>/instance_<game_id>`. */
export interface EpisodeRef {
  game: string;
  experiment: string;
  game_id: number;
  /** The models folder (`<model>-t0.0`, or `<a>-t0.0--<b>-t0.0`). */
  models: string;
}

/** The key of an episode within a run: its models folder, game, experiment and game_id. */
export function episodeKey(ref: EpisodeRef): string {
  return `${ref.models}/${ref.game}/${ref.experiment}/${ref.game_id}`;
}

/** A player's speaker id in transcripts: `player-1`, `player-2`, … in the game's role order. */
export function playerSpeaker(index: number): string {
  return `player-${index + 1}`;
}

/** One player of an episode, as transcripts name it. */
export interface RunPlayer {
  /** Its speaker id: `player-1`, `player-2`. */
  id: string;
  /** Its game role (`WordDescriber`). */
  role: string;
  /** The model's name (`model_name`, else `model_id`, else the backend). */
  model: string;
  /** The spec's backend (`human` for a person). */
  backend: string;
}

/** Where an episode stands: being played, ended by the rules, failed with an error, or cut off by a stop. */
export type EpisodeStatus = 'playing' | Outcome | 'error' | 'stopped';

/** An episode as a run shows it live: its players and every message between them and the game master. */
export interface LiveEpisode {
  key: string;
  ref: EpisodeRef;
  players: RunPlayer[];
  status: EpisodeStatus;
  /** The game master's messages (speaker `game-master`) and the players' answers, in order. */
  messages: TranscriptMessage[];
  /** The episode's Main Score once it ended; null when it has none (aborted). */
  main_score?: number | null;
  /** Why it failed. */
  error?: AppErrorShape;
}

/** What a run was asked to play (queries redacted: no key or URL password reaches a client). */
export interface RunRequestView {
  games: string[];
  /** One model query (self-play) or one per role. */
  models: (string | JsonObject)[];
  /** Only these experiments; absent: all. */
  experiments?: string[];
  /** Only these `game_id`s; absent: all. */
  instance_ids?: number[];
  /** At most this many instances of each experiment (the first ones); absent: all. */
  instances?: number;
  /** Sampling temperature; absent: 0. */
  temperature?: number;
  /** Most tokens per answer; absent: the backend's. */
  max_tokens?: number;
}

/** Where a run stands. */
export type RunStatus = 'running' | 'done' | 'stopped' | 'failed';

/** Episodes of the current go of a run (a resumed run starts counting again). */
export interface RunProgress {
  /** Episodes this go plays (complete ones skipped). */
  total: number;
  /** Finished so far, played or failed. */
  done: number;
  played: number;
  failed: number;
  /** Already complete in the results folder, not played again. */
  skipped: number;
}

/** A run as clients see it. */
export interface RunView {
  id: string;
  /** ISO 8601. */
  created_at: string;
  /** ISO 8601. */
  updated_at: string;
  status: RunStatus;
  request: RunRequestView;
  /** The models folders written, under the results folder. */
  models_folders: string[];
  progress: RunProgress;
  /** The episodes being played, and the one that ended last (so a finished run still shows its last transcript). */
  episodes: LiveEpisode[];
  /** Episodes of this go that failed with an error (each also kept in its error.json). */
  failures: { episode: EpisodeRef; error: AppErrorShape }[];
  /** Why the run failed as a whole (a model that could not be made). */
  error?: AppErrorShape;
}

/**
 * What a run subscription delivers: a `snapshot` first (unless it resumed after an event it had seen), then events
 * that fold into it with {@link applyRunEvent}. `at`: milliseconds since the epoch.
 */
export type RunEvent =
  | { type: 'snapshot'; run: RunView }
  | { type: 'status'; status: RunStatus; error?: AppErrorShape; at: number }
  | { type: 'run-start'; total: number; skipped: number; models_folders: string[]; at: number }
  | { type: 'episode-start'; key: string; ref: EpisodeRef; players: RunPlayer[]; at: number }
  /** A new message of an episode (the game master's, or a player's answer starting or given at once). */
  | { type: 'message'; episode: string; message: TranscriptMessage; at: number }
  /** A stream part of a player's answer (a model's; a question to a human player is one too). */
  | { type: 'part'; episode: string; message_id: string; part: StreamPart; at: number }
  | {
      type: 'episode-end';
      episode: string;
      ref: EpisodeRef;
      outcome: Outcome;
      main_score: number | null;
      at: number;
    }
  | { type: 'episode-error'; episode: string; ref: EpisodeRef; error: AppErrorShape; at: number };

/** The events the runner itself emits (the run job adds the snapshot and the status). */
export type RunnerEvent = Exclude<RunEvent, { type: 'snapshot' } | { type: 'status' }>;

function updateEpisode(view: RunView, key: string, change: (episode: LiveEpisode) => LiveEpisode): LiveEpisode[] {
  return view.episodes.map((episode) => (episode.key === key ? change(episode) : episode));
}

/** Folds an event into a run view: the one reducer of run state, used by the run job, its clients and tests. */
export function applyRunEvent(view: RunView | null, event: RunEvent): RunView | null {
  if (event.type === 'snapshot') return event.run;
  if (view === null) return null;
  const updated_at = new Date(event.at).toISOString();
  switch (event.type) {
    case 'status': {
      const { error: _previous, ...rest } = view;
      const episodes =
        event.status === 'running'
          ? view.episodes
          : view.episodes.map((episode) =>
              episode.status === 'playing' ? { ...episode, status: 'stopped' as const } : episode,
            );
      return {
        ...rest,
        status: event.status,
        episodes,
        updated_at,
        ...(event.error === undefined ? {} : { error: event.error }),
      };
    }
    case 'run-start':
      return {
        ...view,
        models_folders: event.models_folders,
        progress: { total: event.total, skipped: event.skipped, done: 0, played: 0, failed: 0 },
        failures: [],
        updated_at,
      };
    case 'episode-start': {
      // Keep the episodes still playing and the one that ended last; older ones are in the results folder.
      const ended = view.episodes.filter((episode) => episode.status !== 'playing');
      const kept = view.episodes.filter((episode) => episode.status === 'playing' || episode === ended.at(-1));
      const started: LiveEpisode = {
        key: event.key,
        ref: event.ref,
        players: event.players,
        status: 'playing',
        messages: [],
      };
      return { ...view, episodes: [...kept.filter((episode) => episode.key !== event.key), started], updated_at };
    }
    case 'message':
      return {
        ...view,
        updated_at,
        episodes: updateEpisode(view, event.episode, (episode) => {
          const index = episode.messages.findIndex((message) => message.id === event.message.id);
          const messages =
            index === -1
              ? [...episode.messages, event.message]
              : episode.messages.map((message, position) => (position === index ? event.message : message));
          return { ...episode, messages };
        }),
      };
    case 'part':
      return {
        ...view,
        updated_at,
        episodes: updateEpisode(view, event.episode, (episode) => ({
          ...episode,
          messages: episode.messages.map((message) =>
            message.id === event.message_id
              ? withCurrentVersion(message, applyStreamPart(currentVersion(message), event.part, event.at))
              : message,
          ),
        })),
      };
    case 'episode-end':
      return {
        ...view,
        updated_at,
        progress: { ...view.progress, done: view.progress.done + 1, played: view.progress.played + 1 },
        episodes: updateEpisode(view, event.episode, (episode) => ({
          ...episode,
          status: event.outcome,
          main_score: event.main_score,
        })),
      };
    case 'episode-error':
      return {
        ...view,
        updated_at,
        progress: { ...view.progress, done: view.progress.done + 1, failed: view.progress.failed + 1 },
        failures: [...view.failures, { episode: event.ref, error: event.error }],
        episodes: updateEpisode(view, event.episode, (episode) => ({
          ...episode,
          status: 'error',
          error: event.error,
        })),
      };
  }
}

/** The episode a run shows: the one that started last and still plays, else the one that ended last. */
export function currentEpisode(view: RunView): LiveEpisode | null {
  const playing = view.episodes.filter((episode) => episode.status === 'playing');
  return playing.at(-1) ?? view.episodes.at(-1) ?? null;
}

/** The player a `Player N` record name stands for (`Player 2` → `player-2`); null for other names. */
function speakerOfRecordName(name: string): string | null {
  const match = /^Player (\d+)$/.exec(name);
  return match === null ? null : `player-${match[1]}`;
}

/**
 * A finished episode's messages from its interactions.json, as a live transcript shows them: what the game master
 * sent each player and what each player answered (the master's notes to itself are left out). Times come from the
 * record's timestamps.
 */
export function episodeMessages(interactions: Pick<Interactions, 'turns'>): TranscriptMessage[] {
  const messages: TranscriptMessage[] = [];
  for (const round of interactions.turns) {
    for (const event of round) {
      const type = event.action.type;
      if (type !== 'send message' && type !== 'get message') continue;
      const fromMaster = event.from === gameMasterName;
      const player = speakerOfRecordName(fromMaster ? event.to : event.from);
      if (player === null) continue;
      const content = event.action.content;
      const text = typeof content === 'string' ? content : JSON.stringify(content);
      const at = Date.parse(event.timestamp);
      const version = typedVersion(text, Number.isNaN(at) ? 0 : at);
      messages.push({
        id: `m${messages.length + 1}`,
        speaker: fromMaster ? gameMasterSpeaker : player,
        to: [fromMaster ? player : gameMasterSpeaker],
        created_at: version.started_at,
        versions: [version],
        current: 0,
      });
    }
  }
  return messages;
}
