import { homedir } from 'node:os';
import { join } from 'node:path';

import { z } from 'zod';

import { AppError } from '../../src-shared/errors.js';
import type { ApiKeyAnswer, ApiKeyRequest, BackendContext } from '../backends/types.js';
import { writeFileAtomic, type AtomicWriteOptions } from '../files/atomic-write.js';
import { withFileLock } from '../files/file-lock.js';
import { defaultConfigDir } from '../paths.js';
import { describeFileError, readJsonObjectFile } from './json-file.js';
import { readKeyJsonFiles, type KeyJsonEntry } from './key-json.js';
import { originOf, parseHttpUrl } from './trusted-origins.js';
import type { SecretVault } from './secret-vault.js';

/** Where a key was found: the OS key store, an environment variable, clemcore's key.json, or credentials.json. */
export type CredentialSource = 'safe-storage' | 'environment' | 'key-json' | 'config-file';

/** Whether a key is set for a backend (optionally for one base URL) and where it comes from; never the key itself. */
export interface CredentialStatus {
  backend: string;
  /** The base URL asked about, normalized (no trailing slash, credentials, query); absent: the backend-wide key. */
  baseUrl?: string;
  set: boolean;
  /** Which source answers; null when no key is set. */
  source: CredentialSource | null;
  /** Where in that source: the environment variable's name or the file's path; null when no key is set. */
  location: string | null;
  /** `…` and the key's last 4 characters (just `…` for keys shorter than 12); null when no key is set. */
  hint: string | null;
  /** Where {@link CredentialStore.set} puts keys in this process: encrypted by the OS, or the 0600 file. */
  storage: 'safe-storage' | 'config-file';
  /** Problems a person should fix (a broken key.json, a credentials file others can read); never key content. */
  warnings: string[];
}

/** What clemcore's key.json keeps beside a backend's key; each field absent where no key.json says. */
export interface BackendConnection {
  /** The server's API root, e.g. clemcore's `openai_compatible.base_url`. */
  baseUrl?: string;
  /** The OpenAI organization (clemcore spells the key `organisation`). */
  organization?: string;
}

/** Options of {@link CredentialStore}; each one defaults to the real process, tests inject them. */
export interface CredentialStoreOptions {
  /** The folder of credentials.json and credentials-vault.json; default {@link defaultConfigDir}. */
  configDir?: string;
  /** Environment variables; default `process.env`. */
  environment?: Readonly<Record<string, string | undefined>>;
  /** Where `./key.json` is looked for; null: nowhere (a packaged app has no working directory); default `process.cwd()`. */
  workingDirectory?: string | null;
  /** The home folder, for `~/.clemcore/key.json`; default `os.homedir()`. */
  homeDirectory?: string;
  /** The OS key store; the Electron app passes one, the CLI and the web host do not. */
  vault?: SecretVault;
  /** Backends that `status()` lists even with no key; default `openai`, `openai_compatible`. */
  knownBackends?: readonly string[];
  /**
   * Backends whose backend-wide keys belong to one server: such a key is sent only there, never to another
   * `base_url` a spec names (which a registry in the working directory could). Default: openai → api.openai.com.
   */
  homeBaseUrls?: Readonly<Record<string, string>>;
  /** The platform, for the file-mode check (meaningless on Windows); default `process.platform`. */
  platform?: NodeJS.Platform;
  /** Passed to every {@link writeFileAtomic}: tests use it to simulate a crash before the rename. */
  beforeRename?: AtomicWriteOptions['beforeRename'];
}

/** File names in the config folder. */
export const credentialsFileName = 'credentials.json';
export const vaultFileName = 'credentials-vault.json';

/** Keys shorter than this get no last-4 hint: four characters would give away too much of them. */
const minimumHintedKeyLength = 12;
const maximumKeyLength = 16_384;
const backendNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

