import { endBeforeOutput, type ChatMessage, type GenerationOptions, type StreamPart } from '../../src-shared/chat.js';
import type { ContextMeter } from '../../src-shared/conversation/session.js';
import {
  applyStreamPart,
  estimateTokens,
  fitHistory,
  startVersion,
  type MessageVersion,
} from '../../src-shared/conversation/transcript.js';
import { AppError, type AppErrorShape, toAppErrorShape } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { mergeGenerationOptions, readSpecSetting } from '../backends/options.js';
import type { Model } from '../backends/types.js';
import { redactSpec } from './session-export.js';
import {
  createModelFor,
  resolveQuery,
  streamReply,
  type ModelDependencies,
  type Query,
  type ResolvedQuery,
} from './open-model.js';

/** What a participant is: who it is in its session, the model query, its system prompt and generation options. */
export interface ParticipantConfig {
  id: string;
  label: string;
  query: Query;
  system?: string;
  options?: GenerationOptions;
}

/** What to do with a history longer than the model's context. */
export type OverflowRule =
  /** Report `context-overflow` and send nothing (chat, Pair: the person decides what to cut). */
  | 'report'
  /** Drop the oldest turns after the system prompt ({@link fitHistory}) — dialogues and games. */
  | 'drop-oldest';

/** A history checked against the model's context, ready to send. */
export interface PreparedTurn {
  history: ChatMessage[];
  /** Messages dropped from its start to fit. */
  dropped: number;
}

/** What a caller of {@link Participant.respond} may watch or set. */
export interface TurnHooks {
  /** Each stream part as it arrives (already folded into the version the turn returns). */
  onPart?(part: StreamPart): void;
  /** The model is made and the history checked: the reply starts streaming now. */
  onStreaming?(): void;
  /** This many messages were dropped from the start of the history to fit the context. */
  onDropped?(count: number): void;
  /** Generation options for this turn; default the participant's. */
  options?: GenerationOptions;
  /** The clock stamped on parts (milliseconds since the epoch); default Date.now. */
  now?: () => number;
}

/** The context size a spec states (`context_size`, top level or in `model_config`), where it is a number. */
function statedContextSize(spec: JsonObject): number | null {
  const setting = readSpecSetting(spec, 'context_size');
  return typeof setting?.value === 'number' && setting.value > 0 ? setting.value : null;
}

/**
 * One participant of a conversation: its query resolved once, its model made on first use and held for its life (a
 * registry edit meanwhile does not swap the model under it: {@link checkRegistry} only says whether it would), and
 * the one place where a participant's history becomes a streamed reply.
 */
export class Participant {
  private resolvedQuery: ResolvedQuery | null;
  private resolveError: AppErrorShape | null;
  private modelPromise: Promise<Model> | null = null;
  /** Set when the query now resolves to something else than the held spec. */
  registryChanged = false;
  context: ContextMeter;

  constructor(
    public config: ParticipantConfig,
    private readonly dependencies: ModelDependencies,
    /**
     * A spec resolved earlier (a saved session reopened), as saved: secrets and URL credentials stripped. When the
     * registry still resolves the query to it, the fresh resolution (credentials included) is taken; otherwise it
     * is kept as it is and {@link registryChanged} says the registry would now pick another.
     */
    held?: ResolvedQuery,
  ) {
    this.resolvedQuery = held ?? null;
    this.resolveError = null;
    if (held !== undefined) {
      const now = this.tryResolve();
      if (now !== null && sameResolution(now, held)) this.resolvedQuery = now;
      else this.registryChanged = true;
    } else {
      try {
        this.resolvedQuery = resolveQuery(dependencies.registry, config.query);
      } catch (error) {
        this.resolveError = toAppErrorShape(error);
      }
    }
    const size = this.resolvedQuery === null ? null : statedContextSize(this.resolvedQuery.spec);
    this.context = { used: null, size, exact: false };
  }

