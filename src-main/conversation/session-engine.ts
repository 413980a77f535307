import { randomInt } from 'node:crypto';

import type { GenerationOptions, StreamPart } from '../../src-shared/chat.js';
import {
  mergeSessionEvents,
  type ParticipantStatus,
  type ParticipantView,
  type SessionEvent,
  type SessionKind,
  type SessionView,
  type VoteWinner,
} from '../../src-shared/conversation/session.js';
import {
  applyStreamPart,
  currentVersion,
  estimateTokens,
  historyFor,
  startVersion,
  systemSpeaker,
  typedVersion,
  userSpeaker,
  withCurrentVersion,
  type MessageVersion,
  type TranscriptMessage,
} from '../../src-shared/conversation/transcript.js';
import { AppError, type AppErrorShape } from '../../src-shared/errors.js';
import type { RegistryStack } from '../registry/registry-stack.js';
import { EventLog, type EventPace, type TrackedEvent } from '../jobs/event-log.js';
import { resolveQuery, type ModelDependencies, type Query } from './open-model.js';
import { Participant, type OverflowRule, type ParticipantConfig } from './participant.js';
import { clientMessage, clientSpec, exportSessionJson, exportSessionMarkdown } from './session-export.js';
import {
  newMessageId,
  newSessionId,
  titleFromText,
  type ParticipantRecord,
  type SessionRecord,
} from './session-schema.js';
import { isHidden, listEntryOf, type SessionListEntry, type SessionStore } from './session-store.js';
import type { VoteStore } from './vote-store.js';

/** One participant of a new session. */
export interface ParticipantInput {
  /** A model name or JSON spec, resolved once when the session is made. */
  query: Query;
  system?: string;
  options?: GenerationOptions;
}

/** What a new session is. */
export interface CreateSessionInput {
  kind: Exclude<SessionKind, 'game'>;
  /** chat: one; pair and dialogue: two (A, then B). Not used for a blind pair. */
  participants?: ParticipantInput[];
  /** Blind Pair: two models drawn from these (at least two) and put on random sides, hidden until the vote. */
  blind?: { models: Query[]; system?: string; options?: GenerationOptions };
  title?: string;
}

/** What the engine needs from the services. */
export interface SessionEngineDependencies extends ModelDependencies {
  registry: Pick<RegistryStack, 'resolve' | 'onChange'>;
  /** Delivers a person's answer to the human backend's question (the services' HumanInputHub). */
  humanInput?: { reply(requestId: string, text: string): void };
  /** Where sessions are saved as they go; without it (the CLI) nothing is saved. */
  store?: SessionStore;
  /** Where blind votes go. */
  votes?: VoteStore;
  /** The clock, milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** A random integer in [0, max), for blind draws; default crypto's. */
  random?: (max: number) => number;
  /** Milliseconds a change may wait before it is saved while a reply streams; default 1000. A turn's end saves at once. */
  saveDelayMs?: number;
  /** Milliseconds an unwatched, idle session stays in memory (its models held); default 10 minutes. */
  idleMs?: number;
}

/** A delivered session event with the id a client resumes after (`tracked` in tRPC). */
export type TrackedSessionEvent = TrackedEvent<SessionEvent>;

/** What starting replies returns: the new message ids, and a promise that settles when every reply has ended. */
export interface StartedTurn {
  message_id: string;
  reply_ids: string[];
  finished: Promise<void>;
}

interface LiveSession {
  record: SessionRecord;
  participants: Map<string, Participant>;
  status: Map<string, ParticipantStatus>;
  /** Running replies by participant id. */
  replies: Map<string, AbortController>;
  dialogue: AbortController | null;
  /** Its events for clients (a new log, with a new epoch, each time the session is loaded). */
  events: EventLog<SessionEvent>;
  dirty: boolean;
  saveTimer: ReturnType<typeof setTimeout> | null;
  saving: Promise<void>;
  /** The `updated_at` of the version on disk this process last read or wrote; null: none yet. */
  savedAt: string | null;
  /**
   * Where this session is saved when another process changed its file meanwhile: a copy of its own (a new id and
   * title), so that neither version is lost; null while it saves under its own id.
   */
  saveAs: { id: string; title: string } | null;
  saveError: string | null;
  idleTimer: ReturnType<typeof setTimeout> | null;
  /** Replies and dialogues running, so that retiring the session waits for them to end. */
  tasks: Set<Promise<unknown>>;
  /** A blind vote is being saved. */
  voting: boolean;
}

/** A message without the specs that would name a hidden model. */
function hideSpecs(message: TranscriptMessage): TranscriptMessage {
  return {
    ...message,
    versions: message.versions.map(({ spec: _spec, ...version }) => {
      const hidden: MessageVersion = { ...version };
      if (version.error !== undefined) hidden.error = hiddenProblem(version.error);
      if (version.warnings !== undefined) hidden.warnings = version.warnings.map(hiddenProblem);
      if (version.followers !== undefined) hidden.followers = version.followers.map(hideSpecs);
      return hidden;
    }),
  };
}

/**
 * A failure or warning of a hidden model, without what would name it (a server's address, a model id, a backend's
 * wording): only its code, until the vote reveals the rest.
 */
function hiddenProblem(problem: AppErrorShape): AppErrorShape {
  return {
    code: problem.code,
    message: `this model’s reply failed (${problem.code}); the details show after the vote`,
  };
}

