import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../src-shared/errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { withFileLock } from '../files/file-lock.js';

/** What a person can set that is not a registry entry or a key; every field is optional (a default applies). */
export const settingsSchema = z.looseObject({
  /** Folders scanned for .gguf files, first one is where downloads go; default `<data>/models`. */
  models_dirs: z.array(z.string().min(1).max(4096)).min(1).max(32).optional(),
  /**
   * Origins (`https://host:port`) the user trusts with backend-wide API keys, besides those of the user's and the
   * official registry; default none.
   */
  trusted_origins: z.array(z.string().min(1).max(2048)).max(1000).optional(),
  /** CPU threads for local models whose spec sets none: `auto` (the default) measures the fastest per model size. */
  threads: z.union([z.literal('auto'), z.number().int().min(1).max(1024)]).optional(),
  /**
   * The app's "Serve models to other apps" switch: on (started again when the app or the web host starts) and its
   * port; default off.
   */
  model_server: z.object({ enabled: z.boolean(), port: z.number().int().min(0).max(65_535) }).optional(),
});

/** The settings file's content. */
export type Settings = z.infer<typeof settingsSchema>;

/** The settings file name in the config folder. */
export const settingsFileName = 'settings.json';

/**
 * settings.json in the config folder. A broken file is reported with its place and never overwritten by a save that
 * would lose what the person wrote; a missing file is the defaults. Every change is a read–modify–write under the
 * file's cross-process lock, so two processes changing different settings keep both changes.
 */
export class SettingsStore {
  readonly path: string;

  constructor(configDir: string) {
    this.path = join(configDir, settingsFileName);
  }

  async read(): Promise<Settings> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new AppError('invalid-input', `${this.path}: cannot read the settings: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new AppError('invalid-input', `${this.path}: invalid JSON (${(error as Error).message}); fix or remove it`);
    }
    const checked = settingsSchema.safeParse(parsed);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new AppError(
        'invalid-input',
        `${this.path}: "${issue?.path.join('.') ?? ''}" ${issue?.message ?? 'is not valid'}; fix or remove it`,
      );
    }
    return checked.data;
  }

  /** Changes some settings and keeps the others. */
  update(change: Settings): Promise<Settings> {
    return this.modify((current) => ({ ...current, ...change }));
  }

  /** Adds an origin (already normalized) to `trusted_origins`, once. */
  addTrustedOrigin(origin: string): Promise<Settings> {
    return this.modify((current) => {
      const origins = current.trusted_origins ?? [];
      return origins.includes(origin) ? current : { ...current, trusted_origins: [...origins, origin] };
    });
  }

  /** Removes an origin from `trusted_origins`; true when it was there. */
  async removeTrustedOrigin(origin: string): Promise<boolean> {
    let removed = false;
    await this.modify((current) => {
      const origins = current.trusted_origins ?? [];
      removed = origins.includes(origin);
      return removed ? { ...current, trusted_origins: origins.filter((entry) => entry !== origin) } : current;
    });
    return removed;
  }

  /** Read–modify–write under the lock; writes only when `change` returned a new object. */
  private modify(change: (current: Settings) => Settings): Promise<Settings> {
    return withFileLock(this.path, async () => {
      const current = await this.read();
      const next = change(current);
      if (next !== current) await writeFileAtomic(this.path, `${JSON.stringify(next, null, 2)}\n`);
      return next;
    });
  }
}
