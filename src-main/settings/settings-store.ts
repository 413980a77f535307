import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../src-shared/errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';

/** What a person can set that is not a registry entry or a key; every field is optional (a default applies). */
export const settingsSchema = z.looseObject({
  /** Folders scanned for .gguf files, first one is where downloads go; default `<data>/models`. */
  models_dirs: z.array(z.string().min(1).max(4096)).min(1).max(32).optional(),
  /** CPU threads for local models whose spec sets none: `auto` (the default) measures the fastest per model size. */
  threads: z.union([z.literal('auto'), z.number().int().min(1).max(1024)]).optional(),
});

/** The settings file's content. */
export type Settings = z.infer<typeof settingsSchema>;

/** The settings file name in the config folder. */
export const settingsFileName = 'settings.json';

/**
 * settings.json in the config folder. A broken file is reported with its place and never overwritten by a save that
 * would lose what the person wrote; a missing file is the defaults.
 */
export class SettingsStore {
  readonly path: string;
  /** Updates run one at a time: each is a read-modify-write of the whole file. */
  private writing: Promise<unknown> = Promise.resolve();

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
    const run = this.writing.then(async () => {
      const next = { ...(await this.read()), ...change };
      await writeFileAtomic(this.path, `${JSON.stringify(next, null, 2)}\n`);
      return next;
    });
    this.writing = run.catch(() => undefined);
    return run;
  }
}