/** A stream part as clients of a blind pair may see it. */
function hidePart(part: StreamPart): StreamPart {
  if (part.type === 'error') return { ...part, error: hiddenProblem(part.error) };
  if (part.type === 'warning') return { ...part, warning: hiddenProblem(part.warning) };
  return part;
}

/** A query as people typed it. */
function queryLabel(query: Query): string {
  return typeof query === 'string' ? query : JSON.stringify(query);
}

/**
 * Where the messages that depend on message `index` begin: the next message of the person, or the next one whose
 * speaker saw this one. What lies between (the other side's answer to the same prompt in Pair) does not depend on it.
 */
function dependentsStart(messages: readonly TranscriptMessage[], index: number): number {
  const message = messages[index];
  if (message === undefined) return messages.length;
  for (let position = index + 1; position < messages.length; position += 1) {
    const later = messages[position]!;
    if (later.speaker === userSpeaker || message.to.includes(later.speaker)) return position;
  }
  return messages.length;
}

/**
 * Conversations in the main process: sessions with ids that outlive a socket, participants resolved once with their
 * own histories, replies streamed to any number of subscribers (a reconnecting one gets what it missed), stopping
 * per participant or for all, versions, dialogues, blind votes, and saving as it goes. Chat, Pair, dialogues and the
 * CLI all run on it.
 */
export class SessionEngine {
  private readonly live = new Map<string, LiveSession>();
  private readonly loading = new Map<string, Promise<LiveSession>>();
  /** Sessions leaving memory, until their last save and clean-up are done. */
  private readonly retiring = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private readonly random: (max: number) => number;
  private readonly stopWatching: () => void;
  private disposed = false;

  constructor(private readonly dependencies: SessionEngineDependencies) {
    this.now = dependencies.now ?? Date.now;
    this.random = dependencies.random ?? ((max) => randomInt(max));
    this.stopWatching = dependencies.registry.onChange(() => this.onRegistryChange());
  }

  // ---- sessions --------------------------------------------------------------------------------------------------

  /** Makes a session; every participant's query is resolved now (`no-match` and `invalid-spec` are thrown). */
  async create(input: CreateSessionInput): Promise<SessionView> {
    this.checkOpen();
    const configs = this.participantConfigs(input);
    const participants = configs.map((config) => new Participant(config, this.dependencies));
    const failed = participants.find((participant) => participant.error !== null);
    if (failed !== undefined) {
      const error = failed.error!;
      const which = participants.length > 1 ? `${failed.config.label}: ` : '';
      throw new AppError(error.code, `${which}${error.message}`, error.details);
    }
    const at = new Date(this.now()).toISOString();
    const record: SessionRecord = {
      version: 2,
      id: newSessionId(new Date(this.now())),
      kind: input.kind,
      title: input.title ?? '',
      created_at: at,
      updated_at: at,
      participants: participants.map((participant) => this.participantRecord(participant)),
      messages: [],
      ...(input.blind === undefined ? {} : { blind: { revealed: false } }),
      ...(input.kind === 'dialogue' ? { dialogue: { turns: 0, done: 0, running: false } } : {}),
    };
    const live = this.makeLive(record, participants);
    for (const participant of participants) {
      participant.context = {
        ...participant.context,
        used: estimateTokens(historyFor(participant.id, [], participant.config.system)),
      };
    }
    this.live.set(record.id, live);
    this.scheduleEviction(live);
    return this.viewOf(live);
  }

  private participantConfigs(input: CreateSessionInput): ParticipantConfig[] {
    const given = input.participants ?? [];
    if (input.kind === 'chat') {
      if (input.blind !== undefined || given.length !== 1) {
        throw new AppError('invalid-input', 'a chat has exactly one model');
      }
      return [{ id: 'model', label: 'Model', ...given[0]! }];
    }
    if (input.blind !== undefined) {
      if (input.kind !== 'pair') throw new AppError('invalid-input', 'only Pair has a blind mode');
      // Drawn from distinct models, as the votes name them (a name and its JSON spec are one model).
      const byModel = new Map<string, Query>();
      for (const query of input.blind.models) {
        let spec;
        try {
          spec = resolveQuery(this.dependencies.registry, query).spec;
        } catch (error) {
          const problem = error instanceof AppError ? error : new AppError('no-match', String(error));
          throw new AppError(problem.code, `${queryLabel(query)}: ${problem.message}`, problem.details);
        }
        const name = typeof spec.model_name === 'string' ? spec.model_name : queryLabel(query);
        if (!byModel.has(name)) byModel.set(name, query);
      }
      const pool = [...byModel.values()];
      if (pool.length < 2) {
        throw new AppError('invalid-input', 'blind mode needs at least two different models to draw from');
      }
      const first = this.random(pool.length);
      let second = this.random(pool.length - 1);
      if (second >= first) second += 1;
      const shared = {
        ...(input.blind.system === undefined ? {} : { system: input.blind.system }),
        ...(input.blind.options === undefined ? {} : { options: input.blind.options }),
      };
      return [
        { id: 'a', label: 'Model A', query: pool[first]!, ...shared },
        { id: 'b', label: 'Model B', query: pool[second]!, ...shared },
      ];
    }
    if (given.length !== 2) {
      throw new AppError('invalid-input', `${input.kind === 'pair' ? 'Pair' : 'a dialogue'} needs exactly two models`);
    }
    return [
      { id: 'a', label: 'Model A', ...given[0]! },
      { id: 'b', label: 'Model B', ...given[1]! },
    ];
  }

