import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { activeTickers } from '../api/routers/app.js';
import { createTestServices } from '../testing/services.js';
import { connectApiClient } from '../testing/api-client.js';
import { apiPath, socketPace, startWebHost, type WebHost } from './web-host.js';

const rendererParent = mkdtempSync(join(tmpdir(), 'clemplay-host-'));
const rendererDir = join(rendererParent, 'renderer');
mkdirSync(rendererDir);
writeFileSync(join(rendererParent, 'secret.txt'), 'not for the web');
writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>clemplay</title>');
writeFileSync(join(rendererDir, 'app.js'), 'console.log(1)');
mkdirSync(join(rendererDir, 'assets'));
const hashedScript = `export const text = ${JSON.stringify('a compressible line of the app\n'.repeat(400))};\n`;
writeFileSync(join(rendererDir, 'assets', 'index-Ab12Cd34.js'), hashedScript);

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, headers }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

/** A GET whose body is kept as bytes, for compressed replies. */
function getBytes(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<Omit<Reply, 'body'> & { body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

/** Opens a WebSocket and says how the server answered the upgrade: 'open', or the HTTP status it refused with. */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers });
    socket.on('open', () => {
      socket.close();
      resolve('open');
    });
    socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.on('error', () => undefined);
  });
}

