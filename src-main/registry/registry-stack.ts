import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AppError } from '../../src-shared/errors.js';
import type { JsonObject } from '../../src-shared/json.js';
import { explain, type Explanation } from '../../src-shared/spec/explain.js';
import { redactSecretFields, secretFieldPaths } from '../../src-shared/secrets.js';
import { parseQuery } from '../../src-shared/spec/parse-query.js';
import {
  lookup,
  lookupFinalSpec,
  type LookupSuccess,
  type NoMatchError,
  type Provenance,
} from '../../src-shared/spec/lookup.js';
import {
  createRegistryIndex,
  LazilyTaggedEntry,
  type RegistryIndex,
  type SourcedEntry,
} from '../../src-shared/spec/registry-index.js';
import { writeFileAtomic, type AtomicWriteOptions } from '../files/atomic-write.js';
import { withFileLock } from '../files/file-lock.js';
import {
  formatRegistry,
  hashText,
  readRegistryFile,
  registryEntryProblem,
  type RegistryFileContent,
  type RegistryFileProblem,
} from './registry-file.js';

/** Where a registry file sits in the stack (DESIGN.md, "Registry stack"). */
export type RegistryRole = 'working-directory' | 'user' | 'official' | 'explicit';

/** One file of the stack, highest priority first. */
export interface RegistryFileSpec {
  path: string;
  role: RegistryRole;
}

/** The load state of one file of the stack, as `registry.files` reports it. */
export interface RegistryFileStatus {
  path: string;
  role: RegistryRole;
  /** The `lookup_source` its entries are tagged with: `official`, or the file's path. */
  lookupSource: string;
  /** Whether edits may be written to it (never the official file). */
  writable: boolean;
  /** ok, missing (an optional file that does not exist), or error (the last good version, if any, is in use). */
  status: 'ok' | 'missing' | 'error';
  /** Entries in use from this file. */
  entryCount: number;
  /** The version stamp (sha256 of the text) of the entries in use; a save naming another is refused. */
  version: string | null;
  /** What is wrong with the file on disk, when status is error. */
  problem?: RegistryFileProblem;
  /** True when the file is broken on disk and its last good version is still in use. */
  usingLastGood: boolean;
  /** Things to fix that do not stop the file from loading, such as an entry holding what looks like a key. */
  warnings: string[];
}

/** One entry as listed: the entry as written in its file, and where it is. */
export interface ListedEntry {
  entry: JsonObject;
  /** Position of the entry in its file, from 0. */
  index: number;
  file: string;
  role: RegistryRole;
  lookupSource: string;
}

/** A resolved query: the spec, the entry it came from, and key-by-key provenance. */
export interface Resolution {
  /** The resolved spec, user-facing form (what a backend gets). */
  spec: JsonObject;
  /** The matching entry's file and position; null when the query named a backend and was used as it is. */
  source: { file: string; index: number; lookupSource: string; role: RegistryRole } | null;
  provenance: Provenance;
}

/** What {@link RegistryStack.save} writes: a new entry (no index) or a replacement of the entry at `index`. */
export interface SaveRequest {
  /** The file the entry is in (for updates) or goes to (for new entries); default: the user registry. */
  file?: string;
  /** The entry's position in `file`; absent for a new entry. */
  index?: number;
  entry: JsonObject;
  /** The file version the caller edited; the save is refused with `conflict` when the file has changed since. */
  version?: string;
}

/** Something changed in the stack: which file, and why. */
export interface RegistryChange {
  file: string;
  reason: 'external-edit' | 'saved' | 'reloaded';
}

interface LoadedFile {
  spec: RegistryFileSpec;
  lookupSource: string;
  /** What was on disk at the last read. */
  disk: RegistryFileContent;
  /** The last version that parsed and validated, kept in use while the file on disk is broken. */
  good: GoodVersion | null;
}

/** A version of a file that parsed and validated: its content as read (the `hash` made when first read), and more. */
type GoodVersion = Extract<RegistryFileContent, { status: 'ok' }> & {
  /** The entries as shown outside (secret-named fields' text redacted), made when first asked for. */
  shown?: JsonObject[];
  /** One warning per entry holding what looks like a key, made when first asked for. */
  secretWarnings?: string[];
};