  private participantRecord(participant: Participant): ParticipantRecord {
    const { id, label, query, system, options } = participant.config;
    const resolution = participant.resolution;
    return {
      id,
      label,
      query,
      ...(system === undefined ? {} : { system }),
      ...(options === undefined ? {} : { options }),
      ...(resolution === null ? {} : { spec: resolution.spec, source: resolution.source }),
    };
  }

  private makeLive(record: SessionRecord, participants: Participant[]): LiveSession {
    return {
      record,
      participants: new Map(participants.map((participant) => [participant.id, participant])),
      status: new Map(participants.map((participant) => [participant.id, 'idle'])),
      replies: new Map(),
      dialogue: null,
      events: new EventLog<SessionEvent>({ merge: mergeSessionEvents }),
      dirty: false,
      saveTimer: null,
      saving: Promise.resolve(),
      savedAt: null,
      saveAs: null,
      saveError: null,
      idleTimer: null,
      tasks: new Set(),
      voting: false,
    };
  }

  /** A live session, loaded from the store when it is not in memory; `not-found` when there is none. */
  private async open(id: string): Promise<LiveSession> {
    this.checkOpen();
    const live = this.live.get(id);
    if (live !== undefined) return live;
    let loading = this.loading.get(id);
    if (loading === undefined) {
      const retiring = this.retiring.get(id);
      loading = (retiring ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => this.load(id))
        .finally(() => this.loading.delete(id));
      this.loading.set(id, loading);
    }
    return loading;
  }

  private async load(id: string): Promise<LiveSession> {
    const store = this.dependencies.store;
    if (store === undefined) throw new AppError('not-found', `There is no conversation ${id}.`, { id });
    const record = await store.get(id);
    // A reply that was streaming when the app stopped will never end: say so, keeping what arrived.
    const at = this.now();
    const settle = (message: TranscriptMessage): TranscriptMessage => {
      const version = currentVersion(message);
      if (version.status !== 'streaming') return message;
      const ended = applyStreamPart(
        version,
        {
          type: 'error',
          error: { code: 'aborted', message: 'clemplay stopped while this reply was streaming; what arrived is kept' },
          partial: version.text !== '',
        },
        at,
      );
      return withCurrentVersion(message, ended);
    };
    record.messages = record.messages.map(settle);
    if (record.dialogue !== undefined) record.dialogue = { ...record.dialogue, running: false };
    const participants = record.participants.map((saved) => {
      const config: ParticipantConfig = {
        id: saved.id,
        label: saved.label,
        query: saved.query,
        ...(saved.system === undefined ? {} : { system: saved.system }),
        ...(saved.options === undefined ? {} : { options: saved.options }),
      };
      const participant = new Participant(
        config,
        this.dependencies,
        saved.spec === undefined ? undefined : { spec: saved.spec, source: saved.source ?? null },
      );
      participant.context = {
        ...participant.context,
        used: estimateTokens(historyFor(participant.id, record.messages, participant.config.system)),
      };
      return participant;
    });
    const existing = this.live.get(id);
    if (existing !== undefined) return existing;
    const live = this.makeLive(record, participants);
    live.savedAt = record.updated_at;
    this.live.set(id, live);
    this.scheduleEviction(live);
    return live;
  }

  /** The session as clients see it. */
  async get(id: string): Promise<SessionView> {
    return this.viewOf(await this.open(id));
  }

  /** Saved sessions (and old chats), newest first, with the sessions in memory that are not saved yet. */
  async list(): Promise<SessionListEntry[]> {
    const saved = this.dependencies.store === undefined ? [] : await this.dependencies.store.list();
    const known = new Set(saved.map((entry) => entry.id));
    const unsaved: SessionListEntry[] = [...this.live.values()]
      .filter((live) => !known.has(live.record.id) && live.record.messages.length > 0)
      .map((live) => listEntryOf(live.record));
    return [...unsaved, ...saved];
  }

  /** Renames a session. */
  async rename(id: string, title: string): Promise<SessionView> {
    const live = await this.open(id);
    live.record.title = title;
    this.emit(live, { type: 'session', title });
    this.markDirty(live, true);
    return this.viewOf(live);
  }

  /** Stops the session's replies, lets go of its models and moves its file to the trash; returns that path. */
  async delete(id: string): Promise<string | null> {
    const live = this.live.get(id);
    if (live !== undefined) await this.retire(live);
    if (this.dependencies.store === undefined) return null;
    try {
      return await this.dependencies.store.delete(id);
    } catch (error) {
      // A session that was never saved (no messages yet) has no file: leaving memory was all there was to it.
      if (live !== undefined && error instanceof AppError && error.code === 'not-found') return null;
      throw error;
    }
  }

  /** The session as JSON or Markdown, secrets stripped; a blind session only after the vote. */
  async export(id: string, format: 'json' | 'markdown'): Promise<string> {
    const live = await this.open(id);
    if (isHidden(live.record)) {
      throw new AppError('invalid-input', 'vote first: a blind session is exported once the models are revealed');
    }
    return format === 'json' ? exportSessionJson(live.record) : exportSessionMarkdown(live.record);
  }

