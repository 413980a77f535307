/** Where a request to the API server is. */
export type ServedRequestStatus =
  /** Resolving the model and making it (a local model may be loading). */
  | 'opening'
  /** Waiting for its turn on a local model (see `queue_position`). */
  | 'queued'
  /** Generating. */
  | 'running'
  | 'done'
  | 'error'
  /** The client went away (or the server stopped) before the reply ended. */
  | 'cancelled';

/** One request the API server received, as the app lists it. Never holds a key or the messages. */
export interface ServedRequest {
  /** The response's id (`chatcmpl-…`). */
  id: string;
  /** The resolved `model_name` once known, else the request's `model` (at most 200 characters). */
  model: string;
  /** The client's User-Agent (at most 120 characters), or `unknown`. */
  client: string;
  /** Whether the client asked for a stream. */
  stream: boolean;
  status: ServedRequestStatus;
  /** Place in the model's line while `queued` (1: next); null otherwise. */
  queue_position: number | null;
  /** Milliseconds since the epoch. */
  received_at: number;
  /** When the first text or reasoning arrived; null until then. */
  first_token_at: number | null;
  ended_at: number | null;
  /** Prompt tokens, as the model counted them; null until known. */
  input_tokens: number | null;
  /** Tokens generated: deltas counted while streaming, the model's own count at the end; null until known. */
  output_tokens: number | null;
  /** Output tokens per second from the first token on; null until there are some. */
  tokens_per_second: number | null;
  /** The HTTP status sent; null until the response started. */
  http_status: number | null;
  /** Why it failed, as the client was told. */
  error: string | null;
}

/** Options of {@link RequestLog}. */
export interface RequestLogOptions {
  /** Finished requests kept (the oldest go first); default 100. */
  limit?: number;
  /** Token counts change often: listeners hear of them at most this often, in milliseconds; default 250. */
  progressIntervalMs?: number;
}

const modelTextLimit = 200;
const clientTextLimit = 120;

function cut(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

const finished = new Set<ServedRequestStatus>(['done', 'error', 'cancelled']);

/**
 * The live list of requests the app shows. A change of status is told to listeners at once; token counts that grow
 * while a reply streams are told at most every `progressIntervalMs`.
 */
export class RequestLog {
  private readonly records: ServedRequest[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly limit: number;
  private readonly progressIntervalMs: number;
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(options: RequestLogOptions = {}) {
    this.limit = options.limit ?? 100;
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
  }

  /** Starts a record for a request that just arrived. */
  add(request: { id: string; model: string; client: string | undefined; stream: boolean }): ServedRequest {
    const record: ServedRequest = {
      id: request.id,
      model: cut(request.model, modelTextLimit),
      client: cut(request.client?.trim() || 'unknown', clientTextLimit),
      stream: request.stream,
      status: 'opening',
      queue_position: null,
      received_at: Date.now(),
      first_token_at: null,
      ended_at: null,
      input_tokens: null,
      output_tokens: null,
      tokens_per_second: null,
      http_status: null,
      error: null,
    };
    this.records.push(record);
    this.trim();
    this.emit();
    return record;
  }

  /** Changes a record and tells listeners at once. */
  update(record: ServedRequest, change: Partial<Omit<ServedRequest, 'id' | 'received_at'>>): void {
    Object.assign(record, change);
    if (change.model !== undefined) record.model = cut(change.model, modelTextLimit);
    if (finished.has(record.status)) {
      record.ended_at ??= Date.now();
      record.queue_position = null;
    }
    this.rate(record);
    this.trim();
    this.emit();
  }

  /** Counts streamed text: one more delta (the first one also marks the first token). Told to listeners later. */
  progress(record: ServedRequest): void {
    record.first_token_at ??= Date.now();
    record.output_tokens = (record.output_tokens ?? 0) + 1;
    this.rate(record);
    this.progressTimer ??= setTimeout(() => {
      this.progressTimer = undefined;
      this.emit();
    }, this.progressIntervalMs);
    // A pending count must not keep a CLI process alive after its server stopped.
    this.progressTimer.unref();
  }

  /** Newest first. */
  list(): ServedRequest[] {
    return this.records.map((record) => ({ ...record })).reverse();
  }

  /** Calls `listener` after every change; returns the function that stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  dispose(): void {
    clearTimeout(this.progressTimer);
    this.progressTimer = undefined;
    this.listeners.clear();
  }

  private rate(record: ServedRequest): void {
    if (record.first_token_at === null || record.output_tokens === null || record.output_tokens === 0) return;
    const seconds = ((record.ended_at ?? Date.now()) - record.first_token_at) / 1000;
    record.tokens_per_second = seconds > 0 ? record.output_tokens / seconds : null;
  }

  private trim(): void {
    let excess = this.records.filter((record) => finished.has(record.status)).length - this.limit;
    for (let index = 0; excess > 0 && index < this.records.length;) {
      if (finished.has(this.records[index]!.status)) {
        this.records.splice(index, 1);
        excess -= 1;
      } else {
        index += 1;
      }
    }
  }

  private emit(): void {
    clearTimeout(this.progressTimer);
    this.progressTimer = undefined;
    for (const listener of [...this.listeners]) listener();
  }
}