/** `official` for the shipped registry, else the file's absolute path (clemcore tags entries the same way). */
function lookupSourceOf(spec: RegistryFileSpec): string {
  return spec.role === 'official' ? 'official' : spec.path;
}

/**
 * The registry files of one process, highest priority first: loading with last-good fallback, lookup, editing
 * with atomic writes and conflict detection, and watching for external edits.
 */
export class RegistryStack {
  private readonly loaded: LoadedFile[];
  private indexCache: RegistryIndex | null = null;
  private readonly listeners = new Set<(change: RegistryChange) => void>();
  /** Folder watchers by folder, while {@link watch} is on. */
  private readonly watchers = new Map<string, FSWatcher>();
  /** The reload delay after a change, or null when not watching. */
  private watchDebounceMs: number | null = null;
  private readonly pendingReloads = new Map<string, ReturnType<typeof setTimeout>>();
  /** The tail of the queue that runs edits and reloads one at a time (see {@link exclusive}). */
  private queue: Promise<unknown> = Promise.resolve();
  /** Test hook for crash simulation; see AtomicWriteOptions.beforeRename. */
  beforeRename: AtomicWriteOptions['beforeRename'];

  private constructor(specs: readonly RegistryFileSpec[]) {
    this.loaded = specs.map((spec) => {
      const normalized = { ...spec, path: resolve(spec.path) };
      return { spec: normalized, lookupSource: lookupSourceOf(normalized), disk: { status: 'missing' }, good: null };
    });
  }

  /** Reads every file of the stack; a broken file is reported in `files()` and does not stop the others. */
  static async open(specs: readonly RegistryFileSpec[]): Promise<RegistryStack> {
    const stack = new RegistryStack(specs);
    await Promise.all(stack.loaded.map((file) => stack.readInto(file)));
    return stack;
  }

  /**
   * Runs edits and reloads one at a time: two saves in flight at once would otherwise both start from the same
   * entries and the second rename would silently drop the first edit; a watcher reload racing a save would report
   * the app's own write as an external edit.
   */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Reads a file into the stack; true when what is in use or the file's load status changed. */
  private async readInto(file: LoadedFile): Promise<boolean> {
    const disk = await readRegistryFile(file.spec.path);
    const before = loadState(file);
    file.disk = disk;
    // The content itself, not a copy: spreading it would work out its version stamp (a getter) at once.
    if (disk.status === 'ok') file.good = disk;
    if (disk.status === 'missing') file.good = null;
    this.indexCache = null;
    return !sameLoadState(loadState(file), before);
  }

  /**
   * The entries of a file as they may be shown (API, CLI, the app): with the text of fields such as `api_key` replaced
   * by `[redacted]`, so a key someone typed into a registry file is not spread further. Computed once per version.
   */
  private shownEntries(file: LoadedFile): JsonObject[] {
    const good = file.good;
    if (good === null) return [];
    good.shown ??= good.entries.map((entry, index) =>
      good.secretFields.has(index) ? redactSecretFields(entry) : entry,
    );
    return good.shown;
  }

  /** Warnings about entries of a file that hold what looks like a key (they load; keys belong in Settings). */
  private secretWarnings(file: LoadedFile): string[] {
    const good = file.good;
    if (good === null) return [];
    good.secretWarnings ??= [...good.secretFields].map(
      ([index, paths]) => `${file.spec.path}: entry ${index}: ${secretAdvice(paths)}`,
    );
    return good.secretWarnings;
  }

  files(): RegistryFileStatus[] {
    return this.loaded.map((file) => ({
      path: file.spec.path,
      role: file.spec.role,
      lookupSource: file.lookupSource,
      writable: file.spec.role !== 'official',
      status: file.disk.status,
      entryCount: file.good?.entries.length ?? 0,
      // Hashed when first read: the CLI reads a file's warnings and problems, never its version.
      get version(): string | null {
        return file.good?.hash ?? null;
      },
      ...(file.disk.status === 'error' ? { problem: file.disk.problem } : {}),
      usingLastGood: file.disk.status === 'error' && file.good !== null,
      warnings: this.secretWarnings(file),
    }));
  }

  /** The problems of files that failed to load (their last good version, if any, is in use). */
  problems(): RegistryFileProblem[] {
    return this.loaded.flatMap((file) => (file.disk.status === 'error' ? [file.disk.problem] : []));
  }

