// `npm start`: build, then open the Electron app; without an Electron binary, serve the same UI in a browser.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectronBinary } from './electron-binary.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (build.status !== 0) process.exit(build.status ?? 1);

const extra = process.argv.slice(2);
const electron = findElectronBinary();
let child;
if (electron !== null) {
  child = spawn(electron, [root, ...extra], { cwd: root, stdio: 'inherit' });
} else {
  process.stdout.write(
    'clemplay: the Electron binary is not installed (it cannot be downloaded here), so the same UI is served through the web host instead; open the URL below in a browser.\n',
  );
  child = spawn(process.execPath, [join(root, 'bin', 'clemplay.mjs'), 'serve', ...extra], {
    cwd: root,
    stdio: 'inherit',
  });
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
