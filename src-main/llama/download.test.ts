import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ggufPresets } from '../../scripts/make-gguf.js';
import { ensureTestModel } from '../../scripts/test-models.js';
import { downloadModelFile, type DownloadProgress, type DownloadRequest } from './download.js';
import { type FakeModelServer, startFakeModelServer } from './fake-model-server.js';
import { loadNodeLlamaCpp, type NodeLlamaCppModule } from './node-llama.js';
import { rejection } from '../testing/rejection.js';

let nl: NodeLlamaCppModule;
let server: FakeModelServer;
let folder = '';
let tiny = '';
/** Bigger than two of the downloader's 5 MiB chunks, so a cancelled download keeps some and resumes. */
let large = '';

beforeAll(async () => {
  nl = await loadNodeLlamaCpp();
  folder = await mkdtemp(join(tmpdir(), 'clemplay-download-'));
  tiny = await ensureTestModel('tiny');
  large = await ensureTestModel({ ...ggufPresets.tiny, vocabularyPieces: 24_000, name: 'clemplay-download' });
  server = await startFakeModelServer({ '/tiny.gguf': tiny, '/large.gguf': large });
});

afterAll(async () => {
  await server.close();
  await rm(folder, { recursive: true, force: true });
});

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** ipull's ChunkStatus.COMPLETE, as its progress note in a partial file says. */
const chunkComplete = 2;

/**
 * The chunk states the downloader (ipull) notes as JSON after the data in a partial file; [] while there is no
 * whole note to read.
 */
async function notedChunks(path: string, dataSize: number): Promise<number[]> {
  const file = await open(path, 'r').catch(() => undefined);
  if (file === undefined) return [];
  try {
    const note = Buffer.alloc(Math.max(0, (await file.stat()).size - dataSize));
    await file.read(note, 0, note.length, dataSize);
    return (JSON.parse(note.toString('utf8')) as { chunks?: number[] }).chunks ?? [];
  } catch {
    return [];
  } finally {
    await file.close();
  }
}

function download(request: Omit<DownloadRequest, 'directory'> & { directory?: string }) {
  return downloadModelFile(nl, { directory: join(folder, 'models'), ...request });
}

describe('download', () => {
  it('fetches a file with progress, then finds it without fetching again', async () => {
    const progress: DownloadProgress[] = [];
    const result = await download({ uri: `${server.url}/tiny.gguf`, onProgress: (step) => progress.push(step) });
    expect(result).toMatchObject({
      resumed_from_bytes: 0,
      already_present: false,
      size_bytes: (await stat(tiny)).size,
    });
    expect(result.path).toBe(join(folder, 'models', 'tiny.gguf'));
    expect(await sha256(result.path)).toBe(await sha256(tiny));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.fraction).toBe(1);
    const downloaded = progress.map((step) => step.downloaded_bytes);
    expect(downloaded).toEqual([...downloaded].sort((a, b) => a - b));

    const before = server.requests.length;
    const again = await download({ uri: `${server.url}/tiny.gguf` });
    expect(again).toMatchObject({ path: result.path, already_present: true });
    expect(server.requests.length).toBe(before);
  });

  it('cancels, keeps what it has, and resumes from there', async () => {
    const uri = `${server.url}/large.gguf`;
    const size = (await stat(large)).size;
    const chunk = 5 * 1024 * 1024;
    const directory = join(folder, 'resume');
    server.mode = 'stall-first-chunk';
    const controller = new AbortController();
    let reached: () => void = () => undefined;
    const laterChunksArrived = new Promise<void>((resolve) => (reached = resolve));
    const first = download({
      uri,
      directory,
      signal: controller.signal,
      onProgress: (step) => {
        if (step.downloaded_bytes >= size - chunk) reached();
      },
    });
    await laterChunksArrived;
    // The downloader notes finished chunks after the file's data, a moment after it reports their bytes: cancel once
    // the note says every chunk but the stalled first one is complete.
    const temporary = join(directory, 'large.gguf.ipull');
    await vi.waitFor(
      async () => {
        const chunks = await notedChunks(temporary, size);
        expect(chunks.length).toBeGreaterThan(2);
        expect(chunks.slice(1)).toEqual(chunks.slice(1).map(() => chunkComplete));
      },
      { timeout: 10_000, interval: 10 },
    );
    controller.abort();
    const cancelled = await rejection(first);
    expect(cancelled.code).toBe('aborted');
    expect(cancelled.message).toMatch(
      /cancelled; [\d.]+ MiB of [\d.]+ MiB kept in .* run the same download again to resume/,
    );
    expect((await stat(temporary)).size).toBeGreaterThan(0);

    server.mode = 'serve';
    const seen = server.requests.length;
    const resumed = await download({ uri, directory });
    expect(resumed.resumed_from_bytes).toBeGreaterThanOrEqual(chunk);
    expect(await sha256(resumed.path)).toBe(await sha256(large));
    const ranges = server.requests.slice(seen).map((request) => request.range);
    expect(ranges).toContain(`bytes=0-${chunk - 1}`);
    expect(ranges.filter((range) => range?.startsWith(`bytes=${2 * chunk}-`))).toEqual([]);
  });
});

