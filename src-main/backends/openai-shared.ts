import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';

import {
  StreamPartBatch,
  type ChatMessage,
  type GenerationOptions,
  type StreamPart,
  type Usage,
} from '../../src-shared/chat.js';
import { AppError, type AppErrorShape, type ErrorCode } from '../../src-shared/errors.js';
import { isJsonObject, type JsonObject } from '../../src-shared/json.js';
import { stripUrlCredentials } from '../../src-shared/secrets.js';
import {
  EosCuller,
  StopStringFilter,
  compileEosPattern,
  mergeGenerationOptions,
  normalizeMessages,
  readSpecGenerationOptions,
  readSpecSetting,
  type StreamTextFilter,
} from './options.js';
import { ServerSentEventDecoder } from './server-sent-events.js';
import { defaultRetryPolicy, parseRetryAfterMs, retryDelayMs, sleep, withRetries, type RetryPolicy } from './retry.js';
import type { ApiKeyAnswer, Backend, BackendContext, GenerateRequest, Model } from './types.js';

/** What differs between the `openai` and the `openai_compatible` backends. */
export interface OpenAIFlavour {
  /** The backend name, as specs write it. */
  name: 'openai' | 'openai_compatible';
  /** The base URL used when the spec has none; undefined: the spec must name one. */
  defaultBaseUrl: string | undefined;
  /** Whether a request without an API key is pointless (OpenAI) or normal (most local servers). */
  apiKeyRequired: boolean;
  /** The environment variable the credentials module reads the key from, named in messages. */
  apiKeyEnvironmentVariable: string;
  /**
   * The body key for the token limit: OpenAI's reasoning models only take `max_completion_tokens`, which all its
   * chat models accept; servers that copy the API (llama.cpp, vLLM, Ollama, …) all know `max_tokens`.
   */
  maxTokensParameter: 'max_completion_tokens' | 'max_tokens';
  /** How many stop strings the server accepts; the rest are applied client side. */
  maxServerStopStrings: number;
}

/** The official OpenAI API. */
export const openAIFlavour: OpenAIFlavour = {
  name: 'openai',
  defaultBaseUrl: 'https://api.openai.com/v1',
  apiKeyRequired: true,
  apiKeyEnvironmentVariable: 'OPENAI_API_KEY',
  maxTokensParameter: 'max_completion_tokens',
  maxServerStopStrings: 4,
};

/** Any server speaking the chat-completions API at a `base_url`. */
export const openAICompatibleFlavour: OpenAIFlavour = {
  name: 'openai_compatible',
  defaultBaseUrl: undefined,
  apiKeyRequired: false,
  apiKeyEnvironmentVariable: 'OPENAI_COMPATIBLE_API_KEY',
  maxTokensParameter: 'max_tokens',
  maxServerStopStrings: Number.POSITIVE_INFINITY,
};

/** Defaults of an OpenAI-style backend that a spec can override; mostly for tests, which want them small. */
export interface OpenAIBackendOptions {
  /** Retry policy; the spec's `retries` overrides `retries`. */
  retry?: Partial<RetryPolicy>;
  /** Milliseconds to wait for the first token (headers included); default 120000. Spec: `timeout_s`. */
  firstTokenTimeoutMs?: number;
  /** Milliseconds a started stream may go without a chunk; default 30000. Spec: `stall_timeout_s`. */
  stallTimeoutMs?: number;
}

/**
 * The most retries a spec may ask for: with backoff, 10 already spans minutes; more would let a registry entry keep
 * a request (and its key) going to a failing server for hours.
 */
export const maximumRetries = 10;

/** Default wait for the first token: long enough for hidden reasoning and for a CPU server's prompt processing. */
export const defaultFirstTokenTimeoutMs = 120_000;
/** Default wait between chunks once text flows; a healthy server sends several a second. */
export const defaultStallTimeoutMs = 30_000;

/** Everything a model needs from its spec, read and checked once. */
export interface OpenAIConnection {
  backend: OpenAIFlavour['name'];
  /** The base URL requests go to. */
  baseUrl: string;
  /** The base URL as messages show it: no user name, password, query or fragment. */
  displayBaseUrl: string;
  /** The model id sent as `model`: `model_id`, else `model_name`; undefined only when listing models. */
  modelId: string | undefined;
  organization: string | undefined;
  retry: RetryPolicy;
  firstTokenTimeoutMs: number;
  stallTimeoutMs: number;
  /** `model_config.extra_body`, merged under the request body. */
  extraBody: JsonObject;
  /** The compiled `eos_to_cull`, if the spec has one. */
  eosToCull: RegExp | undefined;
  /** Whether the spec carries an `api_key` (which is ignored; only mentioned in auth messages). */
  specHasApiKey: boolean;
}

function specProblem(keyPath: string, message: string): AppError {
  return new AppError('invalid-spec', message, { key_path: keyPath });
}

function readOptionalString(spec: JsonObject, key: string): string | undefined {
  const setting = readSpecSetting(spec, key);
  if (setting === undefined) return undefined;
  if (typeof setting.value !== 'string' || setting.value.trim() === '') {
    throw specProblem(setting.path, `The model spec's \`${setting.path}\` must be a non-empty string.`);
  }
  return setting.value.trim();
}