  /** Every entry in stack order, as written in its file (secret text redacted, see {@link shownEntries}). */
  entries(): ListedEntry[] {
    return this.loaded.flatMap((file) =>
      this.shownEntries(file).map((entry, index) => ({
        entry,
        index,
        file: file.spec.path,
        role: file.spec.role,
        lookupSource: file.lookupSource,
      })),
    );
  }

  get(file: string, index: number): ListedEntry {
    const loaded = this.find(file);
    const entry = this.shownEntries(loaded)[index];
    if (entry === undefined) throw new AppError('not-found', `${loaded.spec.path} has no entry ${index}`);
    return { entry, index, file: loaded.spec.path, role: loaded.spec.role, lookupSource: loaded.lookupSource };
  }

  /** The lookup index over all entries in priority order, rebuilt only after a change. */
  index(): RegistryIndex {
    if (this.indexCache === null) {
      const sourced: SourcedEntry[] = this.loaded.flatMap((file) =>
        (file.good?.entries ?? []).map(
          (entry, index) => new LazilyTaggedEntry(entry, file.spec.path, file.lookupSource, index),
        ),
      );
      this.indexCache = createRegistryIndex(sourced);
    }
    return this.indexCache;
  }

  /** Resolves a query (a name, a JSON string or an object); errors are `invalid-spec` or `no-match`. */
  resolve(query: string | JsonObject): Resolution {
    const result = this.lookup(query);
    const match = result.match;
    return {
      // Backends never read a spec's `api_key` (keys come from the key store), so nothing needs the text.
      spec: redactSecretFields(result.finalSpec),
      source:
        match === null
          ? null
          : {
              file: match.file,
              index: match.index,
              lookupSource: match.lookupSource,
              role: this.roleOf(match.file),
            },
      provenance: result.provenance,
    };
  }

  /** The resolved spec alone, for batches: what {@link resolve} gives as `spec`, without working out its provenance. */
  resolveSpec(query: string | JsonObject): JsonObject {
    const given = parsed(query);
    const { finalSpec, match } = succeeded(lookupFinalSpec(given, this.index()));
    // A secret-named field comes from the query or from the entry (a variable's value is text in the entry too), and
    // the stack knows its entries' since they loaded: so only the query is walked, not every result.
    const withoutSecrets = match !== null && !this.holdsSecretFields(match) && secretFieldPaths(given).length === 0;
    return withoutSecrets ? finalSpec : redactSecretFields(finalSpec);
  }

  /** Whether an entry of the index has secret-named fields holding text (unknown files count as having some). */
  private holdsSecretFields(sourced: SourcedEntry): boolean {
    return this.loadedAt(sourced.file)?.good?.secretFields.has(sourced.index) ?? true;
  }

  private lookup(query: string | JsonObject): LookupSuccess {
    return succeeded(lookup(parsed(query), this.index()));
  }

  explain(query: string | JsonObject): Explanation {
    // Entries, the result and conflicting values all appear in it: redact the whole, which is plain JSON.
    const explanation = explain(parsed(query), this.index()) as unknown as JsonObject;
    return redactSecretFields(explanation) as unknown as Explanation;
  }

