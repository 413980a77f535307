import { homedir } from 'node:os';
import { join } from 'node:path';
import type { BackendContext } from './backends/types.js';
import { HumanInputHub } from './conversation/human-input-hub.js';
import { SessionEngine } from './conversation/session-engine.js';
import { SessionStore } from './conversation/session-store.js';
import { GameRuns } from './games/game-runs.js';
import { VoteStore } from './conversation/vote-store.js';
import {
  createBackendKeyResolver,
  CredentialStore,
  credentialsFileName,
  vaultFileName,
} from './credentials/credential-store.js';
import type { SecretVault } from './credentials/secret-vault.js';
import { createLocalModelService, defaultModelsDirs, type LocalModelService } from './llama/service.js';
import { ThreadCalibrator, threadCalibrationPath } from './llama/thread-calibration.js';
import { ModelServer } from './openai-api/model-server.js';
import { defaultConfigDir, defaultDataDir, findAppRoot, readAppVersion } from './paths.js';
import { openRegistryStack, registryFileName, type RegistryStack } from './registry/registry-stack.js';
import { TrustedOrigins } from './credentials/trusted-origins.js';
import { removeStaleTempFiles } from './files/atomic-write.js';
import { SettingsStore, settingsFileName, type Settings } from './settings/settings-store.js';

/** Everything the API needs, made once per process and shared by both transports, the CLI and tests. */
export interface AppServices {
  /** The app's version (package.json). */
  readonly version: string;
  /** The folder that holds registry/, out/ and package.json. */
  readonly appRoot: string;
  /** Where settings, the user registry and credentials live. */
  readonly configDir: string;
  /** Where chats, downloaded models and results live. */
  readonly dataDir: string;
  /** Game results in clembench's layout: `<data>/results`. */
  readonly resultsDir: string;
  /** The registry files, their entries and lookups. */
  readonly registry: RegistryStack;
  /** API keys: the OS key store (Electron), environment variables, clemcore's key.json, a 0600 file. */
  readonly credentials: CredentialStore;
  /** Conversations (Chat, Pair, dialogues): sessions in this process, saved as they go. */
  readonly sessions: SessionEngine;
  /** Blind votes of Pair, and the leaderboard computed from them. */
  readonly votes: VoteStore;
  /** Questions of the human backend waiting for a person's answer. */
  readonly humanInput: HumanInputHub;
  /** Game runs in this process (the Games page): started, watched, stopped and resumed by id; results in resultsDir. */
  readonly games: GameRuns;
  /** Local GGUF models: runtime, model manager, GPU info (node-llama-cpp loads on first use). */
  readonly localModels: LocalModelService;
  /** settings.json in the config folder (models folders, trusted origins). */
  readonly settings: SettingsStore;
  /** The origins the user trusts with backend-wide API keys. */
  readonly trustedOrigins: TrustedOrigins;
  /** What backends get besides the spec. */
  readonly backendContext: BackendContext;
  /** The OpenAI-compatible API serving the registry's models to other apps (`clemplay api`, Settings). */
  readonly modelServer: ModelServer;
  /** Stops watchers and frees what the services hold. */
  dispose(): Promise<void>;
}

/** Where a process keeps a person's files, as `app.info` and `clemplay folders` report them. */
export interface FolderReport {
  /** settings.json, the user registry, credentials. */
  config: string;
  /** chats/, and by default models/ and results/. */
  data: string;
  /** The models folders in use; downloads go to the first. */
  models: string[];
  /** Game results. */
  results: string;
}

/** The folders `services` uses right now (the models folders can change while it runs). */
export function foldersOf(services: AppServices): FolderReport {
  return {
    config: services.configDir,
    data: services.dataDir,
    models: [...services.localModels.modelsDirs],
    results: services.resultsDir,
  };
}

/** Options of {@link createAppServices}; every field has a default for a normal CLI or web-host run. */
export interface AppServicesOptions {
  appRoot?: string;
  /**
   * The working directory, whose model_registry.json tops the stack, whose key.json is read, where a relative
   * `model_path` is looked up first; null: none (a packaged app, started from a launcher in `/`). Default
   * process.cwd().
   */
  cwd?: string | null;
  /** Default: the config folder of `appFolders()` (paths.ts). */
  configDir?: string;
  /** Default: the data folder of `appFolders()` (paths.ts). */
  dataDir?: string;
  /** `--registry FILE` options: replace the stack with exactly these files. */
  registryFiles?: readonly string[];
  /** Watch registry files and reload on external edits (the app and web host do; one-shot CLI commands don't). */
  watch?: boolean;
  /** Environment variables for API keys; default process.env. */
  environment?: Readonly<Record<string, string | undefined>>;
  /** The home folder, for clemcore's ~/.clemcore/key.json; default the user's. */
  homeDirectory?: string;
  /** The OS key store (Electron's safeStorage); the CLI and web host have none. */
  vault?: SecretVault;
  /** Models folders; default: CLEMPLAY_MODELS_DIRS (a path list), else the saved setting, else <dataDir>/models. */
  modelsDirs?: string[];
}

/** The saved settings; a broken settings file is reported and the defaults are used meanwhile. */
async function savedSettings(settings: SettingsStore): Promise<Settings> {
  try {
    return await settings.read();
  } catch (error) {
    process.stderr.write(`warning: ${(error as Error).message}\n`);
    return {};
  }
}