function readSeconds(spec: JsonObject, key: string): number | undefined {
  const setting = readSpecSetting(spec, key);
  if (setting === undefined) return undefined;
  if (typeof setting.value !== 'number' || !Number.isFinite(setting.value) || setting.value <= 0) {
    throw specProblem(
      setting.path,
      `The model spec's \`${setting.path}\` must be a number of seconds > 0, not ${JSON.stringify(setting.value)}.`,
    );
  }
  return setting.value * 1000;
}

/** A URL as messages may show it: without credentials, query or fragment. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`.replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/**
 * Reads and checks what `flavour` needs from `spec`; throws `invalid-spec` naming the key at fault. The spec's
 * `api_key` is never read: keys come from the {@link BackendContext} only.
 */
export function readConnection(
  flavour: OpenAIFlavour,
  spec: JsonObject,
  options: OpenAIBackendOptions = {},
  requireModel = true,
): OpenAIConnection {
  const baseUrlSetting = readOptionalString(spec, 'base_url');
  const baseUrl = (baseUrlSetting ?? flavour.defaultBaseUrl)?.replace(/\/+$/, '');
  if (baseUrl === undefined) {
    throw specProblem(
      'base_url',
      `Backend ${flavour.name} needs \`base_url\` in the model spec: the server's OpenAI-style API root, ` +
        'such as "http://127.0.0.1:8080/v1" (llama.cpp), "http://127.0.0.1:8000/v1" (vLLM) or ' +
        '"http://127.0.0.1:11434/v1" (Ollama).',
    );
  }
  let protocol: string;
  try {
    protocol = new URL(baseUrl).protocol;
  } catch {
    protocol = '';
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw specProblem(
      'base_url',
      `The model spec's \`base_url\` must be an http:// or https:// URL, not ${JSON.stringify(displayUrl(baseUrl))}.`,
    );
  }

  const modelId = readOptionalString(spec, 'model_id') ?? readOptionalString(spec, 'model_name');
  if (modelId === undefined && requireModel) {
    throw specProblem(
      'model_id',
      `Backend ${flavour.name} needs \`model_id\` (or \`model_name\`) in the model spec: the model the server should run.`,
    );
  }

  const retriesSetting = readSpecSetting(spec, 'retries');
  const retry: RetryPolicy = { ...defaultRetryPolicy, ...options.retry };
  if (retriesSetting !== undefined) {
    const value = retriesSetting.value;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > maximumRetries) {
      throw specProblem(
        retriesSetting.path,
        `The model spec's \`${retriesSetting.path}\` must be a whole number from 0 to ${maximumRetries} (retries ` +
          `after the first try), not ${JSON.stringify(value)}.`,
      );
    }
    retry.retries = value;
  }

  const extraBodySetting = readSpecSetting(spec, 'extra_body');
  if (extraBodySetting !== undefined && !isJsonObject(extraBodySetting.value)) {
    throw specProblem(
      extraBodySetting.path,
      `The model spec's \`${extraBodySetting.path}\` must be an object of extra request body keys.`,
    );
  }

  const eosSetting = readSpecSetting(spec, 'eos_to_cull');
  let eosToCull: RegExp | undefined;
  if (eosSetting !== undefined) {
    if (typeof eosSetting.value !== 'string') {
      throw specProblem(
        eosSetting.path,
        `The model spec's \`${eosSetting.path}\` must be a regular expression string.`,
      );
    }
    if (eosSetting.value !== '') eosToCull = compileEosPattern(eosSetting.value, eosSetting.path);
  }

  // Checked here so that a bad value shows when the model is made, not at its first use.
  readSpecGenerationOptions(spec);

  return {
    backend: flavour.name,
    baseUrl,
    displayBaseUrl: displayUrl(baseUrl),
    modelId,
    organization: readOptionalString(spec, 'organization'),
    retry,
    firstTokenTimeoutMs: readSeconds(spec, 'timeout_s') ?? options.firstTokenTimeoutMs ?? defaultFirstTokenTimeoutMs,
    stallTimeoutMs: readSeconds(spec, 'stall_timeout_s') ?? options.stallTimeoutMs ?? defaultStallTimeoutMs,
    extraBody: extraBodySetting !== undefined && isJsonObject(extraBodySetting.value) ? extraBodySetting.value : {},
    eosToCull,
    specHasApiKey: spec['api_key'] !== undefined,
  };
}

/** Keys `extra_body` cannot override, because the stream handling depends on them. */
const protectedBodyKeys = new Set(['model', 'messages', 'stream', 'stream_options']);

function toMessageParam(message: ChatMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'user':
      return { role: 'user', content: message.content };
    case 'assistant':
      return { role: 'assistant', content: message.content };
  }
}

/**
 * The request body: `extra_body` first, then the keys clemplay sets on top (so an explicit option beats
 * `extra_body`; `model`, `messages`, `stream` and `stream_options` cannot be overridden at all).
 */
