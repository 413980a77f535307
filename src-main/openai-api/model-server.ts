import { randomBytes } from 'node:crypto';
import { AppError } from '../../src-shared/errors.js';
import { keyHint, type CredentialStore } from '../credentials/credential-store.js';
import { loopbackAddress } from '../host/listen.js';
import { defaultApiPort } from '../../src-shared/model-server.js';
import { startOpenAIApiServer, type OpenAIApiDependencies, type OpenAIApiServer } from './openai-api-server.js';
import { RequestLog, type ServedRequest } from './request-log.js';

/**
 * The credentials slot of the server's own key. Its environment variable is `CLEMPLAY_API_KEY` (the credential
 * store's `<BACKEND>_API_KEY` rule), and clearing it in Settings → API keys makes the next start generate a new one.
 */
const apiKeyCredentialName = 'clemplay';

/** The environment variable that sets the server's key for one run. */
export const apiKeyEnvironmentVariable = 'CLEMPLAY_API_KEY';

/** Where the running server's key came from. */
export type ApiKeySource =
  /** `--api-key` on the command line. */
  | 'option'
  /** `CLEMPLAY_API_KEY`. */
  | 'environment'
  /** The key generated at an earlier start, from the credentials. */
  | 'stored'
  /** Generated at this start and stored with the credentials. */
  | 'generated';

/** How to start the server; every field has a default. */
export interface ModelServerStartOptions {
  /** TCP port; 0 picks a free one. Default {@link defaultApiPort} (41707). */
  port?: number;
  /** The address to bind; default 127.0.0.1. Anything else exposes the models (and the upstream quota) to the network. */
  host?: string;
  /** The key clients must send; default `CLEMPLAY_API_KEY`, else the stored one, else a new one (then stored). */
  apiKey?: string;
}

/** The server as the app shows it. Never the key itself: only its last 4 characters. */
export interface ModelServerStatus {
  running: boolean;
  /** The API root clients use (`http://127.0.0.1:41707/v1`); null while stopped. */
  url: string | null;
  /** The bound address; null while stopped. */
  host: string | null;
  /** The bound port; null while stopped. */
  port: number | null;
  /** `…` and the key's last 4 characters; null while stopped. */
  key_hint: string | null;
  key_source: ApiKeySource | null;
}

/** The server and its requests, newest first: what the app's list shows. */
export interface ModelServerState {
  status: ModelServerStatus;
  requests: ServedRequest[];
}

/** What the server needs from the app's services. */
export interface ModelServerDependencies extends OpenAIApiDependencies {
  credentials: Pick<CredentialStore, 'get' | 'set'>;
  /** Environment variables, for `CLEMPLAY_API_KEY`. */
  environment: Readonly<Record<string, string | undefined>>;
}

function checkedKey(key: string, where: string): string {
  const trimmed = key.trim();
  if (trimmed.length < 8 || /[\s\p{Cc}]/u.test(trimmed)) {
    // Not quoted: it is a secret.
    throw new AppError('invalid-input', `The API key from ${where} must be at least 8 characters, without spaces.`);
  }
  return trimmed;
}

/**
 * The OpenAI-compatible API server of this process: started and stopped by `clemplay api` or the app's Settings, one
 * at a time. Its request list outlives restarts of the server, so the app keeps showing what happened.
 */
export class ModelServer {
  readonly log = new RequestLog();
  private server: OpenAIApiServer | undefined;
  private key: { value: string; source: ApiKeySource } | undefined;
  /** Starts and stops run one after another. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly dependencies: ModelServerDependencies) {
    this.log.onChange(() => this.emit());
  }

  /**
   * Starts the server (a running one is stopped first, so new options apply). Resolves once it accepts connections;
   * throws `network` for a port in use and `invalid-input` for an unusable key.
   */
  start(options: ModelServerStartOptions = {}): Promise<ModelServerStatus> {
    return this.exclusive(async () => {
      await this.closeServer();
      const key = await this.resolveKey(options.apiKey);
      this.server = await startOpenAIApiServer({
        dependencies: this.dependencies,
        apiKey: key.value,
        port: options.port ?? defaultApiPort,
        host: options.host ?? loopbackAddress,
        log: this.log,
      });
      this.key = key;
      this.emit();
      return this.status();
    });
  }

  /** Stops the server: requests in flight end (503 or a last error event), the port closes. */
  stop(): Promise<ModelServerStatus> {
    return this.exclusive(async () => {
      await this.closeServer();
      return this.status();
    });
  }

  status(): ModelServerStatus {
    const server = this.server;
    const key = this.key;
    if (server === undefined || key === undefined) {
      return { running: false, url: null, host: null, port: null, key_hint: null, key_source: null };
    }
    return {
      running: true,
      url: server.url,
      host: server.host,
      port: server.port,
      key_hint: keyHint(key.value),
      key_source: key.source,
    };
  }

  state(): ModelServerState {
    return { status: this.status(), requests: this.log.list() };
  }

  /** The running server's key, for the person to give their clients (the app's copy button, the CLI's line). */
  revealKey(): string {
    if (this.server === undefined || this.key === undefined) {
      throw new AppError('invalid-input', 'The API server is not running; start it first.');
    }
    return this.key.value;
  }

  /** Calls `listener` after every change of the status or the request list; returns the function that stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.log.dispose();
    this.listeners.clear();
  }

  private async resolveKey(option: string | undefined): Promise<{ value: string; source: ApiKeySource }> {
    if (option !== undefined) return { value: checkedKey(option, '--api-key'), source: 'option' };
    const fromEnvironment = this.dependencies.environment[apiKeyEnvironmentVariable];
    if (fromEnvironment !== undefined && fromEnvironment.trim() !== '') {
      return { value: checkedKey(fromEnvironment, apiKeyEnvironmentVariable), source: 'environment' };
    }
    const stored = await this.dependencies.credentials.get(apiKeyCredentialName);
    if (stored !== undefined) return { value: stored, source: 'stored' };
    const generated = `clemplay-${randomBytes(24).toString('base64url')}`;
    await this.dependencies.credentials.set(apiKeyCredentialName, generated);
    return { value: generated, source: 'generated' };
  }

  private async closeServer(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    this.key = undefined;
    await server.close();
    this.emit();
  }

  private exclusive<Result>(task: () => Promise<Result>): Promise<Result> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Starts the server again when the person left it on (Settings → "Serve models to other apps", saved in
 * settings.json), for the app and the web host. A failure (the port taken meanwhile) is reported and the app starts
 * without it; the switch shows it off.
 */
export async function startSavedModelServer(
  server: ModelServer,
  settings: { read(): Promise<{ model_server?: { enabled: boolean; port: number } | undefined }> },
): Promise<void> {
  try {
    const saved = (await settings.read()).model_server;
    if (saved?.enabled === true) await server.start({ port: saved.port });
  } catch (error) {
    process.stderr.write(
      `warning: the API server for other apps did not start again: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
}
