import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { extname, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { apiRouter } from '../api/router.js';
import type { EventPace } from '../jobs/event-log.js';
import { contentSecurityPolicy } from '../security/content-security-policy.js';
import { listen, loopbackAddress } from './listen.js';
import type { AppServices } from '../services.js';

/** Options of {@link startWebHost}. */
export interface WebHostOptions {
  services: AppServices;
  /** The built renderer (index.html and assets). */
  rendererDir: string;
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** The per-run secret; default: 32 random bytes, base64url. Tests pass their own. */
  token?: string;
}

/** A running web host. */
export interface WebHost {
  /** The URL to open, token included. */
  readonly url: string;
  readonly port: number;
  /** The address the server is bound to (always 127.0.0.1). */
  readonly address: string;
  readonly token: string;
  close(): Promise<void>;
}

/** Always loopback: the host is a local tool, and the token is the only other guard. */
export const webHostAddress = loopbackAddress;

/** The path of the API's WebSocket endpoint. */
export const apiPath = '/api';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.ttf': 'font/ttf',
  '.woff2': 'font/woff2',
};

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readCookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** Why a request was refused, or null when it may pass. */
export type Refusal = { status: 401 | 403; reason: string } | null;

/**
 * The guard every HTTP request and WebSocket upgrade passes. A page loaded with `?token=` gets a cookie, so its
 * assets and its WebSocket carry the token without it being in every URL. The Host check stops DNS rebinding;
 * the Origin check stops other sites' pages (which can reach 127.0.0.1 from a browser) from using the API.
 */
export function checkRequest(request: IncomingMessage, port: number, token: string, cookieName: string): Refusal {
  const ownHosts = [`${webHostAddress}:${port}`, `localhost:${port}`];
  if (!ownHosts.includes(request.headers.host ?? '')) return { status: 403, reason: 'foreign Host header' };
  const origin = request.headers.origin;
  if (origin !== undefined && !ownHosts.some((host) => origin === `http://${host}`)) {
    return { status: 403, reason: 'foreign Origin' };
  }
  const url = new URL(request.url ?? '/', `http://${webHostAddress}:${port}`);
  const given = url.searchParams.get('token') ?? readCookie(request, cookieName);
  if (given === undefined || given === null) return { status: 401, reason: 'missing token' };
  if (!sameSecret(given, token)) return { status: 403, reason: 'wrong token' };
  return null;
}

/**
 * The page a browser gets when it comes back with a token this host does not know: after `clemplay serve` was
 * restarted (every run has a new token), or from a URL without one. Plain HTML, no script, nothing from the app.
 */
function expiredLinkPage(refusal: NonNullable<Refusal>): string {
  const why =
    refusal.reason === 'missing token'
      ? 'This address has no access token. Every clemplay URL carries one, and the host gives it to nobody else.'
      : 'This page came from an earlier run of clemplay. Each run has a new access token, so the old link stopped working when the host restarted.';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>clemplay: link expired</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1.5rem; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; }