  // ---- turns -----------------------------------------------------------------------------------------------------

  /**
   * The person sends a message to the participants `to` (default: all) and each starts its reply at once (in Pair
   * both stream together). Refused with `conflict` while a reply runs.
   */
  async send(id: string, text: string, to?: string[]): Promise<StartedTurn> {
    const live = await this.open(id);
    if (live.record.kind === 'dialogue') {
      throw new AppError('invalid-input', 'a dialogue is started with an opening message (dialogue), not sent to');
    }
    this.assertIdle(live);
    if (text.trim() === '') throw new AppError('invalid-input', 'the message is empty');
    // Each participant answers once, however often it is named.
    const targets = [...new Set(to ?? live.participants.keys())];
    for (const target of targets) this.participantOf(live, target);
    const message = this.addMessage(live, userSpeaker, targets, typedVersion(text, this.now()));
    if (live.record.title === '') this.retitle(live, text);
    const replies = targets.map((target) =>
      this.startReply(live, this.participantOf(live, target), [userSpeaker], 'report'),
    );
    return {
      message_id: message.id,
      reply_ids: replies.map((reply) => reply.id),
      finished: Promise.all(replies.map((reply) => reply.finished)).then(() => undefined),
    };
  }

  /** A new version of a participant's reply (the earlier ones are kept, and what followed them). */
  async regenerate(id: string, messageId: string): Promise<StartedTurn> {
    const live = await this.open(id);
    this.assertIdle(live);
    const index = this.indexOf(live, messageId);
    const message = live.record.messages[index]!;
    const participant = live.participants.get(message.speaker);
    if (participant === undefined) throw new AppError('invalid-input', 'only a model’s reply can be regenerated');
    this.branch(
      live,
      index,
      dependentsStart(live.record.messages, index),
      startVersion(this.now(), participant.resolution?.spec),
    );
    const rule: OverflowRule = live.record.kind === 'dialogue' ? 'drop-oldest' : 'report';
    const finished = this.runReply(live, participant, messageId, rule).then(() => undefined);
    return { message_id: messageId, reply_ids: [messageId], finished };
  }

  /** Edits a message the person wrote (a new version; the earlier one keeps what followed it) and asks again. */
  async edit(id: string, messageId: string, text: string): Promise<StartedTurn> {
    const live = await this.open(id);
    this.assertIdle(live);
    if (text.trim() === '') throw new AppError('invalid-input', 'the message is empty');
    const index = this.indexOf(live, messageId);
    const message = live.record.messages[index]!;
    if (message.speaker !== userSpeaker) throw new AppError('invalid-input', 'only your own messages can be edited');
    if (live.record.kind === 'dialogue')
      throw new AppError('invalid-input', 'start a new dialogue to change its opening');
    this.branch(live, index, index + 1, typedVersion(text, this.now()));
    const targets = message.to.filter((target) => live.participants.has(target));
    const replies = targets.map((target) =>
      this.startReply(live, this.participantOf(live, target), [userSpeaker], 'report'),
    );
    return {
      message_id: messageId,
      reply_ids: replies.map((reply) => reply.id),
      finished: Promise.all(replies.map((reply) => reply.finished)).then(() => undefined),
    };
  }

  /** Makes another version of a message current, bringing back what followed it then. */
  async selectVersion(id: string, messageId: string, version: number): Promise<SessionView> {
    const live = await this.open(id);
    this.assertIdle(live);
    const index = this.indexOf(live, messageId);
    const message = live.record.messages[index]!;
    if (!Number.isInteger(version) || version < 0 || version >= message.versions.length) {
      throw new AppError('invalid-input', `message ${messageId} has versions 1 to ${message.versions.length}`);
    }
    if (version === message.current) return this.viewOf(live);
    const start = message.speaker === userSpeaker ? index + 1 : dependentsStart(live.record.messages, index);
    const versions = message.versions.map((item, position) => {
      if (position === message.current) return { ...item, followers: live.record.messages.slice(start) };
      if (position === version) {
        const { followers: _followers, ...rest } = item;
        return rest;
      }
      return item;
    });
    const restored = message.versions[version]!.followers ?? [];
    live.record.messages = [
      ...live.record.messages.slice(0, index),
      { ...message, versions, current: version },
      ...live.record.messages.slice(index + 1, start),
      ...restored,
    ];
    this.touch(live);
    this.emitSnapshot(live);
    this.markDirty(live, true);
    return this.viewOf(live);
  }