describe('web host', () => {
  let host: WebHost;
  beforeAll(async () => {
    host = await startWebHost({ services: await createTestServices(), rendererDir, token: 'secret-token-123' });
  });
  afterAll(async () => {
    await host.close();
  });

  it('serves the page with the right token, with a CSP and a port-scoped cookie', async () => {
    expect(host.url).toBe(`http://127.0.0.1:${host.port}/?token=secret-token-123`);
    const reply = await get(host.port, '/?token=secret-token-123');
    expect(reply.status).toBe(200);
    expect(reply.body).toContain('<title>clemplay</title>');
    expect(reply.headers['content-security-policy']).toContain("default-src 'self'");
    expect(reply.headers['set-cookie']?.[0]).toMatch(
      new RegExp(`^clemplay_token_${host.port}=secret-token-123;.*HttpOnly`),
    );
  });

  it('serves assets to a page that holds the cookie', async () => {
    const reply = await get(host.port, '/app.js', { cookie: `clemplay_token_${host.port}=secret-token-123` });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toContain('text/javascript');
  });

  it('rejects a request without a token (401) or with a wrong one (403)', async () => {
    expect((await get(host.port, '/')).status).toBe(401);
    expect((await get(host.port, '/app.js')).status).toBe(401);
    expect((await get(host.port, '/?token=secret-token-124')).status).toBe(403);
    expect((await get(host.port, '/', { cookie: `clemplay_token_${host.port}=nope` })).status).toBe(403);
  });

  it('serves hashed assets compressed and cacheable for good, and the page itself never from a cache', async () => {
    const cookie = `clemplay_token_${host.port}=secret-token-123`;
    const path = '/assets/index-Ab12Cd34.js';
    const brotli = await getBytes(host.port, path, { cookie, 'accept-encoding': 'gzip, deflate, br' });
    expect(brotli.status).toBe(200);
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotli.headers['vary']).toContain('Accept-Encoding');
    expect(brotli.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(Number(brotli.headers['content-length'])).toBe(brotli.body.length);
    expect(brotli.body.length).toBeLessThan(hashedScript.length / 10);
    expect(brotliDecompressSync(brotli.body).toString()).toBe(hashedScript);
    // An asset response must not carry the token cookie: a shared cache would keep it.
    expect(brotli.headers['set-cookie']).toBeUndefined();

    const gzip = await getBytes(host.port, path, { cookie, 'accept-encoding': 'gzip' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzip.body).toString()).toBe(hashedScript);

    const plain = await getBytes(host.port, path, { cookie });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(hashedScript);

    const page = await get(host.port, '/?token=secret-token-123', { 'accept-encoding': 'br' });
    expect(page.headers['cache-control']).toBe('no-store');
    // A file outside assets/ has no content hash in its name: it may change, so it is revalidated.
    const unhashed = await get(host.port, '/app.js', { cookie });
    expect(unhashed.headers['cache-control']).toBe('no-cache');
  });

  it('explains an expired link on a real page when a browser comes back after a restart', async () => {
    const html = { accept: 'text/html,application/xhtml+xml', cookie: `clemplay_token_${host.port}=an-old-token` };
    const expired = await get(host.port, '/', html);
    expect(expired.status).toBe(403);
    expect(expired.headers['content-type']).toContain('text/html');
    expect(expired.body).toContain('This clemplay link has expired');
    expect(expired.body).toContain('clemplay serve');
    expect(expired.headers['content-security-policy']).toContain("script-src 'none'");
    const missing = await get(host.port, '/', { accept: 'text/html' });
    expect(missing.status).toBe(401);
    expect(missing.body).toContain('clemplay serve');
    // Scripts and the API still get the short answer.
    expect((await get(host.port, '/app.js', { cookie: html.cookie })).body).toBe('wrong token\n');
  });

  it('rejects a foreign Origin or Host even with the right token', async () => {
    const path = '/?token=secret-token-123';
    expect((await get(host.port, path, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(host.port, path, { origin: `http://127.0.0.1:${host.port + 1}` })).status).toBe(403);
    expect((await get(host.port, path, { host: `evil.example:${host.port}` })).status).toBe(403);
    expect((await get(host.port, path, { origin: `http://localhost:${host.port}` })).status).toBe(200);
  });

  it('guards the WebSocket upgrade the same way', async () => {
    const base = `ws://127.0.0.1:${host.port}${apiPath}`;
    expect(await upgrade(base)).toBe(401);
    expect(await upgrade(`${base}?token=wrong`)).toBe(403);
    expect(await upgrade(`${base}?token=secret-token-123`, { origin: 'http://evil.example' })).toBe(403);
    expect(await upgrade(`ws://127.0.0.1:${host.port}/elsewhere?token=secret-token-123`)).toBe(403);
    expect(await upgrade(`${base}?token=secret-token-123`, { origin: `http://127.0.0.1:${host.port}` })).toBe('open');
  });

  it('does not serve files outside the renderer folder', async () => {
    for (const path of ['/..%2fsecret.txt', '/../secret.txt', '/%2e%2e/secret.txt', '/..%5csecret.txt']) {
      const reply = await get(host.port, `${path}?token=secret-token-123`);
      expect(reply.status).toBe(404);
      expect(reply.body).not.toContain('not for the web');
    }
  });

  it('answers 400, not 500, to malformed percent-encoding', async () => {
    for (const path of ['/%ff', '/%', '/%E0%A4%A', '/assets/%c0%80.js']) {
      const reply = await get(host.port, `${path}?token=secret-token-123`);
      expect([path, reply.status]).toEqual([path, 400]);
      expect(reply.body).toContain('malformed');
    }
  });

  it('is bound to 127.0.0.1 only', async () => {
    expect(host.address).toBe('127.0.0.1');
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address !== undefined && address.family === 'IPv4' && !address.internal);
    if (external === undefined) {
      // Without another interface there is no other address to try; the serving URL still must be loopback.
      expect(host.url.startsWith('http://127.0.0.1:')).toBe(true);
      return;
    }
    const refused = await new Promise<string>((resolve) => {
      const request = httpRequest({ host: external.address, port: host.port, path: '/' }, () => resolve('answered'));
      request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      request.end();
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('serves the API over the WebSocket, and a cancelled subscription stops on the server', async () => {
    const client = connectApiClient(host);
    try {
      expect((await client.api.app.info.query()).transport).toBe('websocket');
      const counts: number[] = [];
      await new Promise<void>((resolve, reject) => {
        const subscription = client.api.app.ticks.subscribe(
          { intervalMs: 20 },
          {
            onData: (tick) => {
              counts.push(tick.count);
              if (counts.length === 3) {
                subscription.unsubscribe();
                resolve();
              }
            },
            onError: reject,
          },
        );
      });
      expect(counts).toEqual([1, 2, 3]);
      await expect.poll(() => activeTickers.count, { timeout: 2000 }).toBe(0);
    } finally {
      client.close();
    }
  });

  it('stops subscriptions when the client disconnects', async () => {
    const client = connectApiClient(host);
    await new Promise<void>((resolve) => {
      client.api.app.ticks.subscribe({ intervalMs: 20 }, { onData: () => resolve() });
    });
    expect(activeTickers.count).toBe(1);
    client.close();
    await expect.poll(() => activeTickers.count, { timeout: 2000 }).toBe(0);
  });
});

describe('web host ports', () => {
  it('says clearly when the port is in use', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      await expect(startWebHost({ services: await createTestServices(), rendererDir, port })).rejects.toThrow(
        `port ${port} on 127.0.0.1 is already in use`,
      );
    } finally {
      blocker.close();
    }
  });

  it('makes a different random token each run', async () => {
    const first = await startWebHost({ services: await createTestServices(), rendererDir });
    const second = await startWebHost({ services: await createTestServices(), rendererDir });
    try {
      expect(first.token).not.toBe(second.token);
      expect(first.token.length).toBeGreaterThanOrEqual(40);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});

describe('socketPace', () => {
  it('is busy while the socket holds more than its high-water mark, until it drains', async () => {
    // A socket whose other end does not read: what is written stays queued.
    const socket = new PassThrough({ highWaterMark: 64 });
    const pace = socketPace(socket);
    expect(pace.busy()).toBeNull();
    while (socket.write('x'.repeat(32)));
    const busy = pace.busy();
    expect(busy).not.toBeNull();
    // Every subscriber of one socket waits for the same drain.
    expect(pace.busy()).toBe(busy);
    socket.resume();
    await busy;
    expect(pace.busy()).toBeNull();
  });

  it('stops being busy when the socket closes', async () => {
    const socket = new PassThrough({ highWaterMark: 64 });
    const pace = socketPace(socket);
    while (socket.write('x'.repeat(32)));
    const busy = pace.busy();
    socket.destroy();
    await busy;
    expect(pace.busy()).toBeNull();
  });
});