export function buildRequestBody(
  flavour: OpenAIFlavour,
  connection: OpenAIConnection,
  messages: readonly ChatMessage[],
  options: GenerationOptions,
): ChatCompletionCreateParamsStreaming {
  const extra: JsonObject = {};
  for (const [key, value] of Object.entries(connection.extraBody)) {
    if (!protectedBodyKeys.has(key)) extra[key] = value;
  }
  const body: ChatCompletionCreateParamsStreaming = {
    ...extra,
    model: connection.modelId ?? '',
    messages: messages.map(toMessageParam),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (options.temperature !== undefined) body.temperature = options.temperature;
  if (options.top_p !== undefined) body.top_p = options.top_p;
  if (options.seed !== undefined) body.seed = options.seed;
  if (options.max_tokens !== undefined) {
    if (flavour.maxTokensParameter === 'max_completion_tokens') body.max_completion_tokens = options.max_tokens;
    else body.max_tokens = options.max_tokens;
  }
  if (options.stop !== undefined && options.stop.length > 0) {
    body.stop = options.stop.slice(0, flavour.maxServerStopStrings);
  }
  return body;
}

/**
 * Replaces secrets in a text: the API key itself, anything shaped like a key or a bearer token, and user names and
 * passwords in URLs.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  let result = stripUrlCredentials(text);
  for (const secret of secrets) {
    // Very short "keys" (such as "x" for servers that want any) would shred the message and protect nothing.
    if (secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  return result.replace(/\bsk-[A-Za-z0-9_*-]{6,}/g, 'sk-[redacted]').replace(/\bBearer\s+\S+/gi, 'Bearer [redacted]');
}

function redactValue(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactValue(item, secrets)]));
  }
  return value;
}

/** An error shape with every secret removed from its message and details. */
export function redactError(error: AppErrorShape, secrets: readonly string[]): AppErrorShape {
  const redacted: AppErrorShape = { code: error.code, message: redactText(error.message, secrets) };
  if (error.details !== undefined) redacted.details = redactValue(error.details, secrets) as Record<string, unknown>;
  return redacted;
}

/** An error mapped from what the SDK or the connection threw, with whether retrying may help. */
export interface MappedError {
  error: AppErrorShape;
  /** Worth another try: 429 (but not an exhausted quota), 408, 409, 5xx, connection failures. */
  retryable: boolean;
  /** The wait the server asked for, in milliseconds. */
  retryAfterMs?: number;
}

function serverLabel(flavour: OpenAIFlavour, connection: OpenAIConnection): string {
  return flavour.name === 'openai' ? 'OpenAI' : `The server at ${connection.displayBaseUrl}`;
}

function errorCauseText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as Error & { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${current.message} (${code})` : current.message);
    current = current.cause;
  }
  return parts.join(': ');
}

function serverMessageOf(error: APIError): string | undefined {
  const body: unknown = error.error;
  if (typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string') {
    return body.message;
  }
  return undefined;
}

/** Thrown when a stream ends cleanly but without a `finish_reason`: the server gave up or a proxy cut it. */
class StreamEndedEarlyError extends Error {
  constructor() {
    super('the stream ended before the model finished');
    this.name = 'StreamEndedEarlyError';
  }
}

/** Maps whatever a request or its stream threw to a clemplay error (secrets are removed later, in one place). */
export function mapOpenAIError(error: unknown, flavour: OpenAIFlavour, connection: OpenAIConnection): MappedError {
  const label = serverLabel(flavour, connection);
  const url = connection.displayBaseUrl;
  const details: Record<string, unknown> = { backend: flavour.name, base_url: url };
  if (connection.modelId !== undefined) details['model_id'] = connection.modelId;
  const make = (code: ErrorCode, message: string, retryable: boolean, retryAfterMs?: number): MappedError => {
    const mapped: MappedError = { error: { code, message, details }, retryable };
    if (retryAfterMs !== undefined) {
      mapped.retryAfterMs = retryAfterMs;
      // Kept in the error too, so a server passing the failure on (clemplay's own API) can pass the wait on.
      details['retry_after_ms'] = retryAfterMs;
    }
    return mapped;
  };

  if (error instanceof AppError) return { error: error.toShape(), retryable: false };
  if (error instanceof APIConnectionTimeoutError) {
    return make(
      'timeout',
      `No response from ${url} within ${connection.firstTokenTimeoutMs / 1000} s — the server is busy or ` +
        'unreachable; raise `timeout_s` in the model spec for slow servers.',
      false,
    );
  }
  if (error instanceof APIUserAbortError) return make('aborted', 'The request was cancelled.', false);
  if (error instanceof APIConnectionError) {
    details['cause'] = errorCauseText(error.cause ?? error);
    return make(
      'network',
      `Could not connect to ${url} (${errorCauseText(error.cause ?? error)}) — is the server running and ` +
        '`base_url` right?',
      true,
    );
  }
  if (error instanceof APIError) {
    const status = error.status;
    const serverMessage = serverMessageOf(error) ?? error.message;
    details['server_message'] = serverMessage;
    if (error.code !== undefined && error.code !== null) details['server_code'] = error.code;
    if (status === undefined) {
      return make('network', `${label} reported an error mid-stream: ${serverMessage}`, false);
    }
    details['status'] = status;
    const spec = connection.specHasApiKey
      ? " (the model spec's `api_key` is ignored: keys never live in registry files)"
      : '';
    if (status === 401 || status === 403) {
      const problem =
        status === 401
          ? `the API key for backend ${flavour.name} is missing or wrong`
          : `the API key for backend ${flavour.name} is not allowed to do this (model "${connection.modelId ?? ''}")`;
      const remedy =
        flavour.name === 'openai'
          ? `set it in Settings or ${flavour.apiKeyEnvironmentVariable}`
          : `this server wants one: set it in Settings or ${flavour.apiKeyEnvironmentVariable} (a key is ` +
            'optional, for servers that check one), and check `base_url`';
      return make('auth', `${label} said ${status}: ${problem} — ${remedy}${spec}`, false);
    }
    if (status === 429) {
      if (error.code === 'insufficient_quota') {
        return make(
          'rate-limit',
          `${label} said 429: the account's quota is used up (insufficient_quota) — check its plan and billing.`,
          false,
        );
      }
      return make(
        'rate-limit',
        `${label} said 429: too many requests for model "${connection.modelId ?? ''}" — wait a moment and try again.`,
        true,
        parseRetryAfterMs(error.headers),
      );
    }
    if (status === 404) {
      return make(
        'not-found',
        `${label} said 404: ${serverMessage} — check \`model_id\` ("${connection.modelId ?? ''}") and \`base_url\`.`,
        false,
      );
    }
    if (status === 408) {
      return make('timeout', `${label} said 408: the request timed out on the server.`, true);
    }
    if (status === 409) {
      return make('network', `${label} said 409 (a conflict on the server): ${serverMessage}`, true);
    }
    if (status >= 500) {
      return make(
        'network',
        `Server error ${status} from ${url}: ${serverMessage} — the server failed; try again later.`,
        true,
        parseRetryAfterMs(error.headers),
      );
    }
    return make('invalid-input', `${label} rejected the request (${status}): ${serverMessage}`, false);
  }
  if (error instanceof SyntaxError) {
    return make(
      'network',
      `${url} sent malformed data in the stream (a chunk was not JSON: ${error.message}) — is \`base_url\` ` +
        "an OpenAI-style API root and the server's version recent?",
      false,
    );
  }
  if (error instanceof StreamEndedEarlyError) {
    return make('network', `The stream from ${url} ended before the model finished (no finish_reason).`, true);
  }
  if (error instanceof TypeError && (error.message === 'terminated' || error.cause !== undefined)) {
    // undici throws TypeError('terminated') (cause: other side closed / ECONNRESET) when a body breaks off.
    details['cause'] = errorCauseText(error);
    return make('network', `The connection to ${url} broke off (${errorCauseText(error)}).`, true);
  }
  const message = error instanceof Error ? error.message : String(error);
  return make('internal', `Unexpected failure talking to ${url}: ${message}`, false);
}

