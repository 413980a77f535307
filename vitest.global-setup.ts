import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// The CLI tests run `node bin/clemplay.mjs`, which loads the build in out/. A build older than the sources would test
// old code (and pass or fail for the wrong reasons), so rebuild first when any source is newer. `npm test` builds
// before the unit tests, so there this finds nothing to do.
const root = import.meta.dirname;
const sources = ['src-main', 'src-shared', 'src-renderer'];
const built = join(root, 'out', 'main', 'cli.js');

function newestModification(path: string): number {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(info.mtimeMs, ...readdirSync(path).map((name) => newestModification(join(path, name))));
}

export default function setup(): void {
  const newestSource = Math.max(
    ...sources.map((folder) => newestModification(join(root, folder))),
    statSync(join(root, 'electron.vite.config.ts')).mtimeMs,
  );
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource) return;
  const build = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (build.status !== 0) throw new Error('the build the CLI tests run on failed (npx electron-vite build)');
}
