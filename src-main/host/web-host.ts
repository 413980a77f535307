import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { extname, join, normalize, sep } from 'node:path';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { AppError } from '../../src-shared/errors.js';
import { apiRouter } from '../api/router.js';
import { contentSecurityPolicy } from '../security/content-security-policy.js';
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
export const webHostAddress = '127.0.0.1';

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

async function serveFile(
  rendererDir: string,
  request: IncomingMessage,
  response: ServerResponse,
  headers: Record<string, string>,
): Promise<void> {
  const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://host').pathname);
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
  response.writeHead(200, {
    ...headers,
    'Content-Type': contentTypes[extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(info.size),
  });
  createReadStream(file).pipe(response);
}

function refuseUpgrade(socket: Duplex, status: 401 | 403, reason: string): void {
  const text = status === 401 ? 'Unauthorized' : 'Forbidden';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
}

/**
 * Starts `server` listening on `address`:`port` (0: a free port) and resolves with the port; a port in use (or an
 * address this machine does not have) is a `network` error that says what to do.
 */
export function listen(server: Server, port: number, address: string = webHostAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        error.code === 'EADDRINUSE'
          ? new AppError(
              'network',
              `port ${port} on ${address} is already in use; pick another with --port, or --port 0`,
            )
          : error.code === 'EADDRNOTAVAIL'
            ? new AppError('network', `${address} is not an address of this machine; check --host`)
            : error,
      );
    };
    server.once('error', onError);
    server.listen(port, address, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
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
    createContext: () => ({ services: options.services, transport: 'websocket' as const }),
  });
  webSockets.on('connection', handleConnection);

  const server = createServer((request, response) => {
    const refusal = checkRequest(request, port, token, cookieName);
    if (refusal !== null) {
      response.writeHead(refusal.status, { 'Content-Type': 'text/plain' }).end(`${refusal.reason}\n`);
      return;
    }
    const headers: Record<string, string> = {
      'Content-Security-Policy': contentSecurityPolicy([`ws://${webHostAddress}:${port}`, `ws://localhost:${port}`]),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
      // Cookies are not port-scoped, so the name carries the port: two hosts never overwrite each other's.
      'Set-Cookie': `${cookieName}=${token}; Path=/; HttpOnly; SameSite=Strict`,
    };
    serveFile(options.rendererDir, request, response, headers).catch((error: unknown) => {
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
  return {
    url: `http://${webHostAddress}:${port}/?token=${token}`,
    port,
    address: (server.address() as { address: string }).address,
    token,
    async close() {
      for (const client of webSockets.clients) client.terminate();
      await new Promise<void>((resolve) => webSockets.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