  onChange(listener: (change: RegistryChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(change: RegistryChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (error) {
        // One broken listener (a closed client) must not stop the others or fail the save that notified.
        process.stderr.write(`clemplay: a registry change listener failed: ${String(error)}\n`);
      }
    }
  }

  /** The role of a file of the stack by its absolute path (as the index names it): hot, so no path resolution. */
  private roleOf(absolutePath: string): RegistryRole {
    return (this.loadedAt(absolutePath) ?? this.find(absolutePath)).spec.role;
  }

  /** The file of the stack at an absolute path (as the index names files), if there is one. */
  private loadedAt(absolutePath: string): LoadedFile | undefined {
    return this.loaded.find((file) => file.spec.path === absolutePath);
  }

  private find(path: string): LoadedFile {
    const file = this.loadedAt(resolve(path));
    if (file === undefined) throw new AppError('not-found', `${path} is not a registry file of this stack`);
    return file;
  }

  /** The file new entries and overrides of official entries go to: the user registry, else the first writable one. */
  private defaultTarget(): LoadedFile {
    const target =
      this.loaded.find((file) => file.spec.role === 'user') ??
      this.loaded.find((file) => file.spec.role !== 'official');
    if (target === undefined) throw new AppError('invalid-input', 'no writable registry file in the stack');
    return target;
  }

  /**
   * Applies an edit to a file's entries and writes it, unless the file changed on disk since it was read (or since
   * the version the caller edited): then nothing is written and the error is `conflict`. The check and the write
   * happen under the file's cross-process lock, so another clemplay process cannot write in between.
   */
  private edit<T>(file: LoadedFile, version: string | undefined, change: (entries: JsonObject[]) => T): Promise<T> {
    return this.exclusive(() => withFileLock(file.spec.path, () => this.editNow(file, version, change)));
  }

  private async editNow<T>(
    file: LoadedFile,
    version: string | undefined,
    change: (entries: JsonObject[]) => T,
  ): Promise<T> {
    if (file.spec.role === 'official') {
      throw new AppError('invalid-input', 'the official registry is read-only; edits go to the user registry');
    }
    const known = file.good?.hash ?? null;
    if (version !== undefined && version !== known) {
      throw new AppError('conflict', `${file.spec.path} changed since you opened it; reload and apply your edit again`);
    }
    const onDisk = await readRegistryFile(file.spec.path, { forEditing: true });
    const diskHash = onDisk.status === 'missing' ? null : onDisk.hash;
    if (diskHash !== known || onDisk.status === 'error') {
      await this.readInto(file);
      this.notify({ file: file.spec.path, reason: 'external-edit' });
      throw new AppError(
        'conflict',
        onDisk.status === 'error'
          ? `${file.spec.path} is broken on disk (${onDisk.problem.message}); fix it before saving to it`
          : `${file.spec.path} was changed by someone else since it was read; nothing was written — reload and try again`,
      );
    }
    const entries = [...(file.good?.entries ?? [])];
    const result = change(entries);
    const text = formatRegistry(entries, file.good?.singleObject ?? false);
    const testHook = this.beforeRename;
    try {
      await writeFileAtomic(file.spec.path, text, {
        backup: true,
        beforeRename: async (temporaryPath) => {
          await testHook?.(temporaryPath);
          // The last moment to notice another writer (an editor saving while the temp file was written): renaming
          // now would drop their edit without a trace.
          if ((await diskHashOf(file.spec.path)) !== known) throw new ReplacedDuringWrite();
        },
      });
    } catch (error) {
      if (!(error instanceof ReplacedDuringWrite)) throw error;
      await this.readInto(file);
      this.notify({ file: file.spec.path, reason: 'external-edit' });
      throw new AppError(
        'conflict',
        `${file.spec.path} was changed by someone else while it was being saved; nothing was written — reload and try again`,
      );
    }
    await this.readInto(file);
    // The write may have created the file's folder (a first save to the user registry): watch it from now on.
    this.watchFolders();
    this.notify({ file: file.spec.path, reason: 'saved' });
    return result;
  }

  /** Creates or replaces an entry; an edit of an official entry becomes an override at the top of the user registry. */
  async save(request: SaveRequest): Promise<{ file: string; index: number }> {
    const problem = registryEntryProblem(request.entry);
    if (problem !== null) throw new AppError('invalid-spec', problem);
    const secrets = secretFieldPaths(request.entry);
    if (secrets.length > 0) throw new AppError('invalid-spec', `The entry was not saved: ${secretAdvice(secrets)}`);
    const named = request.file === undefined ? this.defaultTarget() : this.find(request.file);
    if (named.spec.role === 'official') {
      // Overrides go first: a later catch-all entry in the user registry must not shadow them.
      const target = this.defaultTarget();
      await this.edit(target, undefined, (entries) => entries.unshift(request.entry));
      return { file: target.spec.path, index: 0 };
    }
    const at = request.index;
    if (at === undefined) {
      const index = await this.edit(named, request.version, (entries) => entries.push(request.entry) - 1);
      return { file: named.spec.path, index };
    }
    await this.edit(named, request.version, (entries) => {
      if (at >= entries.length) throw new AppError('not-found', `${named.spec.path} has no entry ${at}`);
      entries[at] = request.entry;
    });
    return { file: named.spec.path, index: at };
  }

  /** Copies an entry to just below itself (an official entry: to the top of the user registry). */
  async duplicate(file: string, index: number, version?: string): Promise<{ file: string; index: number }> {
    const source = this.get(file, index);
    if (source.role === 'official') return this.save({ entry: source.entry, file });
    const target = this.find(file);
    // Copy what the file holds when the edit runs (not what get() saw): an earlier queued edit may have changed it.
    await this.edit(target, version, (entries) => {
      const entry = entries[index];
      if (entry === undefined) throw new AppError('not-found', `${file} has no entry ${index}`);
      entries.splice(index + 1, 0, entry);
    });
    return { file: target.spec.path, index: index + 1 };
  }

  async remove(file: string, index: number, version?: string): Promise<void> {
    const target = this.find(file);
    await this.edit(target, version, (entries) => {
      if (index < 0 || index >= entries.length) throw new AppError('not-found', `${file} has no entry ${index}`);
      entries.splice(index, 1);
    });
  }

  /** Moves an entry one place up or down in its file: order decides which entry a query matches first. */
  async move(file: string, index: number, direction: 'up' | 'down', version?: string): Promise<{ index: number }> {
    const target = this.find(file);
    const to = direction === 'up' ? index - 1 : index + 1;
    await this.edit(target, version, (entries) => {
      if (index < 0 || index >= entries.length) throw new AppError('not-found', `${file} has no entry ${index}`);
      if (to < 0 || to >= entries.length)
        throw new AppError('invalid-input', `entry ${index} cannot move ${direction}`);
      const [moved] = entries.splice(index, 1);
      entries.splice(to, 0, moved as JsonObject);
    });
    return { index: to };
  }

  /** Re-reads one file (or all) from disk and notifies when what is in use changed. */
  async reload(path?: string): Promise<void> {
    const files = path === undefined ? this.loaded : [this.find(path)];
    for (const file of files) {
      if (await this.exclusive(() => this.readInto(file))) {
        this.notify({ file: file.spec.path, reason: 'external-edit' });
      }
    }
  }

  /**
   * Watches the folders of the stack's files (a file may not exist yet, and editors replace files by rename), and
   * reloads a file shortly after it changes: editors write in several steps.
   */
  watch(debounceMs = 75): void {
    this.watchDebounceMs = debounceMs;
    this.watchFolders();
  }

  /** Starts watching every folder of the stack not watched yet; a folder that does not exist yet is tried again later. */
  private watchFolders(): void {
    const debounceMs = this.watchDebounceMs;
    if (debounceMs === null) return;
    const byFolder = new Map<string, LoadedFile[]>();
    for (const file of this.loaded) {
      const folder = dirname(file.spec.path);
      byFolder.set(folder, [...(byFolder.get(folder) ?? []), file]);
    }
    for (const [folder, files] of byFolder) {
      if (this.watchers.has(folder)) continue;
      try {
        const watcher = watch(folder, (_event, name) => {
          for (const file of files) {
            if (name !== null && name !== basename(file.spec.path)) continue;
            clearTimeout(this.pendingReloads.get(file.spec.path));
            this.pendingReloads.set(
              file.spec.path,
              setTimeout(() => {
                this.pendingReloads.delete(file.spec.path);
                this.reload(file.spec.path).catch((error: unknown) => {
                  process.stderr.write(`clemplay: reloading ${file.spec.path} failed: ${String(error)}\n`);
                });
              }, debounceMs),
            );
          }
        });
        watcher.on('error', () => {
          watcher.close();
          this.watchers.delete(folder);
        });
        this.watchers.set(folder, watcher);
      } catch {
        // The folder does not exist yet (no user registry so far); the first save creates it and watches it then.
      }
    }
  }

  close(): void {
    this.watchDebounceMs = null;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    for (const timer of this.pendingReloads.values()) clearTimeout(timer);
    this.pendingReloads.clear();
    this.listeners.clear();
  }
}

/** What to do about entry fields that hold what looks like a key. */
function secretAdvice(paths: readonly string[]): string {
  const fields = paths.map((path) => `"${path}"`).join(', ');
  return (
    `${fields} looks like an API key or password, and keys never live in registry files (they get shared and ` +
    'committed). Remove it from the entry and set the key in Settings → API keys, or in <BACKEND>_API_KEY.'
  );
}

/** The version stamp of a file as it is on disk now (null when absent); only hashed, not parsed: this is hot. */
async function diskHashOf(path: string): Promise<string | null> {
  try {
    return hashText(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Thrown inside an atomic write when the file changed after the conflict check; becomes a `conflict` error. */
class ReplacedDuringWrite extends Error {}

/** What a reload compares to decide whether anything changed: the load status, the version in use, the problem. */
interface LoadState {
  status: RegistryFileContent['status'];
  good: GoodVersion | null;
  problem: string;
}

function loadState(file: LoadedFile): LoadState {
  return {
    status: file.disk.status,
    good: file.good,
    problem: file.disk.status === 'error' ? file.disk.problem.message : '',
  };
}

/** Whether two load states are the same; versions are hashed only when both exist (a first read hashes nothing). */
function sameLoadState(left: LoadState, right: LoadState): boolean {
  if (left.status !== right.status || left.problem !== right.problem) return false;
  if (left.good === null || right.good === null) return left.good === right.good;
  return left.good === right.good || left.good.hash === right.good.hash;
}

/** A lookup's success, or its no-match error thrown as the `no-match` AppError. */
function succeeded<Success extends { ok: true }>(result: Success | { ok: false; error: NoMatchError }): Success {
  if (result.ok) return result;
  throw new AppError('no-match', result.error.message, {
    nearest: result.error.nearest,
    suggestion: result.error.suggestion,
  });
}

function parsed(query: string | JsonObject): JsonObject {
  const result = parseQuery(query);
  if (!result.ok) {
    throw new AppError('invalid-spec', result.error.message, { line: result.error.line, column: result.error.column });
  }
  return result.query;
}

/** The file name of the working-directory and user registries. */
export const registryFileName = 'model_registry.json';

/** Options of {@link defaultRegistryFiles}. */
export interface RegistryLocations {
  /** The working directory (its `model_registry.json` comes first); null: none. */
  cwd: string | null;
  /** The user's registry folder (Electron userData, or the CLI's config dir). */
  userDir: string;
  /** The official registry shipped with the app. */
  officialPath: string;
  /** `--registry FILE` options: when given, exactly these files, in this order. */
  explicit?: readonly string[];
}

/** The stack of DESIGN.md: ./model_registry.json, the user's registry, the official one — or exactly `--registry`. */
export function defaultRegistryFiles(locations: RegistryLocations): RegistryFileSpec[] {
  if (locations.explicit !== undefined && locations.explicit.length > 0) {
    return locations.explicit.map((path) => ({
      path,
      role: resolve(path) === resolve(locations.officialPath) ? 'official' : 'explicit',
    }));
  }
  const official = resolve(locations.officialPath);
  const user = resolve(locations.userDir, registryFileName);
  const workingDirectory = locations.cwd === null ? null : resolve(locations.cwd, registryFileName);
  // Run from the app's registry/ folder or from the config folder, two roles name one file: list it once, in its
  // most protected role, so the official file never becomes writable and no entry is listed twice.
  return [
    ...(workingDirectory !== null && workingDirectory !== user && workingDirectory !== official
      ? [{ path: workingDirectory, role: 'working-directory' as const }]
      : []),
    ...(user !== official ? [{ path: user, role: 'user' as const }] : []),
    { path: official, role: 'official' },
  ];
}

/** Options of {@link openRegistryStack}. */
export interface RegistryStackOptions {
  /** The folder that holds the official registry/model_registry.json. */
  appRoot: string;
  /** The working directory, whose model_registry.json tops the stack; null where there is none (a packaged app). */
  cwd: string | null;
  /** The folder of the user's registry (the config folder, or Electron's userData). */
  configDir: string;
  /** `--registry FILE` options: replace the stack with exactly these files. */
  registryFiles?: readonly string[];
}

/** Opens the stack of a process: the app, the CLI and the web host all call this. */
export function openRegistryStack(options: RegistryStackOptions): Promise<RegistryStack> {
  return RegistryStack.open(
    defaultRegistryFiles({
      cwd: options.cwd,
      userDir: options.configDir,
      officialPath: join(options.appRoot, 'registry', 'model_registry.json'),
      ...(options.registryFiles ? { explicit: options.registryFiles } : {}),
    }),
  );
}