describe('download failures', () => {
  it('rejects what is not a model URI', async () => {
    const error = await rejection(download({ uri: 'ftp://example.com/x.gguf' }));
    expect(error.code).toBe('invalid-input');
    expect(error.message).toMatch(/is not a model URI/);
  });

  it('a 404 is not-found', async () => {
    const error = await rejection(download({ uri: `${server.url}/missing.gguf` }));
    expect(error.code).toBe('not-found');
    expect(error.message).toMatch(/the server says 404/);
  });

  it('an unreachable server is a network error at once, saying you may be offline', async () => {
    const closed = await startFakeModelServer({});
    const url = `${closed.url}/model.gguf`;
    await closed.close();
    const started = performance.now();
    const error = await rejection(download({ uri: url }));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe('network');
    expect(error.message).toMatch(/cannot reach 127\.0\.0\.1:\d+ .*you seem to be offline/);
  });

  it('a server that never answers times out', async () => {
    server.mode = 'hang';
    try {
      const error = await rejection(
        download({ uri: `${server.url}/tiny.gguf`, directory: join(folder, 'hang'), connectTimeoutMs: 200 }),
      );
      expect(error.code).toBe('network');
      expect(error.message).toMatch(/did not answer within 0\.2 s/);
    } finally {
      server.mode = 'serve';
    }
  });
});

/** What node-llama-cpp's downloader reports, as far as downloadModelFile reads it. */
interface FakeStatus {
  downloadedSize: number;
  totalSize: number;
  averageSpeed: number;
}

/**
 * A node-llama-cpp stand-in whose downloader "downloads" `file` at once, reporting `reported` bytes on the way, and
 * hands out its progress callback so a test can call it late, as the real one may.
 */
function fakeDownloader(file: string, size: number, reported: number) {
  const seen: { onProgress?: (status: FakeStatus) => void } = {};
  const nlFake = {
    resolveModelFile: () => Promise.reject(new Error('not downloaded')),
    createModelDownloader: (options: { dirPath: string; onProgress?: (status: FakeStatus) => void }) => {
      seen.onProgress = options.onProgress;
      const fileName = 'hf_someone_model.Q4_0.gguf';
      return Promise.resolve({
        downloadedSize: 0,
        totalSize: size,
        filesInfo: [{ fileName, filePath: join(options.dirPath, fileName), totalSize: size, downloadedSize: 0 }],
        download: () => {
          options.onProgress?.({ downloadedSize: reported, totalSize: size, averageSpeed: 1000 });
          return Promise.resolve(file);
        },
        cancel: () => Promise.resolve(),
      });
    },
  };
  return { nl: nlFake as unknown as NodeLlamaCppModule, seen };
}