  get id(): string {
    return this.config.id;
  }

  /** The resolved spec and its source; null when the query does not resolve (see {@link error}). */
  get resolution(): ResolvedQuery | null {
    return this.resolvedQuery;
  }

  /** Why the query does not resolve. */
  get error(): AppErrorShape | null {
    return this.resolveError;
  }

  /** Whether the model has been made (a first reply may take a while: loading a local model). */
  get hasModel(): boolean {
    return this.modelPromise !== null;
  }

  /** The held spec, or throws the reason there is none. */
  private requireResolution(): ResolvedQuery {
    if (this.resolvedQuery === null) {
      const problem = this.resolveError ?? { code: 'no-match' as const, message: 'the model query did not resolve' };
      throw new AppError(problem.code, problem.message, problem.details);
    }
    return this.resolvedQuery;
  }

  /** The model, made once; a failed attempt is forgotten so the next turn tries again. */
  model(signal?: AbortSignal): Promise<Model> {
    if (this.modelPromise === null) {
      const { spec } = this.requireResolution();
      const made = createModelFor(spec, this.dependencies.backendContext, signal);
      this.modelPromise = made;
      made.catch(() => {
        if (this.modelPromise === made) this.modelPromise = null;
      });
    }
    return this.modelPromise;
  }

  /** Tokens `history` takes and the context size: counted by the model where it can, else estimated. */
  async measure(history: ChatMessage[], signal?: AbortSignal): Promise<ContextMeter> {
    const stated = this.resolvedQuery === null ? null : statedContextSize(this.resolvedQuery.spec);
    const model = this.modelPromise === null ? undefined : await this.modelPromise.catch(() => undefined);
    if (model?.measure !== undefined) {
      try {
        const measured = await model.measure(history, signal);
        return { used: measured.tokens, size: measured.context_size, exact: true };
      } catch {
        // A model being unloaded cannot count; the estimate will do for the meter.
      }
    }
    return { used: estimateTokens(history), size: stated, exact: false };
  }

  /**
   * Checks a history against the context before it is sent. With `report`, a history that leaves no room for the
   * reply (`max_tokens`, else one token) throws `context-overflow`; with `drop-oldest` the oldest turns go first.
   */
  async prepare(history: ChatMessage[], rule: OverflowRule, signal?: AbortSignal): Promise<PreparedTurn> {
    const meter = await this.measure(history, signal);
    this.context = meter;
    if (meter.size === null || meter.used === null) return { history, dropped: 0 };
    const reserve = this.reserve();
    if (meter.used + reserve <= meter.size) return { history, dropped: 0 };
    const size = meter.size;
    const overflow = (): AppError =>
      new AppError(
        'context-overflow',
        `The conversation takes ${meter.used} tokens${reserve > 1 ? ` and the reply may take ${reserve}` : ''}, but the ` +
          `model's context holds ${size}${meter.exact ? '' : ' (estimated: four characters a token)'} — start a new ` +
          'conversation, shorten it, lower max_tokens, or use a model with a larger context.',
        { used_tokens: meter.used, context_size: size, reserved_tokens: reserve },
      );
    if (rule === 'report') throw overflow();
    // Estimates are cheap; counting again for every candidate would tokenize the history many times over.
    const ratio = meter.exact && meter.used > 0 ? meter.used / Math.max(1, estimateTokens(history)) : 1;
    const fitted = fitHistory(history, (candidate) => estimateTokens(candidate) * ratio + reserve <= size);
    if (!fitted.fits) throw overflow();
    this.context = { ...meter, used: Math.round(estimateTokens(fitted.history) * ratio) };
    return { history: fitted.history, dropped: fitted.dropped };
  }

  /** Tokens kept free for the reply: its `max_tokens` (call options, then the spec), else one. */
  private reserve(): number {
    try {
      const options = mergeGenerationOptions(this.resolvedQuery?.spec ?? {}, this.config.options ?? {});
      return options.max_tokens ?? 1;
    } catch {
      return 1;
    }
  }

