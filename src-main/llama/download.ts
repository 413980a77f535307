import { lstat, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ModelDownloader } from 'node-llama-cpp';
import { AppError, type ErrorCode } from '../../src-shared/errors.js';
import { formatBytes } from './failures.js';
import type { NodeLlamaCppModule } from './node-llama.js';

/** How far a download has come. */
export interface DownloadProgress {
  /** Bytes received so far, those kept from an earlier, cancelled run included. */
  downloaded_bytes: number;
  /** Bytes of the whole file (0 while unknown). */
  total_bytes: number;
  /** downloaded ÷ total, 0..1. */
  fraction: number;
  /** Recent speed in bytes per second (0 while unknown). */
  bytes_per_second: number;
}

/** A finished download. */
export interface DownloadResult {
  /** Where the model file is. */
  path: string;
  size_bytes: number;
  /** Bytes kept from an earlier, cancelled run that were not fetched again (0 for a fresh download). */
  resumed_from_bytes: number;
  /** True when the file was already there and nothing was fetched. */
  already_present: boolean;
}

/** What to download, where, and how patiently. */
export interface DownloadRequest {
  /** `hf:user/repo:quant`, `hf:user/repo/file.gguf`, or an http(s) URL. */
  uri: string;
  /** The folder the file goes into (created if missing). */
  directory: string;
  /**
   * The file name to save as (see {@link downloadNameProblem}); default: the last segment of a URL's path, or the
   * name node-llama-cpp gives `hf:` downloads. A server's `Content-Disposition` never names the file.
   */
  fileName?: string;
  onProgress?: (progress: DownloadProgress) => void;
  /** Aborting cancels the download and keeps the partial file, so the same download later resumes. */
  signal?: AbortSignal;
  /** Give up when no byte arrives for this long; default 60000 ms. */
  stallTimeoutMs?: number;
  /** How long the first contact with the server may take; default 15000 ms. */
  connectTimeoutMs?: number;
}

/** Default wait for the next byte before a download counts as stalled. */
export const defaultDownloadStallTimeoutMs = 60_000;
/** Default wait for the first answer from the server. */
export const defaultDownloadConnectTimeoutMs = 15_000;

const modelUriPattern = /^(hf:[^/\s]+\/\S+|https?:\/\/\S+)$/;

/** Throws `invalid-input` unless `uri` is a model URI node-llama-cpp can download. */
export function checkModelUri(uri: string): void {
  if (!modelUriPattern.test(uri)) {
    throw new AppError(
      'invalid-input',
      `${JSON.stringify(uri)} is not a model URI — use "hf:user/repo:Q4_K_M", "hf:user/repo/file.gguf" or an ` +
        'https:// URL of a .gguf file.',
      { uri },
    );
  }
}

/** The suffix of the downloader's partial file, which a later run resumes; the only file a download may replace. */
export const partialDownloadSuffix = '.ipull';

/**
 * Why `name` cannot be the name a download is saved as, or null when it can: it must end in `.gguf`, must not start
 * with a dot (no hidden files, no `..`) and must not hold a path separator or a control character.
 */
export function downloadNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 255) return 'a file name is 1 to 255 characters long';
  if (/[/\\]/.test(name)) return 'a file name must not contain "/" or "\\"';
  if (/\p{Cc}/u.test(name)) return 'a file name must not contain control characters';
  if (name.startsWith('.')) return 'a file name must not start with "."';
  if (!/\.gguf$/i.test(name)) return 'a model file name must end in ".gguf"';
  return null;
}

function checkDownloadName(name: string, uri: string, origin: string): void {
  const problem = downloadNameProblem(name);
  if (problem !== null) {
    throw new AppError(
      'invalid-input',
      `Will not download ${uri} as ${JSON.stringify(name)} (${origin}): ${problem}. Name the file yourself ` +
        '(`clemplay pull URI --name NAME.gguf`, or `file_name` in the API).',
      { uri, file_name: name },
    );
  }
}

/** The file name a URL's path ends in (percent-decoded), or undefined when it has none. */
export function fileNameOfUrl(uri: string): string | undefined {
  let segment: string;
  try {
    segment = new URL(uri).pathname.split('/').at(-1) ?? '';
    segment = decodeURIComponent(segment);
  } catch {
    return undefined;
  }
  return segment === '' ? undefined : segment;
}