const storedBaseUrlSchema = z.string().min(1).optional();
const plainFileSchema = z.object({
  version: z.literal(1),
  keys: z.array(z.object({ backend: z.string().min(1), base_url: storedBaseUrlSchema, api_key: z.string().min(1) })),
});
const vaultFileSchema = z.object({
  version: z.literal(1),
  keys: z.array(
    z.object({ backend: z.string().min(1), base_url: storedBaseUrlSchema, encrypted_api_key: z.base64().min(1) }),
  ),
});
type PlainFile = z.infer<typeof plainFileSchema>;
type VaultFile = z.infer<typeof vaultFileSchema>;
type StoredFile = PlainFile | VaultFile;

type StoredFileResult<File extends StoredFile> =
  { status: 'missing' } | { status: 'ok'; file: File; mode: number } | { status: 'broken'; error: AppError };

/** One key some source holds. */
interface FoundKey {
  backend: string;
  /** Normalized; undefined: the backend-wide key. */
  baseUrl: string | undefined;
  apiKey: string;
  source: CredentialSource;
  location: string;
  /**
   * A key.json entry carries its own `base_url`: the key belongs to that server, and also answers a request that
   * names no server, since the backend then takes the server from {@link CredentialStore.getConnection}.
   */
  answersWithoutBaseUrl: boolean;
}

/** Everything the files hold, read once per call so that edits made outside clemplay count at once. */
interface Snapshot {
  vaultKeys: FoundKey[];
  plainKeys: FoundKey[];
  keyJson: KeyJsonEntry[];
  /** Errors that stop a source from being read; `backend` set when only that backend's key is affected. */
  problems: Array<{ error: AppError; backend?: string }>;
  warnings: string[];
}

/** The environment variable read for a backend: `<BACKEND>_API_KEY`, upper case, non-alphanumerics as `_`. */
export function environmentVariableFor(backend: string): string {
  return `${backend.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_API_KEY`;
}

