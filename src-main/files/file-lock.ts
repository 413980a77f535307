import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AppError } from '../../src-shared/errors.js';

/** Options of {@link withFileLock}. */
export interface FileLockOptions {
  /** Milliseconds to wait for a lock another process holds before giving up with `conflict`; default 10000. */
  waitMs?: number;
  /**
   * Milliseconds after which a lock nobody refreshed counts as abandoned (its process died) and is taken over;
   * default 10000. The holder refreshes it every half of this.
   */
  staleMs?: number;
}

/** Default of {@link FileLockOptions.waitMs}. */
export const defaultLockWaitMs = 10_000;
/** Default of {@link FileLockOptions.staleMs}. */
export const defaultLockStaleMs = 10_000;

/** The tail of the queue of callers in this process, per file: a process never contends with itself on disk. */
const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` while holding the lock of `path`, which every clemplay process and every caller in this one respects:
 * put read–check–write–rename of a file the user edits inside it, and no acknowledged write is lost to a writer
 * that read the file before it changed. The lock is a folder `<path>.lock` (proper-lockfile); `path` need not
 * exist, its folder is created. Throws `conflict` when another process holds the lock for longer than `waitMs`, or
 * when the lock was lost while `work` ran (this process stalled past `staleMs`): what `work` wrote then may be
 * overwritten, so it is not reported as done.
 */
export function withFileLock<Result>(
  path: string,
  work: () => Promise<Result>,
  options: FileLockOptions = {},
): Promise<Result> {
  const key = resolve(path);
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(
    () => lockedRun(key, work, options),
    () => lockedRun(key, work, options),
  );
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

async function lockedRun<Result>(path: string, work: () => Promise<Result>, options: FileLockOptions): Promise<Result> {
  const waitMs = options.waitMs ?? defaultLockWaitMs;
  const staleMs = options.staleMs ?? defaultLockStaleMs;
  await mkdir(dirname(path), { recursive: true });
  // Loaded on the first lock, not with this module: commands that only read the registry never take one.
  const { lock } = await import('proper-lockfile');
  let compromised: Error | undefined;
  const deadline = performance.now() + waitMs;
  let pause = 5;
  let release: () => Promise<void>;
  for (;;) {
    try {
      release = await lock(path, {
        realpath: false,
        stale: staleMs,
        retries: 0,
        // The default throws from a timer, which would end the process that owns every window.
        onCompromised: (error) => {
          compromised = error;
        },
      });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      if (performance.now() >= deadline) {
        throw new AppError(
          'conflict',
          `${path} is being changed by another clemplay process, which has held it for over ${waitMs / 1000} s; ` +
            'nothing was written — try again.',
          { path },
        );
      }
      await delay(pause);
      pause = Math.min(pause * 2, 100);
    }
  }
  try {
    const result = await work();
    if (compromised !== undefined) throw lostLock(path);
    return result;
  } finally {
    await release().catch(() => undefined);
  }
}

function lostLock(path: string): AppError {
  return new AppError(
    'conflict',
    `The lock on ${path} was lost while it was being written (this process stalled too long), so another process ` +
      'may have changed it at the same time; reload it and check that your change is there.',
    { path },
  );
}
