import { isJsonObject, type JsonObject } from '../../src-shared/json.js';
import { AppError } from '../../src-shared/errors.js';
import type { RegistryStack } from '../registry/registry-stack.js';
import type { SettingsStore } from '../settings/settings-store.js';
import { readKeyJsonFiles } from './key-json.js';

/** Why an origin is trusted: where it was found. */
export interface TrustedOriginSource {
  /** `built-in` (a backend's own server), `registry` (a base_url in a trusted registry file), `key-json` (the
   * `base_url` of `~/.clemcore/key.json`) or `settings` (added by the user). */
  kind: 'built-in' | 'registry' | 'key-json' | 'settings';
  /** The file it was found in; absent for `built-in`. */
  path?: string;
}

/** One trusted origin and every place that makes it trusted. */
export interface TrustedOrigin {
  /** `scheme://host[:port]`, lower-case, default port left out. */
  origin: string;
  sources: TrustedOriginSource[];
}

/** The servers of backends that have a home: their keys exist to be sent there. */
export const builtInTrustedOrigins: readonly string[] = ['https://api.openai.com'];

/** Text as an http(s) URL, or undefined when it is not one. */
export function parseHttpUrl(text: string): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(text.trim());
  } catch {
    return undefined;
  }
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed : undefined;
}

/** The origin of an http(s) URL (`https://host:port`), or undefined for anything else. */
export function originOf(url: string): string | undefined {
  return parseHttpUrl(url)?.origin;
}

/**
 * An origin as a person typed it (`https://host:8443`, or any URL on that server, such as a base_url), checked and
 * reduced to `scheme://host[:port]`. Throws `invalid-input` for what is not an http(s) URL or carries a user name
 * or password.
 */
export function parseTrustedOrigin(text: string): string {
  const parsed = parseHttpUrl(text);
  if (parsed === undefined) {
    throw new AppError(
      'invalid-input',
      'An origin is an http:// or https:// address, such as https://llm.example:8443.',
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new AppError(
      'invalid-input',
      'An origin must not carry a user name or password; give only scheme, host and port.',
    );
  }
  return parsed.origin;
}

/** Every `base_url` string of an entry: at the top level and in `model_config` (where clemcore puts settings). */
function baseUrlsOf(entry: JsonObject): string[] {
  const found: string[] = [];
  if (typeof entry.base_url === 'string') found.push(entry.base_url);
  const config = entry.model_config;
  if (isJsonObject(config) && typeof config.base_url === 'string') found.push(config.base_url);
  return found;
}

/** Options of {@link TrustedOrigins}. */
export interface TrustedOriginsOptions {
  /** The registry stack: the base_urls of its user, official and `--registry` files are trusted. */
  registry: RegistryStack;
  /** settings.json, whose `trusted_origins` the user adds to. */
  settings: SettingsStore;
  /** The user's own clemcore key file (`~/.clemcore/key.json`), whose base_urls are trusted; not the working folder's. */
  homeKeyJsonPath?: string;
}

/**
 * The origins the user trusts with backend-wide API keys (an environment variable, a key stored without a base_url):
 * the servers of backends that have one, the base_urls in the user's and the official registry and in files passed
 * with `--registry`, those of `~/.clemcore/key.json`, and the ones added in Settings or with `clemplay trust`. A
 * registry in the working directory adds nothing: a cloned folder could name any server there.
 */
export class TrustedOrigins {
  private registryOrigins: Map<string, TrustedOriginSource[]> | null = null;

  constructor(private readonly options: TrustedOriginsOptions) {
    options.registry.onChange(() => {
      this.registryOrigins = null;
    });
  }

  private fromRegistry(): Map<string, TrustedOriginSource[]> {
    if (this.registryOrigins !== null) return this.registryOrigins;
    const origins = new Map<string, TrustedOriginSource[]>();
    for (const row of this.options.registry.entries()) {
      if (row.role === 'working-directory') continue;
      for (const url of baseUrlsOf(row.entry)) {
        const origin = originOf(url);
        if (origin === undefined) continue;
        const sources = origins.get(origin) ?? [];
        if (!sources.some((source) => source.path === row.file)) sources.push({ kind: 'registry', path: row.file });
        origins.set(origin, sources);
      }
    }
    this.registryOrigins = origins;
    return origins;
  }

  /** Every trusted origin with where each comes from, sorted. A broken settings file is reported, not thrown. */
  async list(): Promise<TrustedOrigin[]> {
    const all = new Map<string, TrustedOriginSource[]>();
    const add = (origin: string, source: TrustedOriginSource): void => {
      all.set(origin, [...(all.get(origin) ?? []), source]);
    };
    for (const origin of builtInTrustedOrigins) add(origin, { kind: 'built-in' });
    for (const [origin, sources] of this.fromRegistry()) for (const source of sources) add(origin, source);
    for (const { origin, path } of await this.fromKeyJson()) add(origin, { kind: 'key-json', path });
    for (const origin of await this.fromSettings()) add(origin, { kind: 'settings', path: this.options.settings.path });
    return [...all].map(([origin, sources]) => ({ origin, sources })).sort((a, b) => a.origin.localeCompare(b.origin));
  }

  /** The origins of the base_urls in `~/.clemcore/key.json`, with the file. */
  private async fromKeyJson(): Promise<{ origin: string; path: string }[]> {
    if (this.options.homeKeyJsonPath === undefined) return [];
    const { entries } = await readKeyJsonFiles([this.options.homeKeyJsonPath]);
    return entries.flatMap((entry) => {
      const origin = entry.baseUrl === undefined ? undefined : originOf(entry.baseUrl);
      return origin === undefined ? [] : [{ origin, path: entry.path }];
    });
  }

  private async fromSettings(): Promise<string[]> {
    try {
      return (await this.options.settings.read()).trusted_origins ?? [];
    } catch {
      // A broken settings file trusts nothing extra; Settings reports the file itself.
      return [];
    }
  }

  /** Whether `url`'s origin is trusted. Not an http(s) URL: false. */
  async isTrusted(url: string): Promise<boolean> {
    const origin = originOf(url);
    if (origin === undefined) return false;
    if (builtInTrustedOrigins.includes(origin) || this.fromRegistry().has(origin)) return true;
    if ((await this.fromSettings()).includes(origin)) return true;
    return (await this.fromKeyJson()).some((found) => found.origin === origin);
  }

  /** Trusts an origin from now on (saved in settings.json); returns it normalized. */
  async add(text: string): Promise<string> {
    const origin = parseTrustedOrigin(text);
    await this.options.settings.addTrustedOrigin(origin);
    return origin;
  }

  /**
   * Stops trusting an origin the user added. Throws `not-found` when settings.json does not list it, saying where it
   * comes from instead when that is a registry file (edit the file) or built in.
   */
  async remove(text: string): Promise<string> {
    const origin = parseTrustedOrigin(text);
    if (await this.options.settings.removeTrustedOrigin(origin)) return origin;
    const other = (await this.list()).find((entry) => entry.origin === origin);
    const where = other?.sources.map((source) => source.path ?? 'built in').join(', ');
    throw new AppError(
      'not-found',
      other === undefined
        ? `${origin} is not a trusted origin.`
        : `${origin} was not added by you: it is trusted because of ${where}; change it there.`,
      { origin },
    );
  }
}
