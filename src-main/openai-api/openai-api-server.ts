import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { StreamPart, Usage } from '../../src-shared/chat.js';
import type { SpecSource } from '../../src-shared/conversation/session.js';
import { toAppErrorShape, type AppErrorShape } from '../../src-shared/errors.js';
import { defaultApiPort } from '../../src-shared/model-server.js';
import { openModel, streamReply, type OpenedModel } from '../conversation/open-model.js';
import { listen, loopbackAddress } from '../host/listen.js';
import type { ListedEntry } from '../registry/registry-stack.js';
import {
  collectReply,
  completionBody,
  completionChunk,
  readChatCompletionRequest,
  usageChunk,
  type ChatCompletionRequest,
  type ChunkDelta,
  type CompletionIdentity,
} from './chat-completions.js';
import { ModelLanes } from './model-lanes.js';
import { errorResponse, openAIErrorBody, type OpenAIErrorBody } from './openai-errors.js';
import { RequestLog, type ServedRequest } from './request-log.js';
import { untrustedRequestDependencies, type TrustedDependencies } from './untrusted-request.js';

/** Request bodies larger than this (bytes) are refused with 413: long chats are megabytes, not more. */
const maximumBodyBytes = 32 * 1024 * 1024;

/** What the API server needs from the app's services. */
export interface OpenAIApiDependencies extends TrustedDependencies {
  /** The registry's entries in lookup order, for `/v1/models`. */
  entries(): ListedEntry[];
  /** How many generations the loaded local model with this id runs at once (its `parallel`); its lane's width. */
  laneCapacity(localModelId: string): number;
}

/** Options of {@link startOpenAIApiServer}. */
export interface OpenAIApiServerOptions {
  dependencies: OpenAIApiDependencies;
  /** The key every request must send as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** TCP port; 0 picks a free one. Default {@link defaultApiPort}. */
  port?: number;
  /** The address to bind; default 127.0.0.1. */
  host?: string;
  /** Where requests are recorded for the app's list; default a new one. */
  log?: RequestLog;
}

/** A running API server. */
export interface OpenAIApiServer {
  /** The API root clients use as their base URL: `http://HOST:PORT/v1`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly log: RequestLog;
  /** Stops every request in flight (clients get a 503 or a last `error` event) and closes the port. */
  close(): Promise<void>;
}

