import { join } from 'node:path';
import type { BackendContext } from './backends/types.js';
import { HumanInputHub } from './chat/human-input-hub.js';
import { ChatStore } from './chats/chat-store.js';
import { createBackendKeyResolver, CredentialStore } from './credentials/credential-store.js';
import type { SecretVault } from './credentials/secret-vault.js';
import { createLocalModelService, defaultModelsDirs, type LocalModelService } from './llama/service.js';
import { ThreadCalibrator, threadCalibrationPath } from './llama/thread-calibration.js';
import { defaultConfigDir, defaultDataDir, findAppRoot, readAppVersion } from './paths.js';
import { openRegistryStack, type RegistryStack } from './registry/registry-stack.js';
import { SettingsStore, type Settings } from './settings/settings-store.js';

/** Everything the API needs, made once per process and shared by both transports, the CLI and tests. */
export interface AppServices {
  /** The app's version (package.json). */
  readonly version: string;
  /** The folder that holds registry/, out/ and package.json. */
  readonly appRoot: string;
  /** Where settings, the user registry and credentials live. */
  readonly configDir: string;
  /** Where chats and downloaded models live. */
  readonly dataDir: string;
  /** The registry files, their entries and lookups. */
  readonly registry: RegistryStack;
  /** API keys: the OS key store (Electron), environment variables, clemcore's key.json, a 0600 file. */
  readonly credentials: CredentialStore;
  /** Saved chats. */
  readonly chats: ChatStore;
  /** Questions of the human backend waiting for `chat.humanReply`. */
  readonly humanInput: HumanInputHub;
  /** Local GGUF models: runtime, model manager, GPU info (node-llama-cpp loads on first use). */
  readonly localModels: LocalModelService;
  /** settings.json in the config folder (models folders). */
  readonly settings: SettingsStore;
  /** What backends get besides the spec. */
  readonly backendContext: BackendContext;
  /** Stops watchers and frees what the services hold. */
  dispose(): Promise<void>;
}

/** Options of {@link createAppServices}; every field has a default for a normal CLI or web-host run. */
export interface AppServicesOptions {
  appRoot?: string;
  /** The working directory, whose model_registry.json tops the stack; default process.cwd(). */
  cwd?: string;
  /** Default `$XDG_CONFIG_HOME/clemplay`; Electron passes its userData folder. */
  configDir?: string;
  /** Default `$XDG_DATA_HOME/clemplay`; Electron passes its userData folder. */
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

export async function createAppServices(options: AppServicesOptions = {}): Promise<AppServices> {
  const appRoot = options.appRoot ?? findAppRoot();
  const configDir = options.configDir ?? defaultConfigDir();
  const dataDir = options.dataDir ?? defaultDataDir();
  const cwd = options.cwd ?? process.cwd();
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
  const environment = options.environment ?? process.env;
  const localModels = createLocalModelService({
    // CLEMPLAY_MODELS_DIRS (a one-off run) wins over the saved setting, which wins over <data>/models.
    modelsDirs:
      options.modelsDirs ??
      (environment.CLEMPLAY_MODELS_DIRS ? undefined : (await savedSettings(settings)).models_dirs) ??
      defaultModelsDirs(dataDir, environment),
    cwd,
    threadCalibrator: new ThreadCalibrator({ file: threadCalibrationPath(dataDir) }),
    // Read at each load, so that a changed setting applies to the next model loaded.
    threadsSetting: async () => (await savedSettings(settings)).threads ?? 'auto',
  });
  return {
    version: readAppVersion(appRoot),
    appRoot,
    configDir,
    dataDir,
    registry,
    credentials,
    chats: new ChatStore({ directory: join(dataDir, 'chats') }),
    humanInput,
    backendContext: {
      getApiKey: createBackendKeyResolver(credentials),
      getConnection: (backend) => credentials.getConnection(backend),
      humanInput,
      localModels,
    },
    localModels,
    settings,
    async dispose() {
      registry.close();
      await localModels.dispose();
    },
  };
}