describe('after the download is done', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ignores progress the downloader reports late: no callback, no stall timer left', async () => {
    const size = (await stat(tiny)).size;
    const fake = fakeDownloader(tiny, size, size);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const progress: DownloadProgress[] = [];
    await downloadModelFile(fake.nl, {
      uri: 'hf:someone/model:Q4_0',
      directory: join(folder, 'late'),
      onProgress: (step) => progress.push(step),
    });
    const reported = progress.length;
    // Counted against the timers before the late report (vitest keeps one of its own).
    const timers = vi.getTimerCount();
    fake.seen.onProgress?.({ downloadedSize: size, totalSize: size, averageSpeed: 1000 });
    expect(progress).toHaveLength(reported);
    expect(vi.getTimerCount()).toBe(timers);
  });

  it('reports completion even when the downloader last reported less', async () => {
    const size = (await stat(tiny)).size;
    const progress: DownloadProgress[] = [];
    await downloadModelFile(fakeDownloader(tiny, size, Math.floor(size / 2)).nl, {
      uri: 'hf:someone/model:Q4_0',
      directory: join(folder, 'short'),
      onProgress: (step) => progress.push(step),
    });
    expect(progress.map((step) => step.fraction)).toEqual([expect.closeTo(0.5, 2), 1]);
    expect(progress.at(-1)).toMatchObject({ downloaded_bytes: size, total_bytes: size });
  });
});

describe('where a download may write', () => {
  let hostile: FakeModelServer;

  beforeAll(async () => {
    hostile = await startFakeModelServer(
      { '/files/model.gguf': tiny, '/.hidden.gguf': tiny, '/notes.txt': tiny, '/a%2F..%2Fb.gguf': tiny },
      // The server names another file than the URL does: the user's shell profile, one folder up.
      { '/files/model.gguf': { 'content-disposition': 'attachment; filename="../.profile"' } },
    );
  });
  afterAll(() => hostile.close());

  it('names the file after the URL, never after the server’s Content-Disposition', async () => {
    const directory = join(folder, 'named', 'models');
    const result = await download({ uri: `${hostile.url}/files/model.gguf`, directory });
    expect(result.path).toBe(join(directory, 'model.gguf'));
    expect(await readdir(directory)).toEqual(['model.gguf']);
    expect(await readdir(join(folder, 'named'))).toEqual(['models']);
  });

  it.each([
    ['a hidden file in the URL', '/.hidden.gguf', undefined, /must not start with "\."/],
    ['a file that is no model', '/notes.txt', undefined, /must end in "\.gguf"/],
    ['a path hidden in percent-encoding', '/a%2F..%2Fb.gguf', undefined, /must not contain "\/"/],
    ['a name asked for that climbs out', '/files/model.gguf', '../escape.gguf', /must not contain "\/"/],
    ['a name asked for that is hidden', '/files/model.gguf', '.profile', /must not start with "\."/],
  ])('refuses %s, and writes nothing', async (_case, path, fileName, message) => {
    const directory = join(folder, 'refused', String(path.length), String(fileName?.length ?? 0));
    const error = await rejection(
      download({ uri: `${hostile.url}${path}`, directory, ...(fileName === undefined ? {} : { fileName }) }),
    );
    expect(error.code).toBe('invalid-input');
    expect(error.message).toMatch(message);
    expect(await readdir(directory).catch(() => [])).toEqual([]);
  });

  it('saves under the name asked for', async () => {
    const directory = join(folder, 'renamed');
    const result = await download({ uri: `${hostile.url}/files/model.gguf`, directory, fileName: 'mine.gguf' });
    expect(result.path).toBe(join(directory, 'mine.gguf'));
    expect(await sha256(result.path)).toBe(await sha256(tiny));
  });

  it('never replaces a file that is there, even beside a partial download of the same name', async () => {
    const directory = join(folder, 'occupied');
    await mkdir(directory, { recursive: true });
    await writeFile(join(directory, 'model.gguf'), 'the user’s own file');
    await writeFile(join(directory, 'model.gguf.ipull'), 'not a partial download of it');
    const error = await rejection(download({ uri: `${hostile.url}/files/model.gguf`, directory }));
    expect(error.code).toBe('conflict');
    expect(await readFile(join(directory, 'model.gguf'), 'utf8')).toBe('the user’s own file');

    await rm(join(directory, 'model.gguf.ipull'));
    const kept = await download({ uri: `${hostile.url}/files/model.gguf`, directory });
    expect(kept.already_present).toBe(true);
    expect(await readFile(join(directory, 'model.gguf'), 'utf8')).toBe('the user’s own file');
  });
});
