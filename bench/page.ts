/**
 * How light is the page? In Chromium, against the built renderer (run `npm run build` first):
 *
 * - bytes before the first page is interactive (the first nav item visible, the Registry listed): raw (decoded) and
 *   as sent (compressed), from a cold cache; and what a reload sends once the hashed assets are cached;
 * - time from starting the web host to the first nav item visible, as a ratio to a static page (one HTML file with
 *   that nav item and nothing else) served by the same web host code in the same run.
 *
 * Run: npx tsx bench/page.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Response } from '@playwright/test';
import { startWebHost } from '../src-main/host/web-host.js';
import type { AppServices } from '../src-main/services.js';
import { createTestServices } from '../src-main/testing/services.js';
import { chromiumArgs, chromiumPath } from '../e2e/chromium.js';

const root = join(import.meta.dirname, '..');
const rendererDir = join(root, 'out', 'renderer');

/** What one cold load of a page transferred before its first nav item was visible. */
export interface PageBytes {
  /** Files fetched (the page, scripts, styles, fonts, icons). */
  files: number;
  /** Bytes after decompression. */
  rawBytes: number;
  /** Bytes as sent (Content-Length of the compressed bodies). */
  sentBytes: number;
}

/** What `npm run bench` prints for this benchmark. */
export interface PageBenchResult {
  cold: PageBytes;
  /** A reload in the same browser: hashed assets come from the cache. */
  reload: PageBytes;
  runs: number;
  /** Median milliseconds from startWebHost to the first nav item visible: the app, and the static page. */
  appMs: number;
  staticMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Loads `url` in a fresh context and sums what arrived until `[data-testid=nav-registry]` was visible. */
async function measureBytes(browser: Browser, url: string): Promise<{ cold: PageBytes; reload: PageBytes }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const load = async (go: () => Promise<unknown>): Promise<PageBytes> => {
    const seen: Promise<{ raw: number; sent: number }>[] = [];
    const onResponse = (response: Response): void => {
      if (response.url().startsWith('ws')) return;
      seen.push(
        (async () => {
          const sizes = await response.request().sizes();
          const fromCache = response.fromServiceWorker() || sizes.responseBodySize === 0;
          const body = await response.body().catch(() => Buffer.alloc(0));
          return { raw: fromCache ? 0 : body.length, sent: Math.max(0, sizes.responseBodySize) };
        })(),
      );
    };
    page.on('response', onResponse);
    await go();
    await page.getByTestId('nav-registry').waitFor({ state: 'visible' });
    await page.getByTestId('registry-row').first().waitFor({ state: 'visible' });
    page.off('response', onResponse);
    const sizes = await Promise.all(seen);
    return {
      files: sizes.filter((size) => size.sent > 0).length,
      rawBytes: sizes.reduce((sum, size) => sum + size.raw, 0),
      sentBytes: sizes.reduce((sum, size) => sum + size.sent, 0),
    };
  };
  const cold = await load(() => page.goto(url));
  const reload = await load(() => page.reload());
  await context.close();
  return { cold, reload };
}

/** Milliseconds from starting a host on `dir` to its page's first nav item visible in a fresh context. */
async function timeToNav(browser: Browser, services: AppServices, dir: string): Promise<number> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const started = performance.now();
  const host = await startWebHost({ services, rendererDir: dir });
  try {
    await page.goto(host.url);
    await page.getByTestId('nav-registry').waitFor({ state: 'visible' });
    return performance.now() - started;
  } finally {
    await context.close();
    await host.close();
  }
}

export async function main(): Promise<{ headline: string }> {
  const result = await run();
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  console.log(
    `first page, cold: ${result.cold.files} files, ${kib(result.cold.rawBytes)} raw, ${kib(result.cold.sentBytes)} sent`,
  );
  console.log(`reload (assets cached): ${result.reload.files} files, ${kib(result.reload.sentBytes)} sent`);
  console.log(
    `host start → first nav item visible, median of ${result.runs}: app ${result.appMs.toFixed(0)} ms, ` +
      `static page ${result.staticMs.toFixed(0)} ms, app / static ${(result.appMs / result.staticMs).toFixed(2)}`,
  );
  return {
    headline:
      `${kib(result.cold.sentBytes)} sent (${kib(result.cold.rawBytes)} raw) before the first page is interactive; ` +
      `time to first nav item app / static = ${(result.appMs / result.staticMs).toFixed(2)}`,
  };
}

export async function run(runs = 7): Promise<PageBenchResult> {
  const staticDir = mkdtempSync(join(tmpdir(), 'clemplay-bench-static-'));
  writeFileSync(
    join(staticDir, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"><title>static</title></head>' +
      '<body><nav><button data-testid="nav-registry">Registry</button></nav></body></html>',
  );
  const services = await createTestServices();
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: chromiumArgs,
  });
  try {
    const host = await startWebHost({ services, rendererDir });
    let bytes: { cold: PageBytes; reload: PageBytes };
    try {
      bytes = await measureBytes(browser, host.url);
    } finally {
      await host.close();
    }
    // Warm-up: the first start of each pays for code loading that later ones do not.
    await timeToNav(browser, services, rendererDir);
    await timeToNav(browser, services, staticDir);
    const app: number[] = [];
    const plain: number[] = [];
    for (let round = 0; round < runs; round++) {
      app.push(await timeToNav(browser, services, rendererDir));
      plain.push(await timeToNav(browser, services, staticDir));
    }
    return { ...bytes, runs, appMs: median(app), staticMs: median(plain) };
  } finally {
    await browser.close();
    await services.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