pre { padding: 0.75rem 1rem; border: 1px solid #8888; border-radius: 6px; }
</style>
</head>
<body data-testid="link-expired">
<h1>This clemplay link has expired</h1>
<p>${why}</p>
<p>To get a new link, run this where clemplay is installed (or look at the terminal where it is running): it prints a URL to open.</p>
<pre>clemplay serve</pre>
<p>Then open the line it prints, <code>clemplay: serving at http://127.0.0.1:…/?token=…</code>, in this browser.</p>
</body>
</html>
`;
}

/** Whether a browser is loading a page (not a script, an image or the API), which gets HTML rather than text. */
function wantsPage(request: IncomingMessage): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const destination = request.headers['sec-fetch-dest'];
  if (destination !== undefined) return destination === 'document';
  return (request.headers.accept ?? '').includes('text/html');
}

/** Hashed build output: its name changes with its content, so a browser may keep it for good. */
const assetsPrefix = `assets${sep}`;
const compressible = new Set(['.js', '.css', '.html', '.json', '.svg', '.ttf']);
const compressBrotli = promisify(brotliCompress);
const compressGzip = promisify(gzip);

/** Compressed copies of served files, by encoding, path, size and modification time; the renderer is small. */
const compressedCache = new Map<string, Promise<Buffer>>();

/**
 * Compresses the hashed assets one after another in the background, so that even the first browser to open an
 * editor gets Monaco without waiting for it to be compressed. Failures are left to the request that needs the file.
 */
async function warmCompressedAssets(rendererDir: string, closed: () => boolean): Promise<void> {
  const folder = join(rendererDir, assetsPrefix);
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    if (closed() || !compressible.has(extname(name))) continue;
    const file = join(folder, name);
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile() || info.size <= 1024) continue;
    await compressedFile(file, info.size, info.mtimeMs, 'br').catch(() => undefined);
  }
}

/** The encoding to send: brotli when the browser takes it, else gzip, else none. */
function pickEncoding(request: IncomingMessage): 'br' | 'gzip' | null {
  const accepted = (request.headers['accept-encoding'] ?? '')
    .split(',')
    .map((part) => part.trim().split(';')[0]?.trim().toLowerCase());
  if (accepted.includes('br')) return 'br';
  if (accepted.includes('gzip')) return 'gzip';
  return null;
}

function compressedFile(file: string, size: number, modified: number, encoding: 'br' | 'gzip'): Promise<Buffer> {
  const key = `${encoding}:${file}:${size}:${modified}`;
  let compressed = compressedCache.get(key);
  if (compressed === undefined) {
    compressed = readFile(file).then((content) =>
      encoding === 'br'
        ? compressBrotli(content, {
            params: {
              // Quality 5 compresses Monaco's 4 MB in about 0.5 s on a small machine (quality 9: 2.5 s) for a file
              // only 5% larger; each file is compressed once.
              [zlibConstants.BROTLI_PARAM_QUALITY]: 5,
              [zlibConstants.BROTLI_PARAM_SIZE_HINT]: content.length,
            },
          })
        : compressGzip(content, { level: 6 }),
    );
    compressed.catch(() => compressedCache.delete(key));
    compressedCache.set(key, compressed);
  }
  return compressed;
}

async function serveFile(
  rendererDir: string,
  request: IncomingMessage,
  response: ServerResponse,
  headers: Record<string, string>,
  pageHeaders: Record<string, string>,
): Promise<void> {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://host').pathname);
  } catch {
    // `/%ff`, `/%`: the client's mistake, not ours.
    response
      .writeHead(400, { ...headers, 'Content-Type': 'text/plain' })
      .end('bad request: malformed percent-encoding\n');
    return;
  }
  const relative = normalize(pathname).replace(/^([/\\])+/, '');
  let file = join(rendererDir, relative);
  if (file !== rendererDir && !file.startsWith(rendererDir + sep)) {
    response.writeHead(404).end();
    return;
  }
  let info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) {
    // Client-side routes fall back to the app; a missing asset (has an extension) is a real 404.
    if (extname(relative) !== '') {
      response.writeHead(404, headers).end('not found');
      return;
    }
    file = join(rendererDir, 'index.html');
    info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      response.writeHead(500, headers).end('clemplay: the renderer is not built; run `npm run build`.');
      return;
    }
  }
  const extension = extname(file);
  const isPage = extension === '.html';
  const hashed = file.startsWith(join(rendererDir, assetsPrefix));
  const fileHeaders: Record<string, string> = {
    ...headers,
    ...(isPage ? pageHeaders : {}),
    'Content-Type': contentTypes[extension] ?? 'application/octet-stream',
    // The page is read fresh every time (it names the current assets); other unhashed files are revalidated.
    'Cache-Control': isPage ? 'no-store' : hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
  const encoding = compressible.has(extension) && info.size > 1024 ? pickEncoding(request) : null;
  if (compressible.has(extension)) fileHeaders['Vary'] = 'Accept-Encoding';
  if (encoding !== null) {
    const body = await compressedFile(file, info.size, info.mtimeMs, encoding);
    response.writeHead(200, { ...fileHeaders, 'Content-Encoding': encoding, 'Content-Length': String(body.length) });
    response.end(request.method === 'HEAD' ? undefined : body);
    return;
  }
  response.writeHead(200, { ...fileHeaders, 'Content-Length': String(info.size) });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  createReadStream(file).pipe(response);
}

/**
 * A WebSocket client's pace: busy while its TCP socket holds more unsent than its high-water mark (a slow network, a
 * client that stopped reading), until the socket drains or closes. Its subscriptions merge deltas meanwhile, so the
 * stream adapts to what the connection carries instead of queueing one message per delta.
 */
export function socketPace(socket: Duplex): EventPace {
  let draining: Promise<void> | null = null;
  return {
    busy() {
      if (!socket.writableNeedDrain || socket.destroyed) return null;
      draining ??= new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          draining = null;
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
      return draining;
    },
  };
}

function refuseUpgrade(socket: Duplex, status: 401 | 403, reason: string): void {
  const text = status === 401 ? 'Unauthorized' : 'Forbidden';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
}

/** Serves the built renderer and the API over WebSocket on 127.0.0.1, behind a per-run token. */
export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const token = options.token ?? randomBytes(32).toString('base64url');
  let port = options.port ?? 0;
  let cookieName = 'clemplay_token';
  const webSockets = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  const handleConnection = getWSConnectionHandler({
    wss: webSockets,
    router: apiRouter,
    createContext: ({ req }) => ({
      services: options.services,
      transport: 'websocket' as const,
      pace: socketPace(req.socket),
    }),
  });
  webSockets.on('connection', handleConnection);

  const server = createServer((request, response) => {
    const refusal = checkRequest(request, port, token, cookieName);
    if (refusal !== null) {
      // A foreign Host or Origin gets no page: that is another site, not a person with an old link.
      if (refusal.reason.startsWith('foreign') || !wantsPage(request)) {
        response.writeHead(refusal.status, { 'Content-Type': 'text/plain' }).end(`${refusal.reason}\n`);
        return;
      }
      response
        .writeHead(refusal.status, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Security-Policy': "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'",
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
          'Referrer-Policy': 'no-referrer',
        })
        .end(expiredLinkPage(refusal));
      return;
    }
    const headers: Record<string, string> = {
      'Content-Security-Policy': contentSecurityPolicy([`ws://${webHostAddress}:${port}`, `ws://localhost:${port}`]),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    };
    const pageHeaders: Record<string, string> = {
      // Cookies are not port-scoped, so the name carries the port: two hosts never overwrite each other's.
      // Only the page sets it: a cacheable asset must not carry the token into a cache.
      'Set-Cookie': `${cookieName}=${token}; Path=/; HttpOnly; SameSite=Strict`,
    };
    serveFile(options.rendererDir, request, response, headers, pageHeaders).catch((error: unknown) => {
      // The browser gets no file-system details; the terminal running the host does.
      process.stderr.write(`clemplay: serving ${request.url ?? ''} failed: ${String(error)}\n`);
      if (!response.headersSent) response.writeHead(500);
      response.end('internal error');
    });
  });
  server.on('upgrade', (request, socket, head) => {
    const refusal = checkRequest(request, port, token, cookieName);
    if (refusal !== null) return refuseUpgrade(socket, refusal.status, refusal.reason);
    if (new URL(request.url ?? '/', 'http://host').pathname !== apiPath) return refuseUpgrade(socket, 403, 'not found');
    webSockets.handleUpgrade(request, socket, head, (client) => webSockets.emit('connection', client, request));
  });

  try {
    port = await listen(server, port);
  } catch (error) {
    webSockets.close();
    throw error;
  }
  cookieName = `clemplay_token_${port}`;
  let closed = false;
  void warmCompressedAssets(options.rendererDir, () => closed);
  return {
    url: `http://${webHostAddress}:${port}/?token=${token}`,
    port,
    address: (server.address() as { address: string }).address,
    token,
    async close() {
      closed = true;
      for (const client of webSockets.clients) client.terminate();
      await new Promise<void>((resolve) => webSockets.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