/**
 * The models folders in effect, the same for the app, the CLI and the web host: CLEMPLAY_MODELS_DIRS (a one-off run)
 * wins over settings.json's `models_dirs`, which wins over `<data>/models`.
 */
export async function effectiveModelsDirs(
  configDir: string,
  dataDir: string,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): Promise<string[]> {
  const saved = environment.CLEMPLAY_MODELS_DIRS
    ? undefined
    : (await savedSettings(new SettingsStore(configDir))).models_dirs;
  return saved ?? defaultModelsDirs(dataDir, environment);
}

/**
 * Removes what writers that died mid-save left behind (temp files of processes that no longer run) beside the files
 * clemplay writes; a folder that cannot be cleaned is reported and left as it is.
 */
async function removeLeftovers(configDir: string, dataDir: string, cwd: string | null): Promise<void> {
  const configFiles = new Set([registryFileName, credentialsFileName, vaultFileName, settingsFileName]);
  const ofConfig = (name: string): boolean => configFiles.has(name.replace(/\.bak$/, ''));
  const cleanups: [string, (name: string) => boolean][] = [
    [configDir, ofConfig],
    [join(dataDir, 'sessions'), (name) => name.endsWith('.json')],
    [dataDir, (name) => name === 'votes.json'],
    ...(cwd === null
      ? []
      : [
          [cwd, (name: string) => name.replace(/\.bak$/, '') === registryFileName] as [
            string,
            (name: string) => boolean,
          ],
        ]),
  ];
  await Promise.all(
    cleanups.map(([folder, isOurs]) =>
      removeStaleTempFiles(folder, isOurs).catch((error: unknown) => {
        process.stderr.write(`warning: could not clean up temp files in ${folder}: ${String(error)}\n`);
      }),
    ),
  );
}

export async function createAppServices(options: AppServicesOptions = {}): Promise<AppServices> {
  const appRoot = options.appRoot ?? findAppRoot();
  const configDir = options.configDir ?? defaultConfigDir();
  const dataDir = options.dataDir ?? defaultDataDir();
  const cwd = options.cwd === undefined ? process.cwd() : options.cwd;
  await removeLeftovers(configDir, dataDir, cwd);
  const registry = await openRegistryStack({
    appRoot,
    cwd,
    configDir,
    ...(options.registryFiles ? { registryFiles: options.registryFiles } : {}),
  });
  if (options.watch) registry.watch();
  const credentials = new CredentialStore({
    configDir,
    workingDirectory: cwd,
    ...(options.environment ? { environment: options.environment } : {}),
    ...(options.homeDirectory ? { homeDirectory: options.homeDirectory } : {}),
    ...(options.vault ? { vault: options.vault } : {}),
  });
  const humanInput = new HumanInputHub();
  const settings = new SettingsStore(configDir);
  const trustedOrigins = new TrustedOrigins({
    registry,
    settings,
    homeKeyJsonPath: join(options.homeDirectory ?? homedir(), '.clemcore', 'key.json'),
  });
  const environment = options.environment ?? process.env;
  const localModels = createLocalModelService({
    modelsDirs: options.modelsDirs ?? (await effectiveModelsDirs(configDir, dataDir, environment)),
    cwd,
    threadCalibrator: new ThreadCalibrator({ file: threadCalibrationPath(dataDir) }),
    // Read at each load, so that a changed setting applies to the next model loaded.
    threadsSetting: async () => (await savedSettings(settings)).threads ?? 'auto',
  });
  const backendContext: BackendContext = {
    getApiKey: createBackendKeyResolver(credentials),
    isTrustedOrigin: (url) => trustedOrigins.isTrusted(url),
    getConnection: (backend) => credentials.getConnection(backend),
    humanInput,
    localModels,
  };
  const votes = new VoteStore(dataDir);
  const sessions = new SessionEngine({
    registry,
    backendContext,
    humanInput,
    store: new SessionStore({ dataDir }),
    votes,
  });
  const version = readAppVersion(appRoot);
  const resultsDir = join(dataDir, 'results');
  const parallelEpisodes = Number(environment.CLEMPLAY_PARALLEL_EPISODES);
  const games = new GameRuns({
    services: { registry, backendContext, version, appRoot },
    resultsDir,
    humanInput,
    ...(Number.isInteger(parallelEpisodes) && parallelEpisodes > 0 ? { concurrency: parallelEpisodes } : {}),
  });
  const modelServer = new ModelServer({
    registry,
    backendContext,
    localModels,
    entries: () => registry.entries(),
    laneCapacity: (id) => localModels.status().models.find((model) => model.id === id)?.settings.parallel ?? 1,
    credentials,
    environment,
  });
  return {
    version,
    appRoot,
    configDir,
    dataDir,
    resultsDir,
    registry,
    credentials,
    sessions,
    votes,
    humanInput,
    games,
    backendContext,
    localModels,
    settings,
    trustedOrigins,
    modelServer,
    async dispose() {
      // Runs, requests and sessions first: they stop their replies (sessions save), then the models they held can go.
      await games.dispose();
      await modelServer.dispose();
      await sessions.dispose();
      registry.close();
      await localModels.dispose();
    },
  };
}
