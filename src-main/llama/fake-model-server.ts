import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** One request the fake server saw. */
export interface SeenRequest {
  method: string;
  path: string;
  /** The Range header, if any. */
  range: string | undefined;
}

/** What the fake server does with a request for a file it serves. */
export type ServeMode =
  /** Answers in full, with Range support. */
  | 'serve'
  /** Sends the headers of ranged requests that start at byte 0, then nothing (until `mode` changes). */
  | 'stall-first-chunk'
  /** Accepts the connection and never answers. */
  | 'hang';

/** A local HTTP server of model files with Range support, for download tests (there is no internet here). */
export interface FakeModelServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: SeenRequest[];
  mode: ServeMode;
  close(): Promise<void>;
}

/**
 * Serves `files` (URL path → local file) on 127.0.0.1; anything else is a 404. `extraHeaders` (URL path → headers)
 * are sent with a file, e.g. a hostile `Content-Disposition`.
 */
export async function startFakeModelServer(
  files: Record<string, string>,
  extraHeaders: Record<string, Record<string, string>> = {},
): Promise<FakeModelServer> {
  const sockets = new Set<Socket>();
  const stalled = new Set<() => void>();
  const state: { mode: ServeMode } = { mode: 'serve' };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    server.requests.push({ method: request.method ?? 'GET', path, range: request.headers.range });
    if (state.mode === 'hang') return;
    const file = files[path];
    if (file === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const size = (await stat(file)).size;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    const start = range === null ? 0 : Number(range[1]);
    const end = range === null || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    const headers = {
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      ...(range === null ? {} : { 'content-range': `bytes ${start}-${end}/${size}` }),
      ...extraHeaders[path],
    };
    response.writeHead(range === null ? 200 : 206, headers);
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    if (state.mode === 'stall-first-chunk' && range !== null && start === 0) {
      // Hold the response open; it is released (and ends broken) when the server closes.
      await new Promise<void>((resolve) => stalled.add(resolve));
      response.destroy();
      return;
    }
    const stream = createReadStream(file, { start, end });
    response.on('close', () => stream.destroy());
    stream.pipe(response);
  };

  const server = Object.assign(
    createServer((request, response) => void handle(request, response)),
    { requests: [] as SeenRequest[] },
  );
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: server.requests,
    get mode() {
      return state.mode;
    },
    set mode(mode: ServeMode) {
      state.mode = mode;
      if (mode !== 'stall-first-chunk') {
        for (const release of stalled) release();
        stalled.clear();
      }
    },
    async close() {
      for (const release of stalled) release();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