/**
 * Whether `name` can be downloaded into `directory`: `free` when nothing is there (or only this download's own
 * partial file, to resume), `present` when a complete file of that name is there (it is never replaced). Throws
 * `conflict` when the name is taken by something a download must not touch.
 */
async function claimTarget(directory: string, name: string, uri: string): Promise<'free' | 'present'> {
  const path = join(directory, name);
  const target = await lstat(path).catch(() => undefined);
  const partial = await lstat(`${path}${partialDownloadSuffix}`).catch(() => undefined);
  if (partial !== undefined && !partial.isFile()) {
    throw new AppError(
      'conflict',
      `Will not download ${uri}: ${path}${partialDownloadSuffix} is not a partial download clemplay made (it is not ` +
        'a plain file). Remove it, or name the file otherwise.',
      { uri, path },
    );
  }
  if (target === undefined) return 'free';
  if (partial !== undefined || target.isDirectory()) {
    throw new AppError(
      'conflict',
      `Will not download ${uri} to ${path}: something is already there, and a download never replaces a file. ` +
        'Move it away, or name the download otherwise.',
      { uri, path },
    );
  }
  return 'present';
}

function causeText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = 'code' in current && typeof current.code === 'string' ? ` (${current.code})` : '';
    parts.push(`${current.message}${code}`);
    current = current.cause;
  }
  return parts.join(': ') || String(error);
}

function hostOf(uri: string): string {
  if (uri.startsWith('hf:')) return 'huggingface.co';
  try {
    return new URL(uri).host;
  } catch {
    return uri;
  }
}

function offline(uri: string, error: unknown): AppError {
  return new AppError(
    'network',
    `Could not download ${uri}: cannot reach ${hostOf(uri)} (${causeText(error)}) — you seem to be offline, or ` +
      'the address is wrong. Nothing was downloaded.',
    { uri, cause: causeText(error) },
  );
}

function statusError(uri: string, status: number, detail: string): AppError {
  const details = { uri, status };
  if (status === 404 || status === 410) {
    return new AppError(
      'not-found',
      `Could not download ${uri}: the server says ${status} (no such file) — check the address.`,
      details,
    );
  }
  if (status === 401 || status === 403) {
    return new AppError(
      'auth',
      `Could not download ${uri}: the server says ${status} (not allowed) — gated Hugging Face models need ` +
        'HF_TOKEN set to a token that has accepted the model’s license.',
      details,
    );
  }
  const code: ErrorCode = status === 429 ? 'rate-limit' : 'network';
  return new AppError(code, `Could not download ${uri}: the server says ${status} (${detail}).`, details);
}

/** Maps what node-llama-cpp or its downloader (ipull) threw. */
function mapDownloadError(uri: string, error: unknown): AppError {
  if (error instanceof AppError) return error;
  const text = causeText(error);
  const status = /status code:?\s*(\d{3})/i.exec(text)?.[1];
  if (status !== undefined) return statusError(uri, Number(status), text);
  if (/fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ECONNRESET|socket|network/i.test(text)) {
    return offline(uri, error);
  }
  return new AppError('network', `Could not download ${uri}: ${text}`, { uri, cause: text });
}

/** Asks the server about a URL before the downloader starts, which would retry a dead address for minutes. */
async function probe(uri: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  if (!/^https?:/.test(uri)) return;
  const timeout = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(uri, {
      method: 'HEAD',
      redirect: 'follow',
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    });
  } catch (error) {
    if (signal?.aborted === true) throw cancelled(uri, 0, 0, undefined);
    if (timeout.aborted) {
      throw new AppError(
        'network',
        `Could not download ${uri}: ${hostOf(uri)} did not answer within ${timeoutMs / 1000} s — you may be offline.`,
        {
          uri,
        },
      );
    }
    throw offline(uri, error);
  }
  // Servers that do not answer HEAD (405, 501) may still serve the file.
  if (response.status >= 400 && response.status !== 405 && response.status !== 501) {
    throw statusError(uri, response.status, response.statusText);
  }
}