  /**
   * A and B talk: the opening goes to A, then B answers A, A answers B, … for `turns` replies in all; each sees the
   * other's replies as user turns, with its own system prompt, and the oldest turns are dropped when a history outgrows
   * a context. A failure or a stop ends the dialogue; what was said stays.
   */
  async startDialogue(id: string, opening: string, turns: number): Promise<{ finished: Promise<void> }> {
    const live = await this.open(id);
    if (live.record.kind !== 'dialogue') throw new AppError('invalid-input', 'this session is not a dialogue');
    this.assertIdle(live);
    if (opening.trim() === '') throw new AppError('invalid-input', 'the opening message is empty');
    if (!Number.isInteger(turns) || turns < 1 || turns > 1000) {
      throw new AppError('invalid-input', 'a dialogue has 1 to 1000 replies');
    }
    const [first, second] = [...live.participants.values()] as [Participant, Participant];
    this.addMessage(live, userSpeaker, [first.id], typedVersion(opening, this.now()));
    if (live.record.title === '') this.retitle(live, opening);
    const controller = new AbortController();
    live.dialogue = controller;
    live.record.dialogue = { turns, done: 0, running: true };
    this.emit(live, { type: 'session', dialogue: live.record.dialogue });
    const finished = this.track(
      live,
      (async () => {
        try {
          for (let turn = 0; turn < turns && !controller.signal.aborted; turn += 1) {
            const speaker = turn % 2 === 0 ? first : second;
            const listener = turn % 2 === 0 ? second : first;
            const reply = this.startReply(live, speaker, [listener.id, userSpeaker], 'drop-oldest', controller.signal);
            const version = await reply.finished;
            live.record.dialogue = { turns, done: turn + 1, running: true };
            this.emit(live, { type: 'session', dialogue: live.record.dialogue });
            if (version.status !== 'done') break;
          }
        } finally {
          live.dialogue = null;
          live.record.dialogue = { ...live.record.dialogue!, running: false };
          this.emit(live, { type: 'session', dialogue: live.record.dialogue });
          this.markDirty(live, true);
          this.scheduleEviction(live);
        }
      })(),
    );
    return { finished };
  }

  /** Stops one participant's reply, or everything running in the session (a dialogue included). */
  async stop(id: string, participantId?: string): Promise<void> {
    const live = this.live.get(id);
    if (live === undefined) return;
    if (participantId === undefined) {
      live.dialogue?.abort();
      for (const controller of live.replies.values()) controller.abort();
      return;
    }
    this.participantOf(live, participantId);
    live.replies.get(participantId)?.abort();
  }

  /** A person answers the question the human backend put for participant `participantId` of session `id`. */
  async humanReply(id: string, participantId: string, text: string): Promise<void> {
    const live = await this.open(id);
    this.participantOf(live, participantId);
    const waiting = [...live.record.messages]
      .reverse()
      .find((message) => message.speaker === participantId && currentVersion(message).human_request !== undefined);
    const request = waiting === undefined ? undefined : currentVersion(waiting).human_request;
    if (request === undefined || this.dependencies.humanInput === undefined) {
      throw new AppError('not-found', `${this.labelOf(live, participantId)} is not waiting for an answer`);
    }
    this.dependencies.humanInput.reply(request.request_id, text);
  }

  // ---- participants ----------------------------------------------------------------------------------------------

  /** Changes a participant's model, system prompt or options (saved with the session); a new query is resolved now. */
  async configure(
    id: string,
    participantId: string,
    change: { query?: Query; system?: string; options?: GenerationOptions },
  ): Promise<SessionView> {
    const live = await this.open(id);
    const participant = this.participantOf(live, participantId);
    if (live.status.get(participantId) !== 'idle') throw this.busyError(live);
    if (change.query !== undefined) {
      if (isHidden(live.record))
        throw new AppError('invalid-input', 'the models of a blind pair are fixed until the vote');
      await participant.reResolve(change.query);
    }
    const config = { ...participant.config };
    if (change.system !== undefined) {
      if (change.system === '') delete config.system;
      else config.system = change.system;
    }
    if (change.options !== undefined) config.options = change.options;
    participant.config = config;
    this.syncParticipant(live, participant);
    return this.viewOf(live);
  }

  /** Resolves a participant's query again after a registry edit, letting go of the model it held. */
  async reResolve(id: string, participantId: string): Promise<SessionView> {
    const live = await this.open(id);
    const participant = this.participantOf(live, participantId);
    if (live.status.get(participantId) !== 'idle') throw this.busyError(live);
    if (isHidden(live.record))
      throw new AppError('invalid-input', 'the models of a blind pair are fixed until the vote');
    await participant.reResolve();
    this.syncParticipant(live, participant);
    const spec = participant.resolution?.spec;
    this.addMessage(
      live,
      systemSpeaker,
      [],
      typedVersion(
        `${participant.config.label} now uses ${typeof spec?.model_name === 'string' ? spec.model_name : 'the new spec'}` +
          `${typeof spec?.backend === 'string' ? ` (${spec.backend})` : ''}, resolved again from the registry.`,
        this.now(),
      ),
    );
    return this.viewOf(live);
  }

  private syncParticipant(live: LiveSession, participant: Participant): void {
    live.record.participants = live.record.participants.map((saved) =>
      saved.id === participant.id ? this.participantRecord(participant) : saved,
    );
    this.emit(live, { type: 'participant', participant: this.participantView(live, participant) });
    this.markDirty(live, true);
  }