  /**
   * Streams the participant's reply to a prepared history. Never throws: failures (the model cannot be made, the
   * backend fails) are `error` parts, and stopping before any output ends as a stop.
   */
  async *reply(history: ChatMessage[], signal: AbortSignal, options?: GenerationOptions): AsyncGenerator<StreamPart> {
    let model: Model;
    try {
      model = await this.model(signal);
    } catch (error) {
      yield* endBeforeOutput(error, signal.aborted);
      return;
    }
    yield* streamReply(model, { messages: history, options: options ?? this.config.options ?? {} }, signal);
  }

  /**
   * One whole turn: makes the model (a local one loads here, so a model that can count its tokens counts them),
   * fits the history to the context by `rule`, streams the reply and folds every part into a version with the shared
   * reducer. `hooks` see each step as it happens (the session engine turns them into events; a game keeps the
   * result). Never throws: every failure ends the version as an error.
   */
  async respond(
    history: ChatMessage[],
    rule: OverflowRule,
    signal: AbortSignal,
    hooks: TurnHooks = {},
  ): Promise<MessageVersion> {
    const now = hooks.now ?? Date.now;
    let version = startVersion(now(), this.resolvedQuery?.spec);
    const apply = (part: StreamPart): void => {
      version = applyStreamPart(version, part, now());
      hooks.onPart?.(part);
    };
    let prepared: PreparedTurn;
    try {
      await this.model(signal);
      prepared = await this.prepare(history, rule, signal);
    } catch (error) {
      for (const part of endBeforeOutput(error, signal.aborted)) apply(part);
      return version;
    }
    if (prepared.dropped > 0) {
      version = { ...version, dropped_turns: prepared.dropped };
      hooks.onDropped?.(prepared.dropped);
    }
    hooks.onStreaming?.();
    for await (const part of this.reply(prepared.history, signal, hooks.options)) apply(part);
    return version;
  }

  /** Whether the registry now resolves the query differently from the held spec; sets {@link registryChanged}. */
  checkRegistry(): boolean {
    const now = this.tryResolve();
    const held = this.resolvedQuery;
    const changed = held === null ? now !== null : now === null || !sameResolution(now, held);
    this.registryChanged = changed;
    return changed;
  }

  private tryResolve(): ResolvedQuery | null {
    try {
      return resolveQuery(this.dependencies.registry, this.config.query);
    } catch {
      return null;
    }
  }

  /**
   * Resolves the query again (after a registry edit, or a new query) and lets go of the old model; throws `no-match`
   * or `invalid-spec` and keeps the old spec when the new query does not resolve.
   */
  async reResolve(query: Query = this.config.query): Promise<void> {
    const resolved = resolveQuery(this.dependencies.registry, query);
    const previous = this.modelPromise;
    this.modelPromise = null;
    this.config = { ...this.config, query };
    this.resolvedQuery = resolved;
    this.resolveError = null;
    this.registryChanged = false;
    this.context = { used: this.context.used, size: statedContextSize(resolved.spec), exact: false };
    await disposeModel(previous);
  }

  /** Lets go of the model (a loaded local model stays cached for other users until its idle time). */
  async dispose(): Promise<void> {
    const previous = this.modelPromise;
    this.modelPromise = null;
    await disposeModel(previous);
  }
}

/** Whether two resolutions are the same entry and spec, as saved (secrets and URL credentials do not count). */
function sameResolution(left: ResolvedQuery, right: ResolvedQuery): boolean {
  return (
    JSON.stringify([redactSpec(left.spec), left.source]) === JSON.stringify([redactSpec(right.spec), right.source])
  );
}

async function disposeModel(model: Promise<Model> | null): Promise<void> {
  if (model === null) return;
  const made = await model.catch(() => null);
  await made?.dispose();
}