type Interruption = 'abort' | 'first-token-timeout' | 'stall-timeout';

type Raced<T> = { interrupted: false; value: T } | { interrupted: true; reason: Interruption };

/**
 * One attempt's timers and cancellation. Every wait on the SDK is raced against it, so a stop or a timeout never
 * depends on the SDK noticing; its controller is what the SDK's fetch listens to, so aborting it really closes
 * the HTTP request.
 */
class Watchdog {
  readonly controller = new AbortController();
  private interruption: Interruption | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed countdown runs out, and what it interrupts then. */
  private deadline = 0;
  private armedReason: Interruption = 'abort';
  /** When the one timer fires; a later deadline needs no new timer. */
  private timerAt = 0;
  private readonly waiters = new Set<(reason: Interruption) => void>();
  private readonly onAbort = (): void => this.interrupt('abort');

  constructor(private readonly signal: AbortSignal) {
    if (signal.aborted) this.interrupt('abort');
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  get reason(): Interruption | undefined {
    return this.interruption;
  }

  /**
   * (Re)starts the countdown to `reason`. Called for every chunk of a stream, so it moves a deadline instead of
   * replacing a timer each time: the one timer re-checks the deadline when it fires.
   */
  arm(milliseconds: number, reason: Interruption): void {
    if (this.interruption !== undefined) return;
    this.deadline = performance.now() + milliseconds;
    this.armedReason = reason;
    if (this.timer !== undefined && this.timerAt <= this.deadline) return;
    this.schedule(milliseconds);
  }

  private schedule(milliseconds: number): void {
    clearTimeout(this.timer);
    this.timerAt = performance.now() + milliseconds;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const left = this.deadline - performance.now();
      if (left > 1) this.schedule(left);
      else this.interrupt(this.armedReason);
    }, milliseconds);
  }

  interrupt(reason: Interruption): void {
    if (this.interruption !== undefined) return;
    this.interruption = reason;
    clearTimeout(this.timer);
    this.controller.abort();
    for (const waiter of [...this.waiters]) waiter(reason);
    this.waiters.clear();
  }

  /**
   * Waits for `promise` unless the stream is interrupted first. A stream races every chunk, so a waiter is added
   * and removed per call rather than chaining onto one long-lived promise, which would keep a reaction per chunk.
   */
  race<T>(promise: Promise<T>): Promise<Raced<T>> {
    if (this.interruption !== undefined) return Promise.resolve({ interrupted: true, reason: this.interruption });
    return new Promise<Raced<T>>((resolve, reject) => {
      const onInterrupt = (reason: Interruption): void => resolve({ interrupted: true, reason });
      this.waiters.add(onInterrupt);
      promise.then(
        (value) => {
          this.waiters.delete(onInterrupt);
          resolve({ interrupted: false, value });
        },
        (error: unknown) => {
          this.waiters.delete(onInterrupt);
          reject(error);
        },
      );
    });
  }

  /** Ends the attempt: timers off, and the HTTP request cancelled if it is still open. */
  dispose(): void {
    clearTimeout(this.timer);
    this.signal.removeEventListener('abort', this.onAbort);
    this.controller.abort();
  }
}

