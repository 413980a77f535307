import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { lazyCrypto } from './lazy-crypto.js';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode (e.g. 0o600 for secrets); default: the replaced file's mode, or 0o644 for a new file. */
  mode?: number;
  /** Keep the previous version as `<file>.bak` (itself replaced atomically) before replacing it; default false. */
  backup?: boolean;
  /** Called after the temp file is complete and synced, before the rename: tests use it to simulate a crash. */
  beforeRename?: (temporaryPath: string) => Promise<void>;
}

/**
 * Temp files are `.<name>.<pid>.<random>.tmp` beside their target: the process id says who owns one, so that
 * {@link removeStaleTempFiles} can tell the leftovers of a dead process from a write in flight.
 */
const temporaryNamePattern = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${lazyCrypto().randomBytes(6).toString('hex')}.tmp`);
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFolder(directory: string): Promise<void> {
  const folder = await open(directory, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/**
 * Replaces `<path>.bak` with a copy of `path` the same way files are written: a complete, synced temp copy renamed
 * over it, so a crash leaves the old backup or the new one, never a cut one. Nothing to back up is not an error.
 */
async function writeBackup(path: string): Promise<void> {
  const temporaryPath = temporaryPathFor(`${path}.bak`);
  try {
    await copyFile(path, temporaryPath);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    await syncFile(temporaryPath);
    await rename(temporaryPath, `${path}.bak`);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

/**
 * Writes a file so that readers see the old or the new content, never a mix, even if the process dies midway:
 * write a temp file in the same folder, fsync it, rename it over the target, fsync the folder. Writers in other
 * processes are not excluded: wrap read–check–write in {@link withFileLock} for that.
 */
export async function writeFileAtomic(path: string, content: string, options: AtomicWriteOptions = {}): Promise<void> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const temporaryPath = temporaryPathFor(path);
  // A user who made their file private (0600) keeps it private when we replace it.
  const mode =
    options.mode ??
    (await stat(path).then(
      (info) => info.mode & 0o777,
      () => 0o644,
    ));
  const handle = await open(temporaryPath, 'wx', mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporaryPath, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await options.beforeRename?.(temporaryPath);
    if (options.backup) await writeBackup(path);
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
  await syncFolder(directory);
}

/** Whether a process with this id runs now (one of another user counts: it exists, we may not signal it). */
function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files {@link writeFileAtomic} left in `directory` when its process died mid-write: those of a
 * target `isOurs` accepts (a file name such as `settings.json`, or `model_registry.json.bak` for a backup's) whose
 * owner process no longer runs. A temp file of a live process (a write in flight) is left alone. Returns the paths
 * removed; a missing folder has none.
 */
export async function removeStaleTempFiles(
  directory: string,
  isOurs: (targetName: string) => boolean,
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = temporaryNamePattern.exec(name);
    if (match === null || !isOurs(match[1]!)) continue;
    const owner = Number(match[2]);
    if (owner === process.pid || processIsAlive(owner)) continue;
    const path = join(directory, name);
    await rm(path, { force: true });
    removed.push(path);
  }
  return removed;
}
