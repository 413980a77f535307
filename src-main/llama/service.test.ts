import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ggufPresets } from '../../scripts/make-gguf.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import type { DownloadProgress, DownloadResult } from './download.js';
import { type FakeModelServer, startFakeModelServer } from './fake-model-server.js';
import { LocalModelRuntime } from './runtime.js';
import { createLocalModelService, endsLoadPhase, type LoadEvent, type LocalModelService } from './service.js';
import { rejection } from '../testing/rejection.js';

let folder = '';
let tiny = '';
/** Bigger than two of the downloader's 5 MiB chunks, so a download takes several requests. */
let large = '';
let server: FakeModelServer;
let owner: LocalModelRuntime;
let llama: Llama;
const services: LocalModelService[] = [];

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'clemplay-service-'));
  tiny = await ensureTestModel('tiny');
  large = await ensureTestModel({ ...ggufPresets.tiny, vocabularyPieces: 24_000, name: 'clemplay-download' });
  server = await startFakeModelServer({ '/large.gguf': large });
  owner = new LocalModelRuntime({ gpu: false });
  llama = await owner.getLlama();
});

afterAll(async () => {
  for (const service of services) await service.dispose();
  await owner.dispose();
  await server.close();
  await rm(folder, { recursive: true, force: true });
});

/** A service over a models folder of its own (and the test file's Llama instance). */
async function serviceIn(name: string, options: { memoryLimitBytes?: number } = {}): Promise<LocalModelService> {
  const directory = await mkdtemp(join(folder, `${name}-`));
  const service = createLocalModelService({ modelsDirs: [directory], llama, ...options });
  services.push(service);
  return service;
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** The Range headers the server saw since request number `since` that were asked for more than once. */
function repeatedRanges(since: number): string[] {
  const ranges = server.requests
    .slice(since)
    .filter((request) => request.method === 'GET' && request.path === '/large.gguf')
    .map((request) => request.range ?? 'all');
  return ranges.filter((range, index) => ranges.indexOf(range) !== index);
}

describe('two downloads of one file at once', () => {
  it('share one download: both succeed, with one file', async () => {
    const service = await serviceIn('shared');
    const uri = `${server.url}/large.gguf`;
    const seen = server.requests.length;
    const progress: DownloadProgress[][] = [[], []];
    const [first, second] = await Promise.all(
      [0, 1].map((caller) => service.download({ uri }, { onProgress: (step) => progress[caller]?.push(step) })),
    );
    expect(first?.path).toBe(join(service.downloadDir, 'large.gguf'));
    expect(second).toEqual(first);
    expect(await sha256(first!.path)).toBe(await sha256(large));
    expect(await readdir(service.downloadDir)).toEqual(['large.gguf']);
    expect(repeatedRanges(seen)).toEqual([]);
    for (const steps of progress) expect(steps.at(-1)?.fraction).toBe(1);
  });

  it('one caller giving up leaves the download going for the other', async () => {
    const service = await serviceIn('one-leaves');
    const uri = `${server.url}/large.gguf`;
    const leaving = new AbortController();
    const first = service.download(
      { uri },
      { signal: leaving.signal, onProgress: (step) => step.downloaded_bytes > 0 && leaving.abort() },
    );
    const second = service.download({ uri });
    const error = await rejection(first);
    expect(error.code).toBe('aborted');
    expect(error.message).toMatch(/cancelled here; it goes on for another caller/);
    const result: DownloadResult = await second;
    expect(await sha256(result.path)).toBe(await sha256(large));
  });

  it('stops, keeping the partial file, only when every caller gave up; the next one resumes', async () => {
    const service = await serviceIn('all-leave');
    const uri = `${server.url}/large.gguf`;
    const size = (await stat(large)).size;
    const chunk = 5 * 1024 * 1024;
    server.mode = 'stall-first-chunk';
    try {
      const controllers = [new AbortController(), new AbortController()];
      let reached: () => void = () => undefined;
      const laterChunksArrived = new Promise<void>((resolve) => (reached = resolve));
      const waiting = controllers.map((controller) =>
        service.download(
          { uri },
          {
            signal: controller.signal,
            onProgress: (step) => {
              if (step.downloaded_bytes >= size - chunk) reached();
            },
          },
        ),
      );
      await laterChunksArrived;
      controllers[0]?.abort();
      expect((await rejection(waiting[0]!)).message).toMatch(/goes on for another caller/);
      controllers[1]?.abort();
      const last = await rejection(waiting[1]!);
      expect(last.code).toBe('aborted');
      expect(last.message).toMatch(/run the same download again to resume/);
    } finally {
      server.mode = 'serve';
    }
    const resumed = await service.download({ uri });
    expect(resumed.resumed_from_bytes).toBeGreaterThan(0);
    expect(await sha256(resumed.path)).toBe(await sha256(large));
  });
});

describe('paths', () => {
  it('one file under two spellings of its path is one loaded model', async () => {
    const service = await serviceIn('paths');
    const doubled = `${dirname(tiny)}//${basename(tiny)}`;
    const first = await service.load({ model_path: doubled, threads: 1, context_size: 256 });
    const second = await service.load({ model_path: tiny, threads: 1, context_size: 256 });
    expect(first.path).toBe(tiny);
    expect(second.id).toBe(first.id);
    expect(service.status().models).toHaveLength(1);
  });
});

describe('estimate', () => {
  it('a file already loaded is not counted twice against the memory limit', async () => {
    const probe = await serviceIn('probe');
    const alone = await probe.estimate({ path: tiny, context_size: 256 });
    const needed = alone.requested.memory.ram_bytes + alone.requested.memory.vram_bytes;
    // Room for one copy of the model, not two.
    const service = await serviceIn('limited', { memoryLimitBytes: Math.ceil(needed * 1.5) });
    expect((await service.estimate({ path: tiny, context_size: 256 })).fits).toBe(true);
    await service.load({ model_path: tiny, threads: 1, context_size: 256 });
    const estimate = await service.estimate({ path: `${dirname(tiny)}//${basename(tiny)}`, context_size: 256 });
    expect(estimate.available.loaded_models_bytes).toBeGreaterThan(0);
    expect(estimate.fits).toBe(true);
  });
});

describe('load progress', () => {
  it('sends the last event of each phase (load ends at 0.9, context at 1), then the model', async () => {
    const service = await serviceIn('progress');
    const events: LoadEvent[] = [];
    await service.load({ model_path: tiny, threads: 1, context_size: 256 }, { onEvent: (event) => events.push(event) });
    const progress = events.filter((event) => event.type === 'progress');
    const lastOf = (phase: string) => progress.filter((event) => event.phase === phase).at(-1);
    expect(lastOf('load')).toEqual({ type: 'progress', phase: 'load', fraction: 0.9 });
    expect(lastOf('context')).toEqual({ type: 'progress', phase: 'context', fraction: 1 });
    expect(events.at(-1)?.type).toBe('loaded');
    expect(events.filter(endsLoadPhase).map((event) => (event.type === 'progress' ? event.phase : event.type))).toEqual(
      ['load', 'context', 'loaded'],
    );
    const phases = progress.map((event) => event.phase);
    expect(phases.indexOf('context')).toBe(phases.lastIndexOf('load') + 1);
  });
});