/** Waits for `promise` unless `signal` aborts first. */
function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<{ aborted: true } | { aborted: false; value: T }> {
  if (signal.aborted) return Promise.resolve({ aborted: true });
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve({ aborted: true });
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve({ aborted: false, value });
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** What the parts of one generation have said so far, across attempts. */
interface GenerationState {
  /** Content deltas (text and reasoning) received; the output-token estimate when the server sends no usage. */
  contentDeltas: number;
  /** Whether text or reasoning was yielded to the caller (so an error is `partial`). */
  emittedContent: boolean;
  /** The server's usage, once it came. */
  serverUsage: Usage | undefined;
}

type AttemptOutcome = { type: 'finished' } | ({ type: 'failed' } & MappedError);

/** Where servers put reasoning: DeepSeek and older vLLM `reasoning_content`; Ollama, OpenRouter, newer vLLM `reasoning`. */
const reasoningFields = ['reasoning_content', 'reasoning'] as const;

function readReasoning(delta: ChatCompletionChunk.Choice.Delta): string | undefined {
  const fields = delta as unknown as Record<string, unknown>;
  for (const key of reasoningFields) {
    const value = fields[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}

/**
 * One event of the stream: a chunk, or the end marker `[DONE]`. Read as the SDK reads it — a chunk is not checked
 * against a schema, only its fields are read with care — and an `error` object in its place (vLLM, mid-stream) is
 * thrown as the SDK throws it, so errors map the same way.
 */
function parseChunk(data: string, headers: Headers): ChatCompletionChunk | 'done' {
  if (data.startsWith('[DONE]')) return 'done';
  const parsed: unknown = JSON.parse(data);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SyntaxError(`expected a JSON object, got ${data.slice(0, 40)}`);
  }
  const error: unknown = (parsed as { error?: unknown }).error;
  if (error) throw new APIError(undefined, error, undefined, headers);
  return parsed as ChatCompletionChunk;
}

/** A model of an OpenAI-style backend; one generation at a time or many, each with its own request. */
class OpenAIStyleModel implements Model {
  private readonly disposed = new AbortController();

  constructor(
    readonly spec: JsonObject,
    private readonly flavour: OpenAIFlavour,
    private readonly connection: OpenAIConnection,
    private readonly context: BackendContext,
  ) {}

  async dispose(): Promise<void> {
    // Generations still running end with `end: abort`.
    this.disposed.abort();
  }

  async *generate(request: GenerateRequest, callerSignal: AbortSignal): AsyncGenerator<StreamPart> {
    const signal = AbortSignal.any([callerSignal, this.disposed.signal]);
    const state: GenerationState = { contentDeltas: 0, emittedContent: false, serverUsage: undefined };
    let secrets: string[] = [];
    const errorPart = (error: AppErrorShape): StreamPart => ({
      type: 'error',
      error: redactError(error, secrets),
      partial: state.emittedContent,
    });

    let options: GenerationOptions;
    try {
      options = mergeGenerationOptions(this.spec, request.options);
    } catch (error) {
      yield errorPart(mapOpenAIError(error, this.flavour, this.connection).error);
      return;
    }
    if (signal.aborted) {
      yield* this.endAborted(state);
      return;
    }

    let apiKey: string | undefined;
    let withheldFrom: string | undefined;
    try {
      // Raced against the signal: a key store that waits for the person (a keychain prompt) must not delay a stop.
      const key = await untilAborted(requestApiKey(this.flavour, this.connection, this.context), signal);
      if (key.aborted) {
        yield* this.endAborted(state);
        return;
      }
      apiKey = key.value.apiKey;
      withheldFrom = key.value.withheld?.origin;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      yield errorPart({
        code: 'internal',
        message: `Could not read the API key for backend ${this.flavour.name}: ${reason}`,
        details: { backend: this.flavour.name },
      });
      return;
    }
    if (apiKey === '') apiKey = undefined;
    if (apiKey !== undefined) secrets = [apiKey];
    if (withheldFrom !== undefined) {
      const withheld = untrustedOriginError(this.flavour, withheldFrom);
      // OpenAI cannot answer without a key: nothing is sent. A local server often needs none: it is asked without.
      if (this.flavour.apiKeyRequired) {
        yield errorPart(withheld);
        return;
      }
      yield { type: 'warning', warning: withheld };
    }
    if (apiKey === undefined && this.flavour.apiKeyRequired) {
      yield errorPart({
        code: 'auth',
        message:
          missingKeyAdvice(this.flavour, this.connection.baseUrl) +
          (this.connection.specHasApiKey
            ? " (the model spec's `api_key` is ignored: keys never live in registry files)."
            : '.'),
        details: { backend: this.flavour.name, base_url: this.connection.displayBaseUrl },
      });
      return;
    }
    if (signal.aborted) {
      yield* this.endAborted(state);
      return;
    }

    const client = new OpenAI({
      // The SDK insists on a key; a placeholder is fine because its header is removed per request below.
      apiKey: apiKey ?? 'no-key',
      baseURL: this.connection.baseUrl,
      organization: this.connection.organization ?? null,
      // Explicit, so that OPENAI_PROJECT_ID in the environment does not leak into other servers' requests.
      project: null,
      // Ours are the only retries: the SDK's would retry after text has streamed and ignore our policy.
      maxRetries: 0,
      // Errors reach the caller as parts; the SDK's own console logging would only duplicate them.
      logLevel: 'off',
    });
    const body = buildRequestBody(this.flavour, this.connection, normalizeMessages(request.messages), options);
    const filters: StreamTextFilter[] = [];
    const stopFilter = new StopStringFilter(options.stop ?? []);
    // Stop strings apply to the raw text (as the server would); culling comes after.
    filters.push(stopFilter);
    if (this.connection.eosToCull !== undefined) filters.push(new EosCuller(this.connection.eosToCull));

    for (let tryNumber = 1; ; tryNumber += 1) {
      const attempted = yield* this.attempt(client, body, apiKey, signal, state, filters, stopFilter, errorPart);
      if (attempted.type === 'finished') return;
      // The server wants the key that was held back: say why it was not sent, and how to send it.
      const outcome =
        withheldFrom !== undefined && attempted.error.code === 'auth'
          ? { ...attempted, error: untrustedOriginError(this.flavour, withheldFrom, attempted.error.message) }
          : attempted;
      const policy = this.connection.retry;
      if (outcome.retryable && tryNumber <= policy.retries && !signal.aborted) {
        const waited = await sleep(retryDelayMs(tryNumber, policy, outcome.retryAfterMs), signal);
        if (!waited) {
          yield* this.endAborted(state);
          return;
        }
        continue;
      }
      const details = { ...outcome.error.details, tries: tryNumber };
      const message =
        tryNumber > 1
          ? `${outcome.error.message.replace(/\.$/, '')} (after ${tryNumber} tries)`
          : outcome.error.message;
      yield errorPart({ code: outcome.error.code, message, details });
      return;
    }
  }

  private *endAborted(state: GenerationState): Generator<StreamPart> {
    yield { type: 'usage', usage: this.usage(state) };
    yield { type: 'end', reason: 'abort' };
  }

  private usage(state: GenerationState): Usage {
    return state.serverUsage ?? { input_tokens: null, output_tokens: state.contentDeltas };
  }

  private *flush(filters: readonly StreamTextFilter[], state: GenerationState): Generator<StreamPart> {
    let text = '';
    for (const filter of filters) text = filter.push(text) + filter.flush();
    if (text !== '') {
      state.emittedContent = true;
      yield { type: 'text-delta', text };
    }
  }

  /** How an attempt ends when the caller stopped it or a timer fired. */
  private async *interrupted(
    reason: Interruption,
    receivedContent: boolean,
    filters: readonly StreamTextFilter[],
    state: GenerationState,
    errorPart: (error: AppErrorShape) => StreamPart,
  ): AsyncGenerator<StreamPart, AttemptOutcome> {
    const connection = this.connection;
    const details = { backend: connection.backend, base_url: connection.displayBaseUrl, model_id: connection.modelId };
    if (reason === 'abort') {
      yield* this.flush(filters, state);
      yield* this.endAborted(state);
      return { type: 'finished' };
    }
    if (reason === 'first-token-timeout' && !receivedContent) {
      return {
        type: 'failed',
        retryable: false,
        error: {
          code: 'timeout',
          message:
            `No reply from ${connection.displayBaseUrl} within ${connection.firstTokenTimeoutMs / 1000} s — the ` +
            'server is busy or unreachable; raise `timeout_s` in the model spec for slow servers.',
          details,
        },
      };
    }
    yield* this.flush(filters, state);
    yield errorPart({
      code: 'timeout',
      message:
        `The stream from ${connection.displayBaseUrl} stalled: nothing for ${connection.stallTimeoutMs / 1000} s ` +
        '(the text so far is kept) — raise `stall_timeout_s` in the model spec if the server is just slow.',
      details,
    });
    return { type: 'finished' };
  }

  /**
   * One HTTP request and its stream. Yields parts as they come; a failure before any content is returned (the
   * caller may retry), a failure after it is yielded as an `error` part with the text kept.
   */
  private async *attempt(
    client: OpenAI,
    body: ChatCompletionCreateParamsStreaming,
    apiKey: string | undefined,
    signal: AbortSignal,
    state: GenerationState,
    filters: readonly StreamTextFilter[],
    stopFilter: StopStringFilter,
    errorPart: (error: AppErrorShape) => StreamPart,
  ): AsyncGenerator<StreamPart, AttemptOutcome> {
    const connection = this.connection;
    const watchdog = new Watchdog(signal);
    watchdog.arm(connection.firstTokenTimeoutMs, 'first-token-timeout');
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let finishReason: 'stop' | 'length' | undefined;
    let receivedContent = state.contentDeltas > 0;

    const interrupted = (reason: Interruption): AsyncGenerator<StreamPart, AttemptOutcome> =>
      this.interrupted(reason, receivedContent, filters, state, errorPart);

    try {
      // The SDK makes the request (headers, errors, timeouts); the body is read here, a network read at a time.
      const created = await watchdog.race(
        client.chat.completions
          .create(body, {
            signal: watchdog.controller.signal,
            maxRetries: 0,
            // Ours fires first; the SDK's is a backstop (it only covers the wait for headers).
            timeout: Math.ceil(connection.firstTokenTimeoutMs) + 1000,
            // Servers without keys get no Authorization header rather than a placeholder.
            ...(apiKey === undefined ? { headers: { Authorization: null } } : {}),
          })
          .asResponse(),
      );
      if (created.interrupted) return yield* interrupted(created.reason);
      const response = created.value;
      if (response.body === null) throw new StreamEndedEarlyError();
      reader = response.body.getReader();
      const decoder = new ServerSentEventDecoder();
      const batch = new StreamPartBatch();
      let sawDone = false;
      let stopped = false;

      while (!stopped) {
        // No race per read: aborting the watchdog's controller makes the read reject at once, and the catch below
        // turns that into the interruption.
        const read = await reader.read();
        if (watchdog.reason !== undefined) return yield* interrupted(watchdog.reason);
        const events = read.done ? decoder.end() : decoder.push(read.value);
        // Everything one read brought is handled together and leaves as one part per kind of text: per event, a
        // fast server's stream would cost a part, an async hop and a merge for each token.
        let failure: { error: unknown } | undefined;
        for (const data of events) {
          if (sawDone) break;
          let chunk: ChatCompletionChunk | 'done';
          try {
            chunk = parseChunk(data, response.headers);
          } catch (error) {
            failure = { error };
            break;
          }
          if (chunk === 'done') {
            sawDone = true;
            break;
          }
          if (chunk.usage !== undefined && chunk.usage !== null) {
            state.serverUsage = {
              input_tokens: chunk.usage.prompt_tokens ?? null,
              output_tokens: chunk.usage.completion_tokens ?? null,
            };
          }
          const choice = chunk.choices?.[0];
          if (choice === undefined) continue;
          // Some servers leave `delta` out of the final chunk, whatever the SDK's types say.
          const delta = (choice.delta as ChatCompletionChunk.Choice.Delta | undefined) ?? {};
          const reasoning = readReasoning(delta);
          const content = (delta.content ?? '') + (delta.refusal ?? '');
          if (reasoning !== undefined || content !== '') {
            receivedContent = true;
            state.contentDeltas += 1;
          }
          if (reasoning !== undefined) batch.delta('reasoning-delta', reasoning);
          if (content !== '') {
            let text = content;
            for (const filter of filters) text = filter.push(text);
            if (text !== '') batch.delta('text-delta', text);
            if (stopFilter.stopped) {
              finishReason = 'stop';
              stopped = true;
              break;
            }
          }
          if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
            finishReason = choice.finish_reason === 'length' ? 'length' : 'stop';
          }
        }
        if (receivedContent) watchdog.arm(connection.stallTimeoutMs, 'stall-timeout');
        for (const part of batch.take()) {
          state.emittedContent = true;
          yield part;
        }
        if (failure !== undefined) throw failure.error;
        if (read.done) break;
      }
      // A stop or a timer that came while the last parts were being handed on wins over the server's own end.
      if (watchdog.reason !== undefined && !stopFilter.stopped) return yield* interrupted(watchdog.reason);
      if (finishReason === undefined) throw new StreamEndedEarlyError();
      yield* this.flush(filters, state);
      yield { type: 'usage', usage: this.usage(state) };
      yield { type: 'end', reason: finishReason };
      return { type: 'finished' };
    } catch (error) {
      if (watchdog.reason !== undefined) return yield* interrupted(watchdog.reason);
      const mapped = mapOpenAIError(error, this.flavour, connection);
      if (!receivedContent) return { type: 'failed', ...mapped };
      yield* this.flush(filters, state);
      yield errorPart(mapped.error);
      return { type: 'finished' };
    } finally {
      watchdog.dispose();
      // Let the body close in the background; awaiting it could hang on a dead connection.
      reader?.cancel().catch(() => undefined);
    }
  }
}

/**
 * What to do about a missing key. A backend-wide OpenAI key is only ever sent to OpenAI itself, so a spec that points
 * the openai backend at another server needs a key filed for that server.
 */
function missingKeyAdvice(flavour: OpenAIFlavour, baseUrl: string): string {
  const elsewhere = flavour.defaultBaseUrl !== undefined && baseUrl !== flavour.defaultBaseUrl;
  return elsewhere
    ? `No API key for backend ${flavour.name} at ${displayUrl(baseUrl)} — keys from ${flavour.apiKeyEnvironmentVariable} ` +
        `or set without a base URL are only sent to ${displayUrl(flavour.defaultBaseUrl ?? '')}; set a key for this ` +
        'base URL in Settings or in key.json'
    : `No API key for backend ${flavour.name} — set it in Settings or ${flavour.apiKeyEnvironmentVariable}`;
}

/** Asks the key store for the key to send to the connection's server, saying whether its origin is trusted. */
async function requestApiKey(
  flavour: OpenAIFlavour,
  connection: OpenAIConnection,
  context: BackendContext,
): Promise<ApiKeyAnswer> {
  const originTrusted = (await context.isTrustedOrigin?.(connection.baseUrl)) ?? false;
  return context.getApiKey({ backend: flavour.name, baseUrl: connection.baseUrl, originTrusted });
}

/**
 * Why a key was not sent to `origin`, and what the person can do; `serverSaid` is the server's own refusal when it
 * answered without the key.
 */
export function untrustedOriginError(flavour: OpenAIFlavour, origin: string, serverSaid?: string): AppErrorShape {
  const held =
    `The ${flavour.apiKeyEnvironmentVariable} / Settings key for backend ${flavour.name} was not sent to ${origin}: ` +
    'keys go only to servers you trust (those in your registry, the official one and --registry files, and ones ' +
    'you added), and a model_registry.json in the working folder does not count.';
  const remedy =
    flavour.name === 'openai'
      ? ` To use backend openai there, store a key for that server (Settings → API keys, with its base URL).`
      : ` If you trust it, run \`clemplay trust ${origin}\` (or add it in Settings → Trusted servers), or store a ` +
        'key for that server alone.';
  const outcome =
    serverSaid !== undefined
      ? ` It was asked without one and refused: ${serverSaid}`
      : flavour.apiKeyRequired
        ? ' Nothing was sent.'
        : ' The request goes without a key.';
  return { code: 'untrusted-origin', message: held + remedy + outcome, details: { backend: flavour.name, origin } };
}

/**
 * The spec with `base_url` and `organization` from the credentials (clemcore's key.json) where it has none of its
 * own: the spec always wins, so a registry entry can point one model elsewhere.
 */
async function withStoredConnection(
  flavour: OpenAIFlavour,
  spec: JsonObject,
  context: BackendContext,
): Promise<JsonObject> {
  if (context.getConnection === undefined) return spec;
  const hasBaseUrl = readSpecSetting(spec, 'base_url') !== undefined;
  const hasOrganization = readSpecSetting(spec, 'organization') !== undefined;
  if (hasBaseUrl && hasOrganization) return spec;
  const stored = await context.getConnection(flavour.name);
  return {
    ...spec,
    ...(!hasBaseUrl && stored.baseUrl !== undefined ? { base_url: stored.baseUrl } : {}),
    ...(!hasOrganization && stored.organization !== undefined ? { organization: stored.organization } : {}),
  };
}

/** Makes an OpenAI-style {@link Backend} of `flavour`. */
export function createOpenAIStyleBackend(flavour: OpenAIFlavour, options: OpenAIBackendOptions = {}): Backend {
  return {
    name: flavour.name,
    async createModel(spec, context) {
      const connection = readConnection(flavour, await withStoredConnection(flavour, spec, context), options);
      return new OpenAIStyleModel(spec, flavour, connection, context);
    },
  };
}

/**
 * The model ids a server offers (`GET <base_url>/models`). Needs only `base_url` from the spec (and a key where
 * the server wants one); retries like generation does; throws an {@link AppError} with the codes of generation.
 */
export async function listOpenAIStyleModels(
  flavour: OpenAIFlavour,
  spec: JsonObject,
  context: BackendContext,
  options: OpenAIBackendOptions = {},
  signal?: AbortSignal,
): Promise<string[]> {
  const connection = readConnection(flavour, await withStoredConnection(flavour, spec, context), options, false);
  const answer = await requestApiKey(flavour, connection, context);
  const withheldFrom = answer.withheld?.origin;
  if (withheldFrom !== undefined && flavour.apiKeyRequired) {
    const error = untrustedOriginError(flavour, withheldFrom);
    throw new AppError(error.code, error.message, error.details);
  }
  let apiKey = answer.apiKey;
  if (apiKey === '') apiKey = undefined;
  const secrets = apiKey === undefined ? [] : [apiKey];
  if (apiKey === undefined && flavour.apiKeyRequired) {
    throw new AppError('auth', `${missingKeyAdvice(flavour, connection.baseUrl)}.`, { backend: flavour.name });
  }
  const client = new OpenAI({
    apiKey: apiKey ?? 'no-key',
    baseURL: connection.baseUrl,
    organization: connection.organization ?? null,
    project: null,
    maxRetries: 0,
    logLevel: 'off',
  });
  try {
    return await withRetries(
      async () => {
        const timeout = AbortSignal.timeout(connection.firstTokenTimeoutMs);
        try {
          const page = await client.models.list({
            signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
            maxRetries: 0,
            timeout: Math.ceil(connection.firstTokenTimeoutMs),
            ...(apiKey === undefined ? { headers: { Authorization: null } } : {}),
          });
          return page.data.map((model) => model.id);
        } catch (error) {
          // The SDK reports our own timeout as a user abort; say what it was.
          if (timeout.aborted && signal?.aborted !== true) throw new APIConnectionTimeoutError();
          throw error;
        }
      },
      (error) => mapOpenAIError(error, flavour, connection),
      connection.retry,
      signal,
    );
  } catch (error) {
    if (signal?.aborted === true) throw new AppError('aborted', 'Listing the models was cancelled.');
    const mapped = mapOpenAIError(error, flavour, connection);
    const shape = redactError(
      withheldFrom !== undefined && mapped.error.code === 'auth'
        ? untrustedOriginError(flavour, withheldFrom, mapped.error.message)
        : mapped.error,
      secrets,
    );
    throw new AppError(shape.code, shape.message, shape.details);
  }
}
