import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A fault injected into a streamed reply after `afterChunks` content chunks (text or reasoning deltas). */
export type FakeStreamFault =
  /** Reset the TCP connection (RST) mid-stream. */
  | { type: 'reset'; afterChunks: number }
  /** Send `data: {not json` and then end the stream normally. */
  | { type: 'malformed'; afterChunks: number }
  /** Stop sending and never end the response (until the client goes away or the server closes). */
  | { type: 'stall'; afterChunks: number }
  /** Send `data: {"error": {…}}` (as vLLM does when generation fails mid-way) and end the stream. */
  | { type: 'error-event'; afterChunks: number; message: string }
  /** End the response cleanly, without a final chunk or `[DONE]` (a server or proxy giving up). */
  | { type: 'end-early'; afterChunks: number };

/** A successful reply, streamed as chat-completion chunks or sent as one JSON body. */
export interface FakeReply {
  type: 'reply';
  /** The reply text: a string is split into `deltas` pieces (default: one per word), a list is sent as is. */
  text?: string | string[];
  /** Into how many content deltas a string `text` is split; default: one per word. */
  deltas?: number;
  /** Reasoning sent before the text as `delta.reasoning_content` (as DeepSeek and vLLM do); same splitting. */
  reasoning?: string | string[];
  /** Which delta field carries the reasoning; default `reasoning_content`. */
  reasoningField?: 'reasoning_content' | 'reasoning';
  /** Milliseconds between chunks; default 0. */
  delayMs?: number;
  /** The final chunk's `finish_reason`; `null` sends no final chunk. Default `stop`. */
  finishReason?: 'stop' | 'length' | null;
  /** Usage reported when the request asked for it; default: prompt words and content deltas counted. */
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** Something that goes wrong mid-stream. */
  fault?: FakeStreamFault;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** An HTTP error reply with an OpenAI-style body `{ error: { message, type, code, param } }`. */
export interface FakeHttpError {
  type: 'http-error';
  /** The HTTP status, such as 401, 429 or 500. */
  status: number;
  /** `error.message`; default: a short text naming the status. */
  message?: string;
  /** `error.type`, such as `invalid_request_error`. */
  errorType?: string;
  /** `error.code`, such as `invalid_api_key` or `insufficient_quota`. */
  code?: string;
  /** Extra response headers, such as `Retry-After`. */
  headers?: Record<string, string>;
}

/** What the fake server does with one request. */
export type FakeBehaviour = FakeReply | FakeHttpError;

/** How a request's connection ended, as the server saw it. */
export type RequestOutcome =
  /** The server sent the whole response. */
  | 'completed'
  /** The client closed the connection before the response ended (it cancelled the request). */
  | 'client-closed'
  /** The server reset the connection on purpose (a `reset` fault). */
  | 'server-reset'
  /** `close()` cut it off. */
  | 'server-closed';

/** One request the fake server received. */
export interface RecordedRequest {
  /** Position among all requests, from 0. */
  index: number;
  method: string;
  /** The path with the query, such as `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
  rawBody: string;
  /** `Date.now()` when the request's body had arrived. */
  receivedAt: number;
  /** How it ended; `pending` while it is still open. */
  outcome: RequestOutcome | 'pending';
}

/** Decides a request's behaviour; `index` counts chat-completion requests from 0. */
export type FakeScript = (request: RecordedRequest, index: number) => FakeBehaviour;

/** How to start a fake server. */
export interface FakeOpenAIServerOptions {
  /** Behaviours for chat-completion requests, in order (more can be added with `enqueue`), or a function. */
  script?: FakeBehaviour[] | FakeScript;
  /** Model ids `GET /v1/models` lists; default `['fake-model']`. */
  models?: string[];
  /** When set, requests without `Authorization: Bearer <apiKey>` get a 401 that echoes the key they sent. */
  apiKey?: string;
}

/** A running fake server. */
export interface FakeOpenAIServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `http://127.0.0.1:<port>/v1`, what a spec's `base_url` should be. */
  readonly baseUrl: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Adds behaviours for the next chat-completion requests (after those already queued). */
  enqueue(...behaviours: FakeBehaviour[]): void;
  /** Resolves when request `index` has ended, with how (waits for the request to arrive first). */
  outcome(index: number): Promise<RequestOutcome>;
  /** Stops listening and destroys every open connection, so that nothing hangs. */
  close(): Promise<void>;
}

const createdTimestamp = 1_700_000_000;

