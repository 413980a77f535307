#!/usr/bin/env node
// The CLI runs the built main-process code (out/main), which `npm install` builds through the `prepare` script.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// A version check (scripts run it often) is answered from package.json without loading the CLI at all.
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-v')) {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${manifest.version}\n`);
  process.exit(0);
}

const cli = fileURLToPath(new URL('../out/main/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('clemplay is not built yet: run `npm install` (or `npm run build`) in the clemplay folder.\n');
  process.exit(1);
}
// `clemplay models | head` closes the pipe early; that is the reader's choice, not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
const { runCli } = await import(pathToFileURL(cli).href);
process.exitCode = await runCli(process.argv);
// Leave now rather than when the event loop empties: Node would first wait for V8 to finish compiling in the
// background what ran hot (tens of milliseconds after `resolve --queries`). Output still being written is waited for.
if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit();
