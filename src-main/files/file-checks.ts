import { access, stat } from 'node:fs/promises';

/** Whether a path leads to a regular file (a symbolic link is followed); false when it does not exist. */
export function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isFile(),
    () => false,
  );
}

/** Whether something exists at a path (a symbolic link is followed). */
export function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