/** A base URL as keys are filed under it: http(s) only, no credentials, query, fragment or trailing slash. */
export function normalizeBaseUrl(url: string): string {
  const trimmed = url.trim();
  try {
    const parsed = new URL(trimmed);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`.replace(/\/+$/, '');
  } catch {
    return trimmed.replace(/\/+$/, '');
  }
}

/** What a status may show of a key: `…` and its last 4 characters, or only `…` when it is short. */
export function keyHint(key: string): string {
  return key.length >= minimumHintedKeyLength ? `…${key.slice(-4)}` : '…';
}

function checkBackendName(backend: string): void {
  if (!backendNamePattern.test(backend)) {
    throw new AppError(
      'invalid-input',
      // Not quoted: whatever was typed there (a key pasted into the wrong field?) stays out of the message.
      'A backend name is 1 to 100 letters, digits, "_", "." or "-", starting with a letter or digit.',
    );
  }
}

function checkBaseUrl(baseUrl: string): string {
  if (parseHttpUrl(baseUrl) === undefined) {
    throw new AppError(
      'invalid-input',
      'The base URL must be an http:// or https:// URL, such as http://127.0.0.1:8080/v1.',
    );
  }
  return normalizeBaseUrl(baseUrl);
}

/** Trims a key and checks it can go into an HTTP header; the messages never quote it. */
function checkKey(key: string): string {
  const trimmed = key.trim();
  if (trimmed === '') throw new AppError('invalid-input', 'The API key is empty; to remove a key, clear it instead.');
  if (trimmed.length > maximumKeyLength) {
    throw new AppError(
      'invalid-input',
      `The API key is longer than ${maximumKeyLength} characters; is it the right text?`,
    );
  }
  // A line break would split the Authorization header; other whitespace means a paste went wrong.
  if (/[\s\p{Cc}]/u.test(trimmed)) {
    throw new AppError(
      'invalid-input',
      'The API key contains spaces, line breaks or control characters; paste only the key itself.',
    );
  }
  return trimmed;
}

function sameSlot(
  entry: { backend: string; base_url?: string | undefined },
  backend: string,
  baseUrl: string | undefined,
): boolean {
  return entry.backend === backend && normalizeBaseUrlOrUndefined(entry.base_url) === baseUrl;
}

function normalizeBaseUrlOrUndefined(baseUrl: string | undefined): string | undefined {
  return baseUrl === undefined ? undefined : normalizeBaseUrl(baseUrl);
}

function describeSchemaProblem(error: z.ZodError, path: string, what: string): AppError {
  const issue = error.issues[0];
  const keyPath = issue === undefined ? '' : issue.path.map((segment) => String(segment)).join('.');
  // Zod's messages name expected types and values, never the input, so they are safe to show.
  const reason = issue?.message ?? 'unexpected content';
  return new AppError(
    'invalid-input',
    `The ${what} ${path} is not in the expected form${keyPath === '' ? '' : ` at ${keyPath}`}: ${reason}. ` +
      'Fix it there, or remove the file and set the keys again.',
    { path, key_path: keyPath },
  );
}

/**
 * API keys per backend name, optionally per base URL. Lookup order (the first that has a key wins):
 *
 * 1. a key filed for the exact base URL asked about, in the OS key store, a key.json entry whose `base_url` is that
 *    URL, then credentials.json;
 * 2. the backend-wide key: the OS key store (Electron only), the environment variable, key.json in the working
 *    directory then `~/.clemcore/`, then credentials.json in the config folder.
 *
 * `set` writes to the OS key store when there is one, else to credentials.json (mode 0600). Nothing this class
 * returns or throws contains a key, apart from {@link get}'s result.
 */
export class CredentialStore {
  readonly configDir: string;
  private readonly environment: Readonly<Record<string, string | undefined>>;
  private readonly keyJsonPaths: readonly string[];
  private readonly vault: SecretVault | undefined;
  private readonly knownBackends: readonly string[];
  private readonly homeBaseUrls: Readonly<Record<string, string>>;
  private readonly platform: NodeJS.Platform;
  private readonly beforeRename: AtomicWriteOptions['beforeRename'];
  /** Writes run one at a time: each is a read-modify-write of a whole file. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(options: CredentialStoreOptions = {}) {
    this.environment = options.environment ?? process.env;
    this.configDir = options.configDir ?? defaultConfigDir(this.environment);
    const workingDirectory = options.workingDirectory === undefined ? process.cwd() : options.workingDirectory;
    const homeDirectory = options.homeDirectory ?? homedir();
    this.keyJsonPaths = [
      ...(workingDirectory === null ? [] : [join(workingDirectory, 'key.json')]),
      join(homeDirectory, '.clemcore', 'key.json'),
    ];
    this.vault = options.vault;
    this.knownBackends = options.knownBackends ?? ['openai', 'openai_compatible'];
    this.homeBaseUrls = options.homeBaseUrls ?? { openai: 'https://api.openai.com/v1' };
    this.platform = options.platform ?? process.platform;
    this.beforeRename = options.beforeRename;
  }

  /** The plain-text key file (mode 0600). */
  get credentialsPath(): string {
    return join(this.configDir, credentialsFileName);
  }

  /** The file of keys encrypted by the OS key store. */
  get vaultPath(): string {
    return join(this.configDir, vaultFileName);
  }

  private vaultAvailable(): boolean {
    try {
      return this.vault?.isAvailable() === true;
    } catch {
      return false;
    }
  }

  /**
   * The key for `backend` (and `baseUrl`), or undefined when no source has one, as if the server were trusted (see
   * {@link resolveKey}). Throws `invalid-input` naming the file when none has one and some source could not be
   * read: the key may well be in that file.
   */
  async get(backend: string, baseUrl?: string): Promise<string | undefined> {
    const snapshot = await this.readSnapshot(backend);
    const found = this.find(snapshot, backend, baseUrl, true);
    if (found.key !== undefined) return found.key.apiKey;
    return this.answerWithoutKey(snapshot, backend);
  }

  /**
   * The key to send to a server: one filed for that base URL, else one filed for its origin, else the backend-wide
   * key — but the last only when `originTrusted` (else `withheld` says one was held back). Throws like {@link get}.
   */
  async resolveKey(request: ApiKeyRequest): Promise<ApiKeyAnswer> {
    const snapshot = await this.readSnapshot(request.backend);
    const found = this.find(snapshot, request.backend, request.baseUrl, request.originTrusted);
    if (found.key !== undefined) return { apiKey: found.key.apiKey };
    if (found.withheld)
      return { apiKey: undefined, withheld: { origin: originOf(request.baseUrl) ?? request.baseUrl } };
    return { apiKey: this.answerWithoutKey(snapshot, request.backend) };
  }

  /** No key: undefined, unless a source that might hold it could not be read (then that is the answer). */
  private answerWithoutKey(snapshot: Snapshot, backend: string): undefined {
    const problem = snapshot.problems.find((entry) => entry.backend === undefined || entry.backend === backend);
    if (problem !== undefined) throw problem.error;
    return undefined;
  }

  /**
   * The `base_url` and organization clemcore's key.json keeps for `backend`, each from the first key.json that has
   * it (working directory first). Unreadable key.json files are skipped here; `status` reports them.
   */
  async getConnection(backend: string): Promise<BackendConnection> {
    const { entries } = await readKeyJsonFiles(this.keyJsonPaths);
    const connection: BackendConnection = {};
    for (const entry of entries) {
      if (entry.backend !== backend) continue;
      if (connection.baseUrl === undefined && entry.baseUrl !== undefined) connection.baseUrl = entry.baseUrl;
      if (connection.organization === undefined && entry.organization !== undefined) {
        connection.organization = entry.organization;
      }
    }
    return connection;
  }

  /**
   * Stores a key for `backend` (for `baseUrl` only, when given): in the OS key store where there is one (and then
   * updates a plain-text copy of the same slot, which the CLI uses), else in credentials.json with mode 0600.
   * Returns the new status.
   */
  async set(backend: string, key: string, baseUrl?: string): Promise<CredentialStatus> {
    checkBackendName(backend);
    const apiKey = checkKey(key);
    const slotBaseUrl = baseUrl === undefined ? undefined : checkBaseUrl(baseUrl);
    await this.exclusive(async () => {
      const entry = { backend, ...(slotBaseUrl === undefined ? {} : { base_url: slotBaseUrl }) };
      if (this.vaultAvailable()) {
        let encrypted: string;
        try {
          encrypted = this.vault!.encrypt(apiKey).toString('base64');
        } catch {
          throw new AppError('internal', 'The OS key store could not encrypt the key; nothing was saved.', { backend });
        }
        await this.updateVaultFile((keys) => [
          ...keys.filter((stored) => !sameSlot(stored, backend, slotBaseUrl)),
          { ...entry, encrypted_api_key: encrypted },
        ]);
        // The CLI and the web host share this config folder and cannot read the OS key store: a plain-text copy
        // the person keeps for them gets the new key too, so that they do not go on with the old one.
        await this.updatePlainFile((keys) =>
          keys.some((stored) => sameSlot(stored, backend, slotBaseUrl))
            ? keys.map((stored) => (sameSlot(stored, backend, slotBaseUrl) ? { ...stored, api_key: apiKey } : stored))
            : undefined,
        );
      } else {
        await this.updatePlainFile((keys) => [
          ...keys.filter((stored) => !sameSlot(stored, backend, slotBaseUrl)),
          { ...entry, api_key: apiKey },
        ]);
      }
    });
    return this.status(backend, slotBaseUrl);
  }

  /**
   * Removes the key clemplay stored for `backend` (and `baseUrl`) from the OS key store and credentials.json.
   * Environment variables and key.json are not clemplay's to change: the returned status says when one still
   * supplies a key.
   */
  async clear(backend: string, baseUrl?: string): Promise<CredentialStatus> {
    checkBackendName(backend);
    const slotBaseUrl = baseUrl === undefined ? undefined : normalizeBaseUrl(baseUrl);
    await this.exclusive(async () => {
      const remove = <Entry extends { backend: string; base_url?: string | undefined }>(
        keys: Entry[],
      ): Entry[] | undefined =>
        keys.some((stored) => sameSlot(stored, backend, slotBaseUrl))
          ? keys.filter((stored) => !sameSlot(stored, backend, slotBaseUrl))
          : undefined;
      // Both files are tried even when one fails, so that a broken one does not keep the key in the other.
      const outcomes = await Promise.allSettled([this.updateVaultFile(remove), this.updatePlainFile(remove)]);
      for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    });
    return this.status(backend, slotBaseUrl);
  }

  /** Whether a key is set for `backend` (and `baseUrl`) and where from. Never throws for unreadable files. */
  status(backend: string, baseUrl?: string): Promise<CredentialStatus>;
  /** The status of every backend clemplay knows and every slot some source holds a key for. */
  status(): Promise<CredentialStatus[]>;
  async status(backend?: string, baseUrl?: string): Promise<CredentialStatus | CredentialStatus[]> {
    const snapshot = await this.readSnapshot(backend);
    if (backend !== undefined) return this.describe(snapshot, backend, baseUrl);
    const slots = new Map<string, { backend: string; baseUrl: string | undefined }>();
    const addSlot = (slotBackend: string, slotBaseUrl: string | undefined): void => {
      slots.set(`${slotBackend}\u0000${slotBaseUrl ?? ''}`, { backend: slotBackend, baseUrl: slotBaseUrl });
    };
    for (const known of this.knownBackends) addSlot(known, undefined);
    const others = [
      ...snapshot.vaultKeys,
      ...snapshot.plainKeys,
      ...snapshot.keyJson
        .filter((entry) => entry.apiKey !== undefined)
        .map((entry) => ({ backend: entry.backend, baseUrl: undefined })),
    ].sort((left, right) =>
      left.backend === right.backend
        ? (left.baseUrl ?? '').localeCompare(right.baseUrl ?? '')
        : left.backend.localeCompare(right.backend),
    );
    for (const key of others) addSlot(key.backend, key.baseUrl);
    return [...slots.values()].map((slot) => this.describe(snapshot, slot.backend, slot.baseUrl));
  }

  private describe(snapshot: Snapshot, backend: string, baseUrl: string | undefined): CredentialStatus {
    const found = this.find(snapshot, backend, baseUrl, true).key;
    const warnings = [
      ...snapshot.problems
        .filter((problem) => problem.backend === undefined || problem.backend === backend)
        .map((problem) => problem.error.message),
      ...snapshot.warnings,
    ];
    if (this.vault !== undefined && !this.vaultAvailable()) {
      warnings.push(
        `Keys are saved in ${this.credentialsPath} (mode 0600), not encrypted: ${this.vault.unavailableReason()}.`,
      );
    }
    const status: CredentialStatus = {
      backend,
      set: found !== undefined,
      source: found?.source ?? null,
      location: found?.location ?? null,
      hint: found === undefined ? null : keyHint(found.apiKey),
      storage: this.vaultAvailable() ? 'safe-storage' : 'config-file',
      warnings,
    };
    if (baseUrl !== undefined) status.baseUrl = normalizeBaseUrl(baseUrl);
    return status;
  }

  /**
   * The key that answers `backend` at `baseUrl`: filed for that base URL, for its origin, then backend-wide (the
   * last only at a trusted origin, else `withheld`).
   */
  private find(
    snapshot: Snapshot,
    backend: string,
    baseUrl: string | undefined,
    originTrusted: boolean,
  ): { key: FoundKey | undefined; withheld: boolean } {
    const environmentVariable = environmentVariableFor(backend);
    const environmentValue = this.environment[environmentVariable]?.trim();
    const candidates: FoundKey[] = [
      ...snapshot.vaultKeys,
      ...(environmentValue
        ? [
            {
              backend,
              baseUrl: undefined,
              apiKey: environmentValue,
              source: 'environment' as const,
              location: environmentVariable,
              answersWithoutBaseUrl: true,
            },
          ]
        : []),
      ...snapshot.keyJson.flatMap((entry): FoundKey[] =>
        entry.apiKey === undefined
          ? []
          : [
              {
                backend: entry.backend,
                baseUrl: normalizeBaseUrlOrUndefined(entry.baseUrl),
                apiKey: entry.apiKey,
                source: 'key-json',
                location: entry.path,
                answersWithoutBaseUrl: true,
              },
            ],
      ),
      ...snapshot.plainKeys,
    ].filter((candidate) => candidate.backend === backend);
    if (baseUrl !== undefined) {
      const wanted = normalizeBaseUrl(baseUrl);
      const origin = originOf(wanted);
      const specific =
        candidates.find((candidate) => candidate.baseUrl === wanted) ??
        candidates.find((candidate) => origin !== undefined && candidate.baseUrl === origin);
      if (specific !== undefined) return { key: specific, withheld: false };
      // A key filed for another server must never be sent to this one; a backend-wide one only to a trusted origin.
      const backendWide = candidates.find((candidate) => candidate.baseUrl === undefined);
      if (backendWide === undefined) return { key: undefined, withheld: false };
      if (!originTrusted) return { key: undefined, withheld: true };
      // A backend-wide OpenAI key goes to OpenAI only: a spec pointing the openai backend elsewhere needs its own.
      const home = this.homeBaseUrls[backend];
      if (home !== undefined && normalizeBaseUrl(home) !== wanted) return { key: undefined, withheld: false };
      return { key: backendWide, withheld: false };
    }
    return {
      key: candidates.find((candidate) => candidate.baseUrl === undefined || candidate.answersWithoutBaseUrl),
      withheld: false,
    };
  }

  /** Reads every source; keys in the OS key store are decrypted only for `onlyBackend`, when given. */
  private async readSnapshot(onlyBackend?: string): Promise<Snapshot> {
    const snapshot: Snapshot = { vaultKeys: [], plainKeys: [], keyJson: [], problems: [], warnings: [] };

    const vaultResult = await this.readStoredFile(this.vaultPath, vaultFileSchema, 'encrypted key file');
    if (vaultResult.status === 'broken') snapshot.problems.push({ error: vaultResult.error });
    else if (vaultResult.status === 'ok') {
      if (!this.vaultAvailable()) {
        if (vaultResult.file.keys.length > 0) {
          snapshot.warnings.push(
            `The keys in ${this.vaultPath} are encrypted by the desktop app's OS key store, which this process ` +
              'cannot use; set the key here (or in an environment variable) to use it.',
          );
        }
      } else {
        for (const stored of vaultResult.file.keys) {
          // Decrypting can make the OS ask the person (macOS keychain): only for keys this call needs.
          if (onlyBackend !== undefined && stored.backend !== onlyBackend) continue;
          try {
            const apiKey = this.vault!.decrypt(Buffer.from(stored.encrypted_api_key, 'base64'));
            snapshot.vaultKeys.push({
              backend: stored.backend,
              baseUrl: normalizeBaseUrlOrUndefined(stored.base_url),
              apiKey,
              source: 'safe-storage',
              location: this.vaultPath,
              answersWithoutBaseUrl: false,
            });
          } catch {
            snapshot.problems.push({
              backend: stored.backend,
              error: new AppError(
                'auth',
                `The stored key for backend ${stored.backend} could not be decrypted by the OS key store ` +
                  '(was it saved by another user or on another machine?). Set the key again.',
                { backend: stored.backend },
              ),
            });
          }
        }
      }
    }

    const keyJson = await readKeyJsonFiles(this.keyJsonPaths);
    snapshot.keyJson = keyJson.entries;
    snapshot.problems.push(...keyJson.problems.map((error) => ({ error })));

    const plainResult = await this.readStoredFile(this.credentialsPath, plainFileSchema, 'credentials file');
    if (plainResult.status === 'broken') snapshot.problems.push({ error: plainResult.error });
    else if (plainResult.status === 'ok') {
      if (this.platform !== 'win32' && (plainResult.mode & 0o077) !== 0) {
        const mode = (plainResult.mode & 0o777).toString(8).padStart(4, '0');
        snapshot.warnings.push(
          `The credentials file ${this.credentialsPath} can be read by other users (mode ${mode}); ` +
            `run "chmod 600 ${this.credentialsPath}". clemplay makes it 0600 at its next change.`,
        );
      }
      for (const stored of plainResult.file.keys) {
        snapshot.plainKeys.push({
          backend: stored.backend,
          baseUrl: normalizeBaseUrlOrUndefined(stored.base_url),
          apiKey: stored.api_key.trim(),
          source: 'config-file',
          location: this.credentialsPath,
          answersWithoutBaseUrl: false,
        });
      }
    }
    return snapshot;
  }

  private async readStoredFile<File extends StoredFile>(
    path: string,
    schema: z.ZodType<File>,
    what: string,
  ): Promise<StoredFileResult<File>> {
    const result = await readJsonObjectFile(path, what);
    if (result.status !== 'ok') return result;
    const parsed = schema.safeParse(result.value);
    if (!parsed.success) return { status: 'broken', error: describeSchemaProblem(parsed.error, path, what) };
    return { status: 'ok', file: parsed.data, mode: result.mode };
  }

  private updateVaultFile(change: (keys: VaultFile['keys']) => VaultFile['keys'] | undefined): Promise<void> {
    return this.updateStoredFile(this.vaultPath, vaultFileSchema, 'encrypted key file', change);
  }

  private updatePlainFile(change: (keys: PlainFile['keys']) => PlainFile['keys'] | undefined): Promise<void> {
    return this.updateStoredFile(this.credentialsPath, plainFileSchema, 'credentials file', change);
  }

  /**
   * Read-modify-write of one key file under its cross-process lock (another process setting a key at the same time
   * must not drop this one); `change` returns undefined when there is nothing to write.
   */
  private updateStoredFile<File extends StoredFile>(
    path: string,
    schema: z.ZodType<File>,
    what: string,
    change: (keys: File['keys']) => File['keys'] | undefined,
  ): Promise<void> {
    return withFileLock(path, () => this.updateStoredFileNow(path, schema, what, change)).catch((error: unknown) => {
      // Taking the lock or writing the file can fail (a config folder that is a file, a full disk): said from the errno.
      if (error instanceof AppError) throw error;
      throw new AppError('internal', `Could not write the ${what} ${path}: ${describeFileError(error)}.`, { path });
    });
  }

  private async updateStoredFileNow<File extends StoredFile>(
    path: string,
    schema: z.ZodType<File>,
    what: string,
    change: (keys: File['keys']) => File['keys'] | undefined,
  ): Promise<void> {
    const current = await this.readStoredFile(path, schema, what);
    if (current.status === 'broken') {
      // Overwriting it would lose whatever else the person kept there.
      throw new AppError('invalid-input', `Nothing was changed. ${current.error.message}`, current.error.details);
    }
    const keys = change(current.status === 'ok' ? current.file.keys : []);
    if (keys === undefined) return;
    // A fresh temp file with mode 0600 replaces the old one, which also repairs a file others could read. A failure
    // is said by updateStoredFile, from its errno.
    await writeFileAtomic(path, `${JSON.stringify({ version: 1, keys }, null, 2)}\n`, {
      mode: 0o600,
      beforeRename: this.beforeRename,
    });
  }

  private exclusive<Result>(task: () => Promise<Result>): Promise<Result> {
    const run = this.writing.then(task, task);
    this.writing = run.catch(() => undefined);
    return run;
  }
}

/** The `getApiKey` of a {@link BackendContext}, answered by `store`. */
export function createBackendKeyResolver(store: CredentialStore): BackendContext['getApiKey'] {
  return (request) => store.resolveKey(request);
}
