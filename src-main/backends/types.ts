import type { ChatMessage, GenerationOptions, StreamPart } from '../../src-shared/chat.js';
import type { JsonObject } from '../../src-shared/json.js';
import type { LocalModelService } from '../llama/service.js';

/** What a backend is asked to generate from. */
export interface GenerateRequest {
  messages: ChatMessage[];
  options: GenerationOptions;
}

/** A model made from a resolved spec by a backend. */
export interface Model {
  /** The resolved spec this model was made from. */
  readonly spec: JsonObject;
  /**
   * For a model that runs in this process: the id of the loaded model it generates on (as `localModels.status`
   * lists it), which other handles on the same file and settings share; undefined for remote models.
   */
  readonly localModelId?: string;
  /**
   * Streams one generation. It never throws: failures arrive as an `error` part, and every stream ends with
   * exactly one `end` or `error` part. Aborting `signal` ends it with `end: abort` after a `usage` part.
   */
  generate(request: GenerateRequest, signal: AbortSignal): AsyncIterable<StreamPart>;
  /**
   * How many tokens `messages` take as this model's prompt, and its context size in tokens; only backends that can
   * count exactly have it (the engine estimates for the others).
   */
  measure?(messages: ChatMessage[], signal?: AbortSignal): Promise<{ tokens: number; context_size: number }>;
  dispose(): Promise<void>;
}

/** A question the human backend puts to a person. */
export interface HumanInputRequest {
  /** Unique per question; the answer names it. */
  requestId: string;
  /** The conversation so far, for showing to the person. */
  messages: ChatMessage[];
}

/**
 * Connects the human backend to a person: the API (an event, then `chat.humanReply`) or the terminal (a line
 * read from stdin). `ask` resolves with the person's answer, or rejects when `signal` aborts.
 */
export interface HumanInputBroker {
  ask(request: HumanInputRequest, signal: AbortSignal): Promise<string>;
}

/** What a backend asks the key store for. */
export interface ApiKeyRequest {
  backend: string;
  /** The server the key would be sent to. */
  baseUrl: string;
  /**
   * Whether the user trusts that server's origin with keys not filed for it alone (an environment variable, a key
   * stored without a base_url). The caller decides, from {@link BackendContext.isTrustedOrigin}, never from the
   * spec: a spec from a working-directory registry or an API request could name any server. False: only a key
   * filed for that server (or its origin) is given.
   */
  originTrusted: boolean;
}

/** The key store's answer. */
export interface ApiKeyAnswer {
  /** The key to send; undefined: send none. */
  apiKey: string | undefined;
  /** Set when a backend-wide key exists but was held back because the origin is not trusted. */
  withheld?: { origin: string };
}

/** Where backends get what is not in the spec: API keys, a person to ask, the local-model runtime. */
export interface BackendContext {
  /** The API key to send to a server, or none; see {@link ApiKeyRequest}. */
  getApiKey(request: ApiKeyRequest): Promise<ApiKeyAnswer>;
  /**
   * Whether the user trusts a URL's origin with backend-wide keys (the registry files they own, Settings, `clemplay
   * trust`); absent: nothing is trusted beyond keys filed per server.
   */
  isTrustedOrigin?(url: string): Promise<boolean>;
  /** Where the human backend asks; backends other than `human` never need it. */
  humanInput?: HumanInputBroker;
  /**
   * What the credentials hold beside keys for a backend (clemcore kept `base_url` and `organisation` in key.json);
   * used where the spec has no such key.
   */
  getConnection?(backend: string): Promise<{ baseUrl?: string; organization?: string }>;
  /** The local-model runtime and models folders the llamacpp backend uses; without it, a process-wide default. */
  localModels?: LocalModelService;
}

/** A backend: makes models of its name from resolved specs. */
export interface Backend {
  readonly name: string;
  /**
   * Makes a model. Aborting `signal` stops the work it may take (a download, loading weights) and rejects with
   * `aborted`; backends that make models at once may ignore it.
   */
  createModel(spec: JsonObject, context: BackendContext, signal?: AbortSignal): Promise<Model>;
}
