import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode (e.g. 0o600 for secrets); default: the replaced file's mode, or 0o644 for a new file. */
  mode?: number;
  /** Keep the previous version as `<file>.bak` before replacing it; default false. */
  backup?: boolean;
  /** Called after the temp file is complete and synced, before the rename: tests use it to simulate a crash. */
  beforeRename?: (temporaryPath: string) => Promise<void>;
}

/**
 * Writes a file so that readers see the old or the new content, never a mix, even if the process dies midway:
 * write a temp file in the same folder, fsync it, rename it over the target, fsync the folder.
 */
export async function writeFileAtomic(path: string, content: string, options: AtomicWriteOptions = {}): Promise<void> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const temporaryPath = join(directory, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
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
    if (options.backup) {
      await copyFile(path, `${path}.bak`).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
  const folder = await open(directory, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