function sameKey(given: string, expected: string): boolean {
  // Hashed first so that the comparison takes as long whatever the lengths.
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

function sendJson(response: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (response.headersSent || response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  response.end(text);
}

/**
 * The registry entry a spec came from, as the `x-clemplay-source` header says it: `official #5`, `<file> #2`, or
 * `query` when the request named a backend and its spec was used as it is. Bytes outside printable ASCII (and `%`) are
 * percent-encoded, as header values must be ASCII.
 */
export function sourceHeader(source: SpecSource | null): string {
  const text = source === null ? 'query' : `${source.lookupSource} #${source.index}`;
  return text.replace(/[^\x20-\x24\x26-\x7e]/gu, (character) =>
    [...Buffer.from(character)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** A model as OpenAI's `/v1/models` lists it. */
export interface OpenAIModel {
  /** The registry name: what a client sends as `model`. */
  id: string;
  object: 'model';
  /** When the entry's registry file last changed, in Unix seconds (0 when unknown). */
  created: number;
  /** The entry's backend (`clemplay` when the entry leaves it open). */
  owned_by: string;
}

/** The OpenAI model object of every registry name a client can ask for, in lookup order, without duplicates. */
export async function listModels(entries: readonly ListedEntry[]): Promise<OpenAIModel[]> {
  const modified = new Map<string, number>();
  const models: OpenAIModel[] = [];
  const seen = new Set<string>();
  for (const { entry, file } of entries) {
    const name = entry['model_name'];
    const backend = entry['backend'];
    // A variable name matches anything; the human backend needs a person in the app.
    if (typeof name !== 'string' || name === '' || name.startsWith('?') || backend === 'human') continue;
    if (seen.has(name)) continue;
    seen.add(name);
    if (!modified.has(file)) {
      modified.set(
        file,
        await stat(file).then(
          (info) => Math.floor(info.mtimeMs / 1000),
          () => 0,
        ),
      );
    }
    models.push({
      id: name,
      object: 'model',
      created: modified.get(file) ?? 0,
      owned_by: typeof backend === 'string' && !backend.startsWith('?') ? backend : 'clemplay',
    });
  }
  return models;
}

/** Resolves when more may be written (`drain`), or the connection is gone, or the request was stopped. */
function writable(response: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    response.once('drain', done);
    response.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Server-sent events of one streamed response; waits while the client is slower than the model. */
class EventStream {
  constructor(
    private readonly response: ServerResponse,
    private readonly signal: AbortSignal,
  ) {}

  /** One `data:` event with a JSON body. */
  data(body: object): Promise<void> {
    return this.write(`data: ${JSON.stringify(body)}\n\n`);
  }

  /**
   * An error after the stream began: an `error` event whose data is OpenAI's error body, which OpenAI's SDKs raise as
   * an APIError (a status can no longer be sent).
   */
  error(body: OpenAIErrorBody): Promise<void> {
    return this.write(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
  }

  done(): Promise<void> {
    return this.write('data: [DONE]\n\n');
  }

  private async write(text: string): Promise<void> {
    if (this.response.destroyed || this.response.writableEnded) return;
    if (!this.response.write(text) && !this.signal.aborted) await writable(this.response, this.signal);
  }
}

/** Everything one chat-completion request works with. */
interface Exchange {
  request: ChatCompletionRequest;
  response: ServerResponse;
  record: ServedRequest;
  identity: CompletionIdentity;
  /** Headers every response of this request carries once its model is known. */
  headers: Record<string, string>;
  signal: AbortSignal;
}

/** Starts the OpenAI-compatible API on `host`:`port`. */
export async function startOpenAIApiServer(options: OpenAIApiServerOptions): Promise<OpenAIApiServer> {
  const { dependencies, apiKey } = options;
  const host = options.host ?? loopbackAddress;
  const log = options.log ?? new RequestLog();
  const lanes = new ModelLanes();
  const inFlight = new Set<AbortController>();
  const handlers = new Set<Promise<void>>();
  let closing = false;

  const finish = (record: ServedRequest, usage: Usage | undefined, status: ServedRequest['status']): void => {
    log.update(record, {
      status,
      ...(usage?.input_tokens == null ? {} : { input_tokens: usage.input_tokens }),
      ...(usage?.output_tokens == null ? {} : { output_tokens: usage.output_tokens }),
    });
  };

  /** Sends a failure as OpenAI's error response (or as a last event, once a stream began) and records it. */
  const fail = async (
    exchange: Pick<Exchange, 'response' | 'record' | 'signal'> & { headers?: Record<string, string> },
    error: AppErrorShape,
  ): Promise<void> => {
    const { response, record } = exchange;
    if (error.code === 'aborted' && exchange.signal.aborted) {
      await stoppedEarly(exchange);
      return;
    }
    const mapped = errorResponse(error);
    if (response.headersSent) {
      await new EventStream(response, exchange.signal).error(mapped.body);
      response.end();
    } else {
      sendJson(response, mapped.status, mapped.body, { ...exchange.headers, ...mapped.headers });
      log.update(record, { http_status: mapped.status });
    }
    log.update(record, { status: 'error', error: mapped.body.error.message });
  };

  /**
   * A request whose reply ended early: the client left (nobody to tell), the server is stopping, or the model was
   * stopped under it (a local model unloaded from the app); those two get a 503, or a last `error` event.
   */
  const stoppedEarly = async (
    exchange: Pick<Exchange, 'response' | 'record' | 'signal'> & { headers?: Record<string, string> },
    usage?: Usage,
  ): Promise<void> => {
    const { response } = exchange;
    if (!response.destroyed && !response.writableEnded) {
      const message = closing
        ? 'clemplay is stopping its API server; try again once it runs.'
        : 'The model stopped before its reply ended (was it unloaded in the app?); try again.';
      const body = openAIErrorBody(message, 'server_error', closing ? 'stopping' : 'stopped');
      if (response.headersSent) {
        await new EventStream(response, exchange.signal).error(body);
        response.end();
      } else {
        sendJson(response, 503, body, exchange.headers);
        log.update(exchange.record, { http_status: 503 });
      }
    }
    finish(exchange.record, usage, 'cancelled');
  };

  const streamed = async (exchange: Exchange, parts: AsyncIterable<StreamPart>) => {
    const { response, record, identity, signal } = exchange;
    const { includeUsage } = exchange.request;
    const events = new EventStream(response, signal);
    let usage: Usage | undefined;
    const chunk = (delta: ChunkDelta, finishReason: 'stop' | 'length' | null = null) =>
      events.data(completionChunk(identity, delta, finishReason, includeUsage));
    const begin = async (): Promise<void> => {
      if (response.headersSent) return;
      response.writeHead(200, {
        ...exchange.headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      log.update(record, { http_status: 200 });
      await chunk({ role: 'assistant', content: '' });
    };
    for await (const part of parts) {
      switch (part.type) {
        case 'text-delta':
        case 'reasoning-delta':
          await begin();
          log.progress(record);
          await chunk(part.type === 'text-delta' ? { content: part.text } : { reasoning_content: part.text });
          break;
        case 'usage':
          usage = part.usage;
          break;
        case 'end':
          if (part.reason === 'abort') return stoppedEarly(exchange, usage);
          await begin();
          await chunk({}, part.reason);
          if (includeUsage) await events.data(usageChunk(identity, usage));
          await events.done();
          response.end();
          return finish(record, usage, 'done');
        case 'error':
          return fail(exchange, part.error);
        case 'warning':
        case 'human-input-needed':
          break;
      }
    }
  };

  const whole = async (exchange: Exchange, parts: AsyncIterable<StreamPart>) => {
    const { response, record, identity } = exchange;
    const reply = await collectReply(parts, () => log.progress(record));
    if (reply.ok) {
      sendJson(response, 200, completionBody(identity, reply), exchange.headers);
      log.update(record, { http_status: 200 });
      return finish(record, reply.usage, 'done');
    }
    if (reply.stopped) return stoppedEarly(exchange, reply.usage);
    return fail(exchange, reply.error);
  };

  const chatCompletion = async (request: IncomingMessage, response: ServerResponse, signal: AbortSignal) => {
    const id = `chatcmpl-${randomBytes(18).toString('base64url')}`;
    const read = await readJsonBody(request);
    if (read.type === 'gone') return;
    const body = read.type === 'json' ? read.value : undefined;
    const bodyModel = typeof body === 'object' && body !== null && 'model' in body ? body.model : undefined;
    const record = log.add({
      id,
      model: typeof bodyModel === 'string' ? bodyModel : '(no model)',
      client: request.headers['user-agent'],
      stream: typeof body === 'object' && body !== null && 'stream' in body && body.stream === true,
    });
    if (read.type === 'refused') {
      sendJson(response, read.status, read.body, read.status === 413 ? { connection: 'close' } : {});
      return log.update(record, { status: 'error', http_status: read.status, error: read.body.error.message });
    }
    let parsed: ChatCompletionRequest;
    try {
      parsed = readChatCompletionRequest(body);
    } catch (error) {
      return fail({ response, record, signal }, toAppErrorShape(error));
    }

    let opened: OpenedModel;
    try {
      opened = await openModel(await untrustedRequestDependencies(dependencies, parsed.model), parsed.model, signal);
    } catch (error) {
      return fail({ response, record, signal }, toAppErrorShape(error));
    }
    const modelName = opened.spec['model_name'];
    const exchange: Exchange = {
      request: parsed,
      response,
      record,
      signal,
      identity: {
        id,
        created: Math.floor(Date.now() / 1000),
        model: typeof modelName === 'string' ? modelName : parsed.model,
      },
      headers: { 'x-clemplay-source': sourceHeader(opened.source) },
    };
    log.update(record, { model: exchange.identity.model });
    let endTurn: (() => void) | undefined;
    try {
      const localModelId = opened.model.localModelId;
      if (localModelId !== undefined) {
        endTurn = await lanes.enter(localModelId, dependencies.laneCapacity(localModelId), signal, (position) =>
          log.update(record, { status: 'queued', queue_position: position }),
        );
      }
      log.update(record, { status: 'running', queue_position: null });
      const parts = streamReply(opened.model, { messages: parsed.messages, options: parsed.options }, signal);
      if (parsed.stream) await streamed(exchange, parts);
      else await whole(exchange, parts);
    } catch (error) {
      await fail(exchange, toAppErrorShape(error));
    } finally {
      endTurn?.();
      await opened.model.dispose();
    }
  };

  const models = async (response: ServerResponse, id: string | undefined): Promise<void> => {
    const list = await listModels(dependencies.entries());
    if (id === undefined) return sendJson(response, 200, { object: 'list', data: list });
    const model = list.find((candidate) => candidate.id === id);
    if (model !== undefined) return sendJson(response, 200, model);
    sendJson(
      response,
      404,
      openAIErrorBody(
        `The model ${JSON.stringify(id)} is not a registry name; GET /v1/models lists them.`,
        'invalid_request_error',
        'model_not_found',
        'model',
      ),
    );
  };

  const route = async (request: IncomingMessage, response: ServerResponse, signal: AbortSignal): Promise<void> => {
    const given = bearerToken(request.headers.authorization);
    if (given === undefined || !sameKey(given, apiKey)) {
      return sendJson(
        response,
        401,
        openAIErrorBody(
          `${given === undefined ? 'No API key' : 'Wrong API key'}: send \`Authorization: Bearer <key>\` with the key ` +
            'clemplay shows in Settings (Serve models to other apps) or prints when `clemplay api` starts.',
          'invalid_request_error',
          'invalid_api_key',
        ),
        { 'www-authenticate': 'Bearer' },
      );
    }
    const path = new URL(request.url ?? '/', 'http://clemplay').pathname.replace(/\/+$/, '');
    const method = request.method ?? 'GET';
    const wrongMethod = (allowed: string) =>
      sendJson(
        response,
        405,
        openAIErrorBody(
          `${method} is not allowed on ${path}; use ${allowed}.`,
          'invalid_request_error',
          'method_not_allowed',
        ),
        { allow: allowed },
      );
    if (path === '/v1/chat/completions') {
      return method === 'POST' ? chatCompletion(request, response, signal) : wrongMethod('POST');
    }
    if (path === '/v1/models' || path.startsWith('/v1/models/')) {
      if (method !== 'GET') return wrongMethod('GET');
      if (path === '/v1/models') return models(response, undefined);
      let id: string;
      try {
        id = decodeURIComponent(path.slice('/v1/models/'.length));
      } catch {
        const message = `${path} is not a valid address: its percent-encoding is broken.`;
        return sendJson(response, 400, openAIErrorBody(message, 'invalid_request_error', 'invalid_url'));
      }
      return models(response, id);
    }
    sendJson(
      response,
      404,
      openAIErrorBody(
        `There is no ${method} ${path}: clemplay serves GET /v1/models and POST /v1/chat/completions.`,
        'invalid_request_error',
        'unknown_url',
      ),
    );
  };

  const server = createServer((request, response) => {
    const controller = new AbortController();
    inFlight.add(controller);
    // The client closing its connection before the response ended stops the generation.
    response.once('close', () => {
      if (!response.writableFinished) controller.abort();
    });
    const handled = route(request, response, controller.signal)
      .catch((error: unknown) => {
        // A bug, not a request problem: the terminal gets the detail, the client a generic 500.
        process.stderr.write(`clemplay api: ${request.method} ${request.url} failed: ${String(error)}\n`);
        if (!response.headersSent) {
          sendJson(
            response,
            500,
            openAIErrorBody('clemplay failed to answer; see its log.', 'server_error', 'internal'),
          );
        } else response.destroy();
      })
      .finally(() => {
        inFlight.delete(controller);
        handlers.delete(handled);
      });
    handlers.add(handled);
  });

  const port = await listen(server, options.port ?? defaultApiPort, host);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}/v1`,
    host,
    port,
    log,
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const controller of inFlight) controller.abort();
      await Promise.allSettled([...handlers]);
      server.closeAllConnections();
      await closed;
    },
  };
}

/** A request body read as JSON, or why it could not be (already in OpenAI's form), or `gone` with the client. */
type BodyResult =
  { type: 'json'; value: unknown } | { type: 'refused'; status: 400 | 413; body: OpenAIErrorBody } | { type: 'gone' };

async function readJsonBody(request: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maximumBodyBytes) {
        const limit = `${maximumBodyBytes / 1024 / 1024} MiB`;
        const message = `The request body is larger than ${limit}.`;
        return {
          type: 'refused',
          status: 413,
          body: openAIErrorBody(message, 'invalid_request_error', 'request_too_large'),
        };
      }
      chunks.push(chunk);
    }
  } catch {
    return { type: 'gone' };
  }
  try {
    return { type: 'json', value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const message = `The request body is not JSON (${reason}).`;
    return { type: 'refused', status: 400, body: openAIErrorBody(message, 'invalid_request_error', 'invalid_json') };
  }
}
