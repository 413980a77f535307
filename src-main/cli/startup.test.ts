import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findAppRoot } from '../paths.js';

// Start-up cost is what a command loads (main.ts, "Start-up rule"). These run the real entry point on the build with
// a module hook that records every module Node resolves, and look at what came in: packages by their folder in
// node_modules, our own code by the source files bundled into each loaded chunk of out/main (the bundler marks each
// with a `// src-…/file.ts` line).

const root = findAppRoot();
const bin = join(root, 'bin', 'clemplay.mjs');
const folder = mkdtempSync(join(tmpdir(), 'clemplay-startup-'));
const hook = join(folder, 'record-modules.mjs');
writeFileSync(
  hook,
  [
    "import { appendFileSync } from 'node:fs';",
    "import { register } from 'node:module';",
    '// Node built-ins never pass through a resolve hook once loaded by require(): their list is read at exit.',
    "process.on('exit', () => {",
    "  const builtins = process.moduleLoadList.filter((name) => name.startsWith('NativeModule '));",
    "  appendFileSync(process.env.CLEMPLAY_MODULE_LOG, builtins.map((name) => 'builtin:' + name.slice(13) + '\\n').join(''));",
    '});',
    'const hooks = `',
    "import { appendFileSync } from 'node:fs';",
    'export async function resolve(specifier, context, next) {',
    '  const resolved = await next(specifier, context);',
    '  appendFileSync(process.env.CLEMPLAY_MODULE_LOG, resolved.url + "\\\\n");',
    '  return resolved;',
    '}`;',
    "register('data:text/javascript,' + encodeURIComponent(hooks));",
    '',
  ].join('\n'),
);

/** What one CLI run loaded: package names from node_modules, our source files, and Node's built-in modules. */
function loadedBy(...args: string[]): {
  status: number | null;
  stderr: string;
  packages: Set<string>;
  sources: Set<string>;
  builtins: Set<string>;
} {
  const log = join(folder, `modules-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(log, '');
  const result = spawnSync(process.execPath, ['--import', hook, bin, ...args], {
    // A folder without a model_registry.json and an empty config folder: the stack is the official registry.
    cwd: folder,
    env: { ...process.env, CLEMPLAY_MODULE_LOG: log, XDG_CONFIG_HOME: join(folder, 'config') },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const packages = new Set<string>();
  const sources = new Set<string>();
  const builtins = new Set<string>();
  for (const url of new Set(readFileSync(log, 'utf8').split('\n'))) {
    if (url.startsWith('builtin:')) builtins.add(url.slice('builtin:'.length));
    if (!url.startsWith('file:')) continue;
    const path = fileURLToPath(url);
    const inPackage = /[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)/.exec(path);
    if (inPackage?.[1] !== undefined) packages.add(inPackage[1].replace('\\', '/'));
    else if (path.startsWith(join(root, 'out', 'main'))) {
      for (const marker of readFileSync(path, 'utf8').matchAll(/^\/\/ (src-(?:main|shared)\/\S+\.ts)$/gm)) {
        if (marker[1] !== undefined) sources.add(marker[1]);
      }
    }
  }
  return { status: result.status, stderr: result.stderr, packages, sources, builtins };
}

/** What only commands that run models, serve or write files may load. */
const heavyPackages = ['@trpc/server', 'ws', 'openai', 'node-llama-cpp', 'zod', 'proper-lockfile'];
const heavySources = /^src-main\/(host|api|backends|llama|chat|chats|credentials)\/|^src-main\/services\.ts$/;

describe('what a command loads', () => {
  const queries = join(folder, 'queries.txt');
  writeFileSync(queries, 'gpt-4o\n{"model_name": "gpt-4o-mini"}\n');
  const light: string[][] = [
    ['--version'],
    ['--help'],
    ['help'],
    ['resolve', 'gpt-4o', '--json'],
    ['resolve', '--queries', queries],
    ['resolve', 'gpt-4o', '--explain'],
    ['models'],
    ['resolve', '--help'],
  ];

  it.each(light.map((args) => [args.join(' '), args] as const))(
    'clemplay %s loads no server, SDK, native module, schema library or node:crypto',
    (_title, args) => {
      const run = loadedBy(...args);
      expect(run.stderr).not.toMatch(/error/i);
      expect(run.status).toBe(0);
      expect(heavyPackages.filter((name) => run.packages.has(name))).toEqual([]);
      expect([...run.sources].filter((source) => heavySources.test(source))).toEqual([]);
      // Loading node:crypto sets up OpenSSL: only a command that hashes or writes may (registry files load it lazily).
      expect(run.builtins.has('crypto')).toBe(false);
      expect(run.builtins).toContain('fs');
      if (args[0] === 'resolve' || args[0] === 'models') {
        // The markers are there to read: a build that dropped them would make this test pass for nothing.
        expect(run.sources).toContain('src-main/registry/registry-stack.ts');
      }
    },
  );

  it('a command that serves does load the server (so the recording sees what it must catch)', () => {
    const run = loadedBy('serve', '--help');
    expect(run.status).toBe(0);
    expect(run.packages).toContain('ws');
    expect(run.packages).toContain('@trpc/server');
    expect(run.sources).toContain('src-main/host/web-host.ts');
    expect(run.builtins).toContain('crypto');
  });
});