  /** Casts the blind vote of a Pair session: saved, then the models are revealed. */
  async vote(id: string, winner: VoteWinner): Promise<SessionView> {
    const live = await this.open(id);
    const blind = live.record.blind;
    if (blind === undefined) throw new AppError('invalid-input', 'only a blind pair is voted on');
    if (blind.revealed) throw new AppError('conflict', 'this pair has been voted on already; start a new blind round');
    this.assertIdle(live);
    const answered = [...live.participants.keys()].every((participantId) =>
      live.record.messages.some(
        (message) => message.speaker === participantId && currentVersion(message).status === 'done',
      ),
    );
    if (!answered) throw new AppError('invalid-input', 'ask something first: both models must have answered');
    if (live.voting) throw new AppError('conflict', 'a vote on this pair is being saved already');
    const [a, b] = live.record.participants as [ParticipantRecord, ParticipantRecord];
    const name = (participant: ParticipantRecord): string =>
      typeof participant.spec?.model_name === 'string' ? participant.spec.model_name : queryLabel(participant.query);
    // Marked before the first await: a second click while the vote is saved is refused, not counted twice.
    live.voting = true;
    try {
      await this.dependencies.votes?.add({
        session_id: id,
        at: new Date(this.now()).toISOString(),
        a: name(a),
        b: name(b),
        winner,
      });
    } finally {
      live.voting = false;
    }
    live.record.blind = { revealed: true, vote: winner };
    this.touch(live);
    this.emitSnapshot(live);
    this.markDirty(live, true);
    return this.viewOf(live);
  }

  // ---- subscriptions ---------------------------------------------------------------------------------------------

  /**
   * The session's events for one client: a snapshot first, then every change. Resuming after `lastEventId` (an id
   * this client got before its socket dropped) replays what it missed instead, when the engine still has it.
   * Deltas that pile up while `pace` says the client's socket is busy go out merged. Ends when `signal` aborts; the
   * session and its replies go on.
   */
  async *subscribe(
    id: string,
    lastEventId: string | null | undefined,
    signal: AbortSignal,
    pace?: EventPace,
  ): AsyncGenerator<TrackedSessionEvent> {
    const live = await this.open(id);
    this.cancelEviction(live);
    yield* live.events.subscribe(
      lastEventId,
      () => ({ type: 'snapshot', session: this.viewOf(live) }),
      signal,
      () => this.scheduleEviction(live),
      pace,
    );
  }

  // ---- internals -------------------------------------------------------------------------------------------------

  private startReply(
    live: LiveSession,
    participant: Participant,
    to: string[],
    rule: OverflowRule,
    outer?: AbortSignal,
  ): { id: string; finished: Promise<MessageVersion> } {
    const message = this.addMessage(live, participant.id, to, startVersion(this.now(), participant.resolution?.spec));
    return { id: message.id, finished: this.runReply(live, participant, message.id, rule, outer) };
  }

  /** Keeps track of running work until it settles. */
  private track<T>(live: LiveSession, work: Promise<T>): Promise<T> {
    live.tasks.add(work);
    void work.finally(() => live.tasks.delete(work)).catch(() => undefined);
    return work;
  }

  /** Streams a participant's reply into message `messageId` (its current version); resolves with how it ended. */
  private runReply(
    live: LiveSession,
    participant: Participant,
    messageId: string,
    rule: OverflowRule,
    outer?: AbortSignal,
  ): Promise<MessageVersion> {
    const work = (async (): Promise<MessageVersion> => {
      const controller = new AbortController();
      const signal = outer === undefined ? controller.signal : AbortSignal.any([controller.signal, outer]);
      live.replies.set(participant.id, controller);
      this.cancelEviction(live);
      this.setStatus(live, participant, participant.hasModel ? 'streaming' : 'loading');
      try {
        const index = this.indexOf(live, messageId);
        const history = historyFor(participant.id, live.record.messages.slice(0, index), participant.config.system);
        await participant.respond(history, rule, signal, {
          now: this.now,
          onDropped: (count) =>
            this.updateMessage(live, messageId, (version) => ({ ...version, dropped_turns: count })),
          onStreaming: () => this.setStatus(live, participant, 'streaming'),
          onPart: (part) => {
            this.applyPart(live, messageId, part);
            // After the part, so that a client that sees the status already has the question (or the answer).
            if (part.type === 'human-input-needed') this.setStatus(live, participant, 'waiting-human');
            else if (live.status.get(participant.id) === 'waiting-human')
              this.setStatus(live, participant, 'streaming');
          },
        });
        return this.versionOf(live, messageId);
      } finally {
        // Idle and free in one step (no await between), so that no other reply can start in between and be
        // marked idle by this one; the context meter is measured afterwards (tokenizing may take a while).
        if (live.replies.get(participant.id) === controller) {
          live.replies.delete(participant.id);
          this.setStatus(live, participant, 'idle');
        }
        this.markDirty(live, true);
        this.scheduleEviction(live);
        const history = historyFor(participant.id, live.record.messages, participant.config.system);
        const meter = await participant.measure(history).catch(() => null);
        if (meter !== null && !live.replies.has(participant.id)) {
          participant.context = meter;
          this.emit(live, { type: 'participant', participant: this.participantView(live, participant) });
        }
      }
    })();
    return this.track(live, work);
  }

  private versionOf(live: LiveSession, messageId: string): MessageVersion {
    return currentVersion(live.record.messages[this.indexOf(live, messageId)]!);
  }

  private applyPart(live: LiveSession, messageId: string, part: StreamPart): void {
    const at = this.now();
    const index = this.indexOf(live, messageId);
    const message = live.record.messages[index]!;
    live.record.messages[index] = withCurrentVersion(message, applyStreamPart(currentVersion(message), part, at));
    live.record.updated_at = new Date(at).toISOString();
    this.emit(live, { type: 'part', message_id: messageId, part: isHidden(live.record) ? hidePart(part) : part, at });
    this.markDirty(live, false);
  }