function cancelled(uri: string, downloaded: number, total: number, directory: string | undefined): AppError {
  const kept =
    downloaded > 0 && directory !== undefined
      ? `; ${formatBytes(downloaded)}${total > 0 ? ` of ${formatBytes(total)}` : ''} kept in ${directory} — run the same download again to resume`
      : '';
  return new AppError('aborted', `The download of ${uri} was cancelled${kept}.`, { uri, downloaded_bytes: downloaded });
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Finds an already downloaded copy of a URI in a folder without the network: node-llama-cpp's own resolver knows
 * the file names it gives `hf:` downloads; plain URLs keep their file name. A partial download does not count.
 */
export async function findDownloadedModel(
  nl: NodeLlamaCppModule,
  uri: string,
  directory: string,
): Promise<string | undefined> {
  try {
    return await nl.resolveModelFile(uri, { directory, download: false, cli: false });
  } catch {
    // Not there under the name node-llama-cpp would give it; plain URLs are tried below.
  }
  if (!/^https?:/.test(uri)) return undefined;
  const name = fileNameOfUrl(uri);
  if (name === undefined || downloadNameProblem(name) !== null) return undefined;
  const path = join(directory, name);
  if ((await fileSize(`${path}${partialDownloadSuffix}`)) !== undefined) return undefined;
  return (await fileSize(path)) === undefined ? undefined : path;
}

/** Waits for a promise unless one of the signals aborts first (then rejects with that signal's reason). */
function race<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

class Stalled extends Error {}

/** A function, so that TypeScript does not carry a narrowing of `signal.aborted` across awaits. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

async function alreadyPresent(request: DownloadRequest, path: string): Promise<DownloadResult> {
  const size = (await fileSize(path)) ?? 0;
  request.onProgress?.({ downloaded_bytes: size, total_bytes: size, fraction: 1, bytes_per_second: 0 });
  return { path, size_bytes: size, resumed_from_bytes: 0, already_present: true };
}

/**
 * Downloads a model with node-llama-cpp's downloader into `directory`, with progress, cancel (the partial file is
 * kept) and resume (a later call for the same URI continues it). Fails fast and says so when offline. The file is
 * named as {@link DownloadRequest.fileName} says, and an existing file is never replaced: a complete one of that
 * name counts as already downloaded. Throws `invalid-input` (a URI or name it will not use), `conflict` (the name is
 * taken), `not-found`, `auth`, `network` or `aborted`.
 */
export async function downloadModelFile(nl: NodeLlamaCppModule, request: DownloadRequest): Promise<DownloadResult> {
  const { uri, signal } = request;
  const directory = resolve(request.directory);
  checkModelUri(uri);
  // A URL names its file by its path; what a server's Content-Disposition says is not asked (".profile" was).
  const fileName = request.fileName ?? (/^https?:/.test(uri) ? fileNameOfUrl(uri) : undefined);
  if (fileName === undefined && /^https?:/.test(uri)) {
    throw new AppError(
      'invalid-input',
      `${uri} does not end in a file name; name the file (\`clemplay pull URI --name NAME.gguf\`, or \`file_name\`).`,
      { uri },
    );
  }
  if (fileName !== undefined) {
    checkDownloadName(fileName, uri, request.fileName === undefined ? 'the name in the URL' : 'the name asked for');
  }
  if (signal?.aborted === true) throw cancelled(uri, 0, 0, undefined);
  await mkdir(directory, { recursive: true });
  if (fileName !== undefined) {
    if ((await claimTarget(directory, fileName, uri)) === 'present') {
      return alreadyPresent(request, join(directory, fileName));
    }
  } else {
    const present = await findDownloadedModel(nl, uri, directory);
    if (present !== undefined) return alreadyPresent(request, present);
  }
  await probe(uri, request.connectTimeoutMs ?? defaultDownloadConnectTimeoutMs, signal);

  const stallTimeoutMs = request.stallTimeoutMs ?? defaultDownloadStallTimeoutMs;
  const stop = new AbortController();
  const onCallerAbort = (): void => stop.abort(signal?.reason);
  signal?.addEventListener('abort', onCallerAbort, { once: true });
  let stallTimer: NodeJS.Timeout | undefined;
  // The downloader may still report progress after this function is done (a late chunk, a cancelled connection);
  // that must neither re-arm the stall timer nor reach a caller who already has its answer.
  let finished = false;
  const armStallTimer = (): void => {
    clearTimeout(stallTimer);
    if (finished) return;
    stallTimer = setTimeout(() => stop.abort(new Stalled()), stallTimeoutMs);
    // A download in flight keeps the process alive by its sockets; this timer alone must not.
    stallTimer.unref();
  };
  let downloaded = 0;
  let total = 0;
  let lastFraction = -1;
  const report = (bytesPerSecond: number): void => {
    const fraction = total > 0 ? Math.min(1, downloaded / total) : 0;
    lastFraction = fraction;
    request.onProgress?.({
      downloaded_bytes: downloaded,
      total_bytes: total,
      fraction,
      bytes_per_second: bytesPerSecond,
    });
  };
  let downloader: ModelDownloader | undefined;
  armStallTimer();
  const creation = nl.createModelDownloader({
    modelUri: uri,
    dirPath: directory,
    ...(fileName === undefined ? {} : { fileName }),
    showCliProgress: false,
    deleteTempFileOnCancel: false,
    skipExisting: true,
    ...(process.env.HF_TOKEN ? { tokens: { huggingFace: process.env.HF_TOKEN } } : {}),
    onProgress: (status) => {
      if (finished) return;
      armStallTimer();
      downloaded = status.downloadedSize;
      total = status.totalSize;
      report(Number.isFinite(status.averageSpeed) ? Math.max(0, status.averageSpeed) : 0);
    },
  });
  try {
    try {
      downloader = await race(creation, stop.signal);
    } catch (error) {
      // A downloader made after we gave up must still let go of its connection.
      void creation.then((late) => late.cancel({ deleteTempFile: false })).catch(() => undefined);
      throw error;
    }
    // Only now are the names of `hf:` downloads (and of the parts of split files) known: the same rules hold.
    for (const file of downloader.filesInfo) {
      checkDownloadName(file.fileName, uri, 'the name the downloader chose');
      if (dirname(resolve(file.filePath)) !== directory) {
        throw new AppError('invalid-input', `Will not download ${uri} outside ${directory}.`, { uri });
      }
      if ((await claimTarget(directory, file.fileName, uri)) === 'free') continue;
      await downloader.cancel({ deleteTempFile: false }).catch(() => undefined);
      if (downloader.filesInfo.length === 1) return await alreadyPresent(request, join(directory, file.fileName));
      throw new AppError(
        'conflict',
        `Will not download ${uri}: part ${file.fileName} is already in ${directory}, and a download never replaces ` +
          'a file. Move the parts there away, or download into another folder.',
        { uri, path: join(directory, file.fileName) },
      );
    }
    const resumedFrom = downloader.downloadedSize;
    downloaded = resumedFrom;
    total = downloader.totalSize;
    armStallTimer();
    const path = await race(downloader.download({ signal: stop.signal }), stop.signal);
    // node-llama-cpp's download() resolves, rather than rejects, when it was cancelled.
    if (stop.signal.aborted) throw stop.signal.reason;
    const size = await fileSize(path);
    if (size === undefined || (downloader.totalSize > 0 && size !== downloader.totalSize)) {
      throw new AppError(
        'network',
        `The download of ${uri} ended early (${formatBytes(size ?? 0)} of ${formatBytes(downloader.totalSize)}) — run it again to resume.`,
        {
          uri,
        },
      );
    }
    // Progress may be sampled (and throttled further on); whoever shows it must see the download complete.
    if (lastFraction < 1) {
      downloaded = size;
      total = size;
      report(0);
    }
    return { path, size_bytes: size, resumed_from_bytes: resumedFrom, already_present: false };
  } catch (error) {
    if (downloader !== undefined && stop.signal.aborted)
      await downloader.cancel({ deleteTempFile: false }).catch(() => undefined);
    if (isAborted(signal)) throw cancelled(uri, downloaded, total, directory);
    if (error instanceof Stalled || stop.signal.reason instanceof Stalled) {
      throw new AppError(
        'network',
        `The download of ${uri} stalled: nothing arrived for ${stallTimeoutMs / 1000} s` +
          (downloaded > 0 ? `; ${formatBytes(downloaded)} kept — run it again to resume` : ' — you may be offline') +
          '.',
        { uri, downloaded_bytes: downloaded },
      );
    }
    throw mapDownloadError(uri, error);
  } finally {
    finished = true;
    clearTimeout(stallTimer);
    signal?.removeEventListener('abort', onCallerAbort);
  }
}