function splitText(text: string | string[] | undefined, deltas: number | undefined): string[] {
  if (text === undefined) return [];
  if (Array.isArray(text)) return text;
  if (text === '') return [];
  if (deltas === undefined) return text.match(/\s*\S+|\s+$/g) ?? [text];
  const count = Math.max(1, Math.min(deltas, text.length));
  const size = Math.ceil(text.length / count);
  const pieces: string[] = [];
  for (let start = 0; start < text.length; start += size) pieces.push(text.slice(start, start + size));
  return pieces;
}

function countPromptWords(body: unknown): number {
  if (typeof body !== 'object' || body === null || !('messages' in body) || !Array.isArray(body.messages)) return 0;
  let words = 0;
  for (const message of body.messages as unknown[]) {
    if (typeof message === 'object' && message !== null && 'content' in message) {
      const content = message.content;
      if (typeof content === 'string') words += content.split(/\s+/).filter((word) => word !== '').length;
    }
  }
  return words;
}

function bodyField(body: unknown, key: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    request.on('error', reject);
  });
}

function wait(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function sendError(
  response: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ error: { message, type, param: null, code } });
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(body);
}

/** Starts a fake OpenAI chat-completions server on 127.0.0.1 at a free port. */
export async function startFakeOpenAIServer(options: FakeOpenAIServerOptions = {}): Promise<FakeOpenAIServer> {
  const queue: FakeBehaviour[] = Array.isArray(options.script) ? [...options.script] : [];
  const scriptFunction = typeof options.script === 'function' ? options.script : undefined;
  const models = options.models ?? ['fake-model'];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const outcomeWaiters = new Map<number, ((outcome: RequestOutcome) => void)[]>();
  const arrivalWaiters: (() => void)[] = [];
  let chatRequestCount = 0;
  let closing = false;

  function settle(record: RecordedRequest, outcome: RequestOutcome): void {
    if (record.outcome !== 'pending') return;
    record.outcome = outcome;
    for (const resolve of outcomeWaiters.get(record.index) ?? []) resolve(outcome);
    outcomeWaiters.delete(record.index);
  }

  function nextBehaviour(record: RecordedRequest): FakeBehaviour {
    const index = chatRequestCount;
    chatRequestCount += 1;
    if (scriptFunction !== undefined) return scriptFunction(record, index);
    return (
      queue.shift() ?? {
        type: 'http-error',
        status: 500,
        message: `fake server: no scripted behaviour left for chat request ${index}`,
      }
    );
  }

  async function streamReply(
    record: RecordedRequest,
    response: ServerResponse,
    socket: Socket,
    reply: FakeReply,
  ): Promise<void> {
    const model = typeof bodyField(record.body, 'model') === 'string' ? String(bodyField(record.body, 'model')) : '';
    const streamOptions = bodyField(record.body, 'stream_options');
    const includeUsage = bodyField(streamOptions, 'include_usage') === true;
    const reasoning = splitText(reply.reasoning, reply.deltas);
    const text = splitText(reply.text, reply.deltas);
    const reasoningField = reply.reasoningField ?? 'reasoning_content';
    const id = `chatcmpl-fake-${record.index}`;
    const chunk = (delta: Record<string, unknown>, finishReason: string | null): string =>
      JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created: createdTimestamp,
        model,
        system_fingerprint: 'fp_fake',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...(includeUsage ? { usage: null } : {}),
      });
    // Resolves once the data is handed to the kernel, so a reset right after it does not drop it.
    const write = (data: string): Promise<boolean> =>
      new Promise((resolve) => {
        if (response.destroyed || response.writableEnded) {
          resolve(false);
          return;
        }
        response.write(`data: ${data}\n\n`, () => resolve(!response.destroyed));
      });

    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...reply.headers,
    });
    response.flushHeaders();

    const contents = [
      ...reasoning.map((piece) => ({ [reasoningField]: piece })),
      ...text.map((piece) => ({ content: piece })),
    ];
    const fault = reply.fault;
    if (!(await write(chunk({ role: 'assistant', content: '' }, null)))) return;
    for (let sent = 0; sent <= contents.length; sent += 1) {
      if (fault !== undefined && fault.afterChunks === sent) {
        if (fault.type === 'reset') {
          settle(record, 'server-reset');
          socket.resetAndDestroy();
          return;
        }
        if (fault.type === 'stall') return;
        if (fault.type === 'end-early') {
          response.end();
          return;
        }
        if (fault.type === 'error-event') {
          await write(JSON.stringify({ error: { message: fault.message, type: 'server_error', code: null } }));
        } else {
          await write('{not json');
        }
        break;
      }
      const content = contents[sent];
      if (content === undefined) break;
      if (reply.delayMs !== undefined && reply.delayMs > 0) await wait(reply.delayMs);
      if (!(await write(chunk(content, null)))) return;
    }
    const finishReason = reply.finishReason === undefined ? 'stop' : reply.finishReason;
    if (finishReason !== null) {
      if (reply.delayMs !== undefined && reply.delayMs > 0) await wait(reply.delayMs);
      if (!(await write(chunk({}, finishReason)))) return;
    }
    if (includeUsage) {
      const usage = reply.usage ?? { prompt_tokens: countPromptWords(record.body), completion_tokens: contents.length };
      const usageChunk = JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created: createdTimestamp,
        model,
        system_fingerprint: 'fp_fake',
        choices: [],
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
      });
      if (!(await write(usageChunk))) return;
    }
    if (!(await write('[DONE]'))) return;
    response.end();
  }

  function sendJsonReply(record: RecordedRequest, response: ServerResponse, socket: Socket, reply: FakeReply): void {
    if (reply.fault?.type === 'reset') {
      settle(record, 'server-reset');
      socket.resetAndDestroy();
      return;
    }
    if (reply.fault?.type === 'stall') return;
    if (reply.fault?.type === 'end-early') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end();
      return;
    }
    if (reply.fault?.type === 'error-event') {
      sendError(response, 500, reply.fault.message, 'server_error', null);
      return;
    }
    if (reply.fault?.type === 'malformed') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{not json');
      return;
    }
    const text = splitText(reply.text, reply.deltas);
    const reasoning = splitText(reply.reasoning, reply.deltas);
    const usage = reply.usage ?? {
      prompt_tokens: countPromptWords(record.body),
      completion_tokens: text.length + reasoning.length,
    };
    const message: Record<string, unknown> = { role: 'assistant', content: text.join(''), refusal: null };
    if (reasoning.length > 0) message[reply.reasoningField ?? 'reasoning_content'] = reasoning.join('');
    response.writeHead(200, { 'content-type': 'application/json', ...reply.headers });
    response.end(
      JSON.stringify({
        id: `chatcmpl-fake-${record.index}`,
        object: 'chat.completion',
        created: createdTimestamp,
        model: bodyField(record.body, 'model') ?? '',
        choices: [{ index: 0, message, logprobs: null, finish_reason: reply.finishReason ?? 'stop' }],
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
      }),
    );
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const socket = request.socket;
    const rawBody = await readBody(request);
    let body: unknown;
    try {
      body = rawBody === '' ? undefined : JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const record: RecordedRequest = {
      index: requests.length,
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      headers: request.headers,
      body,
      rawBody,
      receivedAt: Date.now(),
      outcome: 'pending',
    };
    requests.push(record);
    for (const resolve of arrivalWaiters.splice(0)) resolve();
    response.on('close', () => {
      settle(record, response.writableFinished ? 'completed' : closing ? 'server-closed' : 'client-closed');
    });

    if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`) {
      const given = request.headers.authorization?.replace(/^Bearer /, '') ?? '';
      // Real servers echo (part of) the wrong key; the client must keep it out of its error messages.
      sendError(response, 401, `Incorrect API key provided: ${given}.`, 'invalid_request_error', 'invalid_api_key');
      return;
    }
    const path = record.path.split('?')[0];
    if (record.method === 'GET' && path === '/v1/models') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          object: 'list',
          data: models.map((id) => ({ id, object: 'model', created: createdTimestamp, owned_by: 'fake' })),
        }),
      );
      return;
    }
    if (record.method !== 'POST' || path !== '/v1/chat/completions') {
      sendError(response, 404, `fake server: no route ${record.method} ${record.path}`, 'invalid_request_error', null);
      return;
    }
    const behaviour = nextBehaviour(record);
    if (behaviour.type === 'http-error') {
      sendError(
        response,
        behaviour.status,
        behaviour.message ?? `fake server: scripted HTTP ${behaviour.status}`,
        behaviour.errorType ?? (behaviour.status >= 500 ? 'server_error' : 'invalid_request_error'),
        behaviour.code ?? null,
        behaviour.headers,
      );
      return;
    }
    if (bodyField(body, 'stream') === true) await streamReply(record, response, socket, behaviour);
    else sendJsonReply(record, response, socket, behaviour);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendError(response, 500, `fake server failed: ${String(error)}`, 'server_error', null);
      } else {
        response.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    enqueue(...behaviours) {
      queue.push(...behaviours);
    },
    async outcome(index) {
      while (requests[index] === undefined) await new Promise<void>((resolve) => arrivalWaiters.push(resolve));
      const record = requests[index];
      if (record !== undefined && record.outcome !== 'pending') return record.outcome;
      return new Promise<RequestOutcome>((resolve) => {
        const waiters = outcomeWaiters.get(index) ?? [];
        waiters.push(resolve);
        outcomeWaiters.set(index, waiters);
      });
    },
    close() {
      closing = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}