  private updateMessage(
    live: LiveSession,
    messageId: string,
    change: (version: MessageVersion) => MessageVersion,
  ): void {
    const index = this.indexOf(live, messageId);
    const message = live.record.messages[index]!;
    live.record.messages[index] = withCurrentVersion(message, change(currentVersion(message)));
    this.emitMessage(live, live.record.messages[index]!);
  }

  private addMessage(live: LiveSession, speaker: string, to: string[], version: MessageVersion): TranscriptMessage {
    const message: TranscriptMessage = {
      id: newMessageId(),
      speaker,
      to,
      created_at: version.started_at,
      versions: [version],
      current: 0,
    };
    live.record.messages.push(message);
    this.emitMessage(live, message);
    this.markDirty(live, false);
    return message;
  }

  /**
   * Makes `version` the current one of message `index`; the messages from `followersFrom` on go with the version
   * that was current, and are gone from the transcript until it is chosen again.
   */
  private branch(live: LiveSession, index: number, followersFrom: number, version: MessageVersion): void {
    const message = live.record.messages[index]!;
    const followers = live.record.messages.slice(followersFrom);
    const versions = message.versions.map((item, position) =>
      position === message.current && followers.length > 0 ? { ...item, followers } : item,
    );
    versions.push(version);
    live.record.messages = live.record.messages.slice(0, followersFrom);
    live.record.messages[index] = { ...message, versions, current: versions.length - 1 };
    const at = this.now();
    if (followers.length > 0) this.emit(live, { type: 'truncate', length: followersFrom, at });
    this.emitMessage(live, live.record.messages[index]!);
  }

  private emitMessage(live: LiveSession, message: TranscriptMessage): void {
    const at = this.now();
    live.record.updated_at = new Date(at).toISOString();
    this.emit(live, {
      type: 'message',
      message: isHidden(live.record) ? hideSpecs(message) : clientMessage(message),
      at,
    });
  }

  private emitSnapshot(live: LiveSession): void {
    this.emit(live, { type: 'snapshot', session: this.viewOf(live) });
  }

  private emit(live: LiveSession, event: SessionEvent): void {
    live.events.emit(event);
  }

  private touch(live: LiveSession): void {
    const previous = Date.parse(live.record.updated_at);
    live.record.updated_at = new Date(Math.max(this.now(), Number.isNaN(previous) ? 0 : previous + 1)).toISOString();
  }

  private retitle(live: LiveSession, text: string): void {
    live.record.title = titleFromText(text);
    this.emit(live, { type: 'session', title: live.record.title });
  }

  private setStatus(live: LiveSession, participant: Participant, status: ParticipantStatus): void {
    live.status.set(participant.id, status);
    this.emit(live, { type: 'participant', participant: this.participantView(live, participant) });
  }

  private participantOf(live: LiveSession, participantId: string): Participant {
    const participant = live.participants.get(participantId);
    if (participant === undefined) {
      throw new AppError(
        'invalid-input',
        `this session has no participant "${participantId}" (it has ${[...live.participants.keys()].join(', ')})`,
      );
    }
    return participant;
  }

  private labelOf(live: LiveSession, participantId: string): string {
    return live.participants.get(participantId)?.config.label ?? participantId;
  }

  private indexOf(live: LiveSession, messageId: string): number {
    // From the end: a streaming reply is almost always the last message, and this runs for every stream part.
    const index = live.record.messages.findLastIndex((message) => message.id === messageId);
    if (index === -1) throw new AppError('not-found', `there is no message ${messageId} in this conversation`);
    return index;
  }

  private busyError(live: LiveSession): AppError {
    const busy = [...live.status]
      .filter(([, status]) => status !== 'idle')
      .map(([participantId]) => this.labelOf(live, participantId));
    return new AppError(
      'conflict',
      `${busy.length > 0 ? busy.join(' and ') : 'The dialogue'} is still answering: wait for the reply or stop it first`,
    );
  }

  private assertIdle(live: LiveSession): void {
    if (live.replies.size > 0 || live.dialogue !== null) throw this.busyError(live);
  }

  private viewOf(live: LiveSession): SessionView {
    const hidden = isHidden(live.record);
    const { record } = live;
    return {
      id: record.id,
      kind: record.kind,
      title: record.title,
      created_at: record.created_at,
      updated_at: record.updated_at,
      participants: [...live.participants.values()].map((participant) => this.participantView(live, participant)),
      // A copy: the engine keeps changing its own array (an in-process subscriber must not see it move).
      messages: record.messages.map(hidden ? hideSpecs : clientMessage),
      ...(record.blind === undefined ? {} : { blind: record.blind }),
      ...(record.dialogue === undefined ? {} : { dialogue: record.dialogue }),
      ...(live.saveError === null ? {} : { save_error: live.saveError }),
    };
  }

  private participantView(live: LiveSession, participant: Participant): ParticipantView {
    const hidden = isHidden(live.record);
    const resolution = participant.resolution;
    const { config } = participant;
    const backend = resolution?.spec.backend;
    return {
      id: participant.id,
      label: config.label,
      query: hidden ? null : config.query,
      ...(config.system === undefined ? {} : { system: config.system }),
      ...(config.options === undefined ? {} : { options: config.options }),
      // Backends get the spec as it is; clients never see a password in a base_url.
      spec: hidden || resolution === null ? null : clientSpec(resolution.spec),
      source: hidden || resolution === null ? null : resolution.source,
      backend: hidden || typeof backend !== 'string' ? null : backend,
      status: live.status.get(participant.id) ?? 'idle',
      ...(participant.error === null ? {} : { error: participant.error }),
      registry_changed: !hidden && participant.registryChanged,
      // A context size can tell models apart: hidden until the vote, the tokens used are not.
      context: hidden ? { ...participant.context, size: null } : participant.context,
      hidden,
    };
  }

  private onRegistryChange(): void {
    for (const live of this.live.values()) {
      for (const participant of live.participants.values()) {
        const before = participant.registryChanged;
        if (participant.checkRegistry() !== before) {
          this.emit(live, { type: 'participant', participant: this.participantView(live, participant) });
        }
      }
    }
  }

  // ---- saving and memory -----------------------------------------------------------------------------------------

  private markDirty(live: LiveSession, now: boolean): void {
    // Every change moves updated_at on (strictly), so that another process's save check sees it.
    this.touch(live);
    if (this.dependencies.store === undefined || live.record.messages.length === 0) return;
    live.dirty = true;
    if (now) {
      if (live.saveTimer !== null) clearTimeout(live.saveTimer);
      live.saveTimer = null;
      this.saveNow(live);
      return;
    }
    if (live.saveTimer !== null) return;
    live.saveTimer = setTimeout(() => {
      live.saveTimer = null;
      this.saveNow(live);
    }, this.dependencies.saveDelayMs ?? 1000);
    live.saveTimer.unref?.();
  }

  private saveNow(live: LiveSession): void {
    const store = this.dependencies.store;
    if (store === undefined) return;
    live.saving = live.saving.then(async () => {
      if (!live.dirty) return;
      live.dirty = false;
      const record = structuredClone(live.record);
      if (live.saveAs !== null) Object.assign(record, live.saveAs);
      try {
        // Only over the version this process knows: another process's changes are never overwritten.
        await store.save(record, { ifUpdatedAt: live.savedAt });
        live.savedAt = record.updated_at;
        if (live.saveAs === null && live.saveError !== null) {
          live.saveError = null;
          this.emitSnapshot(live);
        }
      } catch (error) {
        live.dirty = true;
        if (error instanceof AppError && error.code === 'conflict' && live.saveAs === null) {
          // Another window or process changed the file: this version goes on as a copy of its own, saved now.
          live.saveAs = { id: newSessionId(new Date(this.now())), title: `${record.title || 'Untitled'} (your copy)` };
          live.savedAt = null;
          live.saveError =
            'Another clemplay window or process changed this conversation on disk. Your version is kept as a ' +
            `separate conversation, “${live.saveAs.title}”, and what you add here is saved there.`;
          this.emitSnapshot(live);
          this.saveNow(live);
          return;
        }
        live.saveError = error instanceof Error ? error.message : String(error);
        this.emitSnapshot(live);
      }
    });
  }

  /** Resolves when every change made so far is on disk (or failed to save, which the session view reports). */
  async flush(id?: string): Promise<void> {
    await (id === undefined ? Promise.all(this.retiring.values()) : this.retiring.get(id));
    const sessions =
      id === undefined ? [...this.live.values()] : [this.live.get(id)].filter((live) => live !== undefined);
    for (const live of sessions) {
      if (live.saveTimer !== null) {
        clearTimeout(live.saveTimer);
        live.saveTimer = null;
        this.saveNow(live);
      }
      await live.saving;
    }
  }

  private cancelEviction(live: LiveSession): void {
    if (live.idleTimer !== null) clearTimeout(live.idleTimer);
    live.idleTimer = null;
  }

  /** An unwatched, idle session leaves memory after a while (letting go of its models); its file stays. */
  private scheduleEviction(live: LiveSession): void {
    this.cancelEviction(live);
    if (this.disposed || live.events.subscribers > 0 || live.replies.size > 0 || live.dialogue !== null) return;
    live.idleTimer = setTimeout(
      () => {
        live.idleTimer = null;
        if (live.events.subscribers > 0 || live.replies.size > 0 || live.dialogue !== null) return;
        void this.retire(live);
      },
      this.dependencies.idleMs ?? 10 * 60 * 1000,
    );
    live.idleTimer.unref?.();
  }

  private retire(live: LiveSession): Promise<void> {
    const id = live.record.id;
    this.cancelEviction(live);
    // Out of `live` first: whoever opens it meanwhile waits for this, then loads what was saved.
    if (this.live.get(id) === live) this.live.delete(id);
    const retiring = (async () => {
      live.dialogue?.abort();
      for (const controller of live.replies.values()) controller.abort();
      await Promise.allSettled([...live.tasks]);
      if (live.saveTimer !== null) {
        clearTimeout(live.saveTimer);
        live.saveTimer = null;
        this.saveNow(live);
      }
      await live.saving;
      await Promise.all([...live.participants.values()].map((participant) => participant.dispose()));
    })();
    const done = retiring.finally(() => {
      if (this.retiring.get(id) === done) this.retiring.delete(id);
    });
    this.retiring.set(id, done);
    return done;
  }

  private checkOpen(): void {
    if (this.disposed) throw new AppError('aborted', 'clemplay is shutting down');
  }

  /** Stops every reply, saves what is unsaved and lets go of every model. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.stopWatching();
    await Promise.all([...this.live.values()].map((live) => this.retire(live)));
    await Promise.all(this.retiring.values());
  }
}
