import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { z } from 'zod';

import type { SessionKind } from '../../src-shared/conversation/session.js';
import { AppError, type AppErrorShape } from '../../src-shared/errors.js';
import { describeFileError, errnoCode, parseJsonObject } from '../credentials/json-file.js';
import { writeFileAtomic, type AtomicWriteOptions } from '../files/atomic-write.js';
import { withFileLock } from '../files/file-lock.js';
import { isLegacyChat, legacyChatSchema, migrateLegacyChat } from './legacy-chat.js';
import { describeParticipant, redactSession } from './session-export.js';
import { sessionIdPattern, sessionRecordSchema, type SessionRecord } from './session-schema.js';

/** One line of {@link SessionStore.list}: a session, or a file in the folder that could not be read as one. */
export type SessionListEntry =
  | {
      broken: false;
      id: string;
      kind: SessionKind;
      title: string;
      /** ISO 8601, from the session. */
      updated_at: string;
      message_count: number;
      /** The participants' models, as people name them ("gpt-4o (openai)"); empty for a blind session not yet voted on. */
      models: string[];
    }
  | {
      broken: true;
      /** The file name without `.json` (it may not be a valid id: then only a person can fix the file). */
      id: string;
      /** The file's path, for the person to look at; the file is never changed or removed by listing. */
      path: string;
      /** ISO 8601, the file's modification time. */
      updated_at: string;
      error: AppErrorShape;
    };

/** Whether a session's models are hidden: a blind pair not yet voted on. */
export function isHidden(record: SessionRecord): boolean {
  return record.blind !== undefined && !record.blind.revealed;
}

/** A session's line in a list. */
export function listEntryOf(record: SessionRecord): SessionListEntry {
  return {
    broken: false,
    id: record.id,
    kind: record.kind,
    title: record.title,
    updated_at: record.updated_at,
    message_count: record.messages.length,
    models: isHidden(record) ? [] : record.participants.map(describeParticipant),
  };
}

/** Options of {@link SessionStore}. */
export interface SessionStoreOptions {
  /** The data folder: sessions live in `<dataDir>/sessions`, chats of version 1 are read from `<dataDir>/chats`. */
  dataDir: string;
  /** The clock, for trash file names; default the system clock. */
  now?: () => Date;
  /** Passed to every {@link writeFileAtomic}: tests use it to simulate a crash before the rename. */
  beforeRename?: AtomicWriteOptions['beforeRename'];
}

/** Options of {@link SessionStore.save}. */
export interface SessionSaveOptions {
  /**
   * The `updated_at` of the version on disk the caller last read or wrote (null: there must be no file yet). When the
   * file holds another version (another process changed it), nothing is written and the error is `conflict`; absent:
   * no check.
   */
  ifUpdatedAt?: string | null;
}

/** The folder inside the sessions (and the old chats) folder that deleted files move to. */
export const trashFolderName = '.trash';
/** Where a version 1 chat file goes once its session has been saved in the new format. */
export const migratedFolderName = '.migrated';

function checkId(id: string): void {
  if (!sessionIdPattern.test(id)) {
    throw new AppError('invalid-input', 'A session id is 1 to 100 lower-case letters, digits or "-".', {
      id: id.slice(0, 100),
    });
  }
}

function describeSchemaProblem(error: z.ZodError, path: string): AppError {
  const issue = error.issues[0];
  const keyPath = issue === undefined ? '' : issue.path.map((segment) => String(segment)).join('.');
  return new AppError(
    'invalid-input',
    `The conversation file ${path} is not in the expected form${keyPath === '' ? '' : ` at ${keyPath}`}: ` +
      `${issue?.message ?? 'unexpected content'}. Fix it there, or delete the conversation.`,
    { path, key_path: keyPath },
  );
}

/**
 * Sessions as one JSON file each (`<data>/sessions/<id>.json`). Writes are atomic; deleting moves a file to
 * `.trash/`; a file that cannot be read is listed as broken and left alone. Chats saved by version 1 (in
 * `<data>/chats/`) are listed and opened as sessions, and move to `chats/.migrated/` once saved in the new format.
 */
export class SessionStore {
  readonly directory: string;
  readonly legacyDirectory: string;
  private readonly now: () => Date;
  private readonly beforeRename: AtomicWriteOptions['beforeRename'];

  constructor(options: SessionStoreOptions) {
    this.directory = join(options.dataDir, 'sessions');
    this.legacyDirectory = join(options.dataDir, 'chats');
    this.now = options.now ?? (() => new Date());
    this.beforeRename = options.beforeRename;
  }

  /** The file of a session; throws `invalid-input` for an id that could name anything but one file in the folder. */
  pathOf(id: string): string {
    checkId(id);
    return join(this.directory, `${id}.json`);
  }

  private legacyPathOf(id: string): string {
    checkId(id);
    return join(this.legacyDirectory, `${id}.json`);
  }

  private async jsonFiles(directory: string): Promise<string[]> {
    try {
      const entries = await readdir(directory, { withFileTypes: true });
      // Dot files are the trash and migrated folders and the temp files of interrupted writes.
      return entries
        .filter((entry) => entry.isFile() && entry.name.endsWith('.json') && !entry.name.startsWith('.'))
        .map((entry) => entry.name);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return [];
      throw new AppError('internal', `Cannot read the folder ${directory}: ${describeFileError(error)}.`, {
        path: directory,
      });
    }
  }

  /** Every session (old chats included), newest `updated_at` first; unreadable files are listed as broken. */
  async list(): Promise<SessionListEntry[]> {
    const current = await this.jsonFiles(this.directory);
    const known = new Set(current);
    const legacy = (await this.jsonFiles(this.legacyDirectory)).filter((name) => !known.has(name));
    const listed = await Promise.all([
      ...current.map((name) => this.listEntry(join(this.directory, name))),
      ...legacy.map((name) => this.listEntry(join(this.legacyDirectory, name))),
    ]);
    return listed.sort((left, right) => {
      const difference = Date.parse(right.updated_at) - Date.parse(left.updated_at);
      return difference !== 0 && !Number.isNaN(difference) ? difference : left.id.localeCompare(right.id);
    });
  }

  private async listEntry(path: string): Promise<SessionListEntry> {
    const id = path.slice(path.lastIndexOf('/') + 1, -'.json'.length);
    try {
      if (!sessionIdPattern.test(id)) {
        throw new AppError(
          'invalid-input',
          `The file ${path} is in the conversations folder, but its name is not a session id ` +
            '(lower-case letters, digits and "-", then .json). Rename it to open it.',
          { path },
        );
      }
      // readFile gives the record the file name as its id.
      return listEntryOf(await this.readFile(id, path));
    } catch (error) {
      const shape =
        error instanceof AppError
          ? error.toShape()
          : { code: 'internal' as const, message: `Cannot read the file ${path}.`, details: { path } };
      const modified = await stat(path).then(
        (stats) => stats.mtime.toISOString(),
        () => new Date(0).toISOString(),
      );
      return { broken: true, id, path, updated_at: modified, error: shape };
    }
  }

  private async readFile(id: string, path: string): Promise<SessionRecord> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw new AppError('not-found', `There is no conversation ${id}.`, { id });
      throw new AppError('invalid-input', `Cannot read the file ${path}: ${describeFileError(error)}.`, { path });
    }
    const json = parseJsonObject(text, path, 'conversation file');
    if (isLegacyChat(json)) {
      const legacy = legacyChatSchema.safeParse(json);
      if (!legacy.success) throw describeSchemaProblem(legacy.error, path);
      return { ...migrateLegacyChat(legacy.data), id };
    }
    const parsed = sessionRecordSchema.safeParse(json);
    if (!parsed.success) throw describeSchemaProblem(parsed.error, path);
    // The file name is the session's identity: a file copied to a new name opens, and saves, as its own session.
    return { ...parsed.data, id };
  }

  /** The session `id` (an old chat migrated on the way); `not-found` when there is none. */
  async get(id: string): Promise<SessionRecord> {
    try {
      return await this.readFile(id, this.pathOf(id));
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'not-found')) throw error;
      return this.readFile(id, this.legacyPathOf(id));
    }
  }

  /**
   * Checks `session` against the schema and writes it atomically (mode 0600: conversations are private), secrets
   * stripped from its specs; an old chat file of the same id then moves to `chats/.migrated/`.
   */
  async save(session: SessionRecord, options: SessionSaveOptions = {}): Promise<void> {
    const parsed = sessionRecordSchema.safeParse(session);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const keyPath = issue === undefined ? '' : issue.path.map((segment) => String(segment)).join('.');
      throw new AppError(
        'invalid-input',
        `The conversation cannot be saved: ${keyPath === '' ? '' : `${keyPath}: `}${issue?.message ?? 'unexpected content'}.`,
        { key_path: keyPath },
      );
    }
    const id = parsed.data.id;
    const path = this.pathOf(id);
    await mkdir(this.directory, { recursive: true });
    // Under the file's cross-process lock: read, check, write and rename as one step against other processes.
    await withFileLock(path, async () => {
      if (options.ifUpdatedAt !== undefined) {
        // Not saved in this format yet: then a chat of version 1 of that id is the version on disk.
        const current = await this.get(id).then(
          (stored) => stored.updated_at,
          (error: unknown) => {
            if (error instanceof AppError && error.code === 'not-found') return null;
            throw error;
          },
        );
        if (current !== options.ifUpdatedAt) {
          throw new AppError(
            'conflict',
            `The conversation ${id} was changed elsewhere (another window or process) since it was read; nothing ` +
              'was written here — reopen it to see the other version.',
            { id, path },
          );
        }
      }
      try {
        await writeFileAtomic(path, `${JSON.stringify(redactSession(parsed.data), null, 2)}\n`, {
          mode: 0o600,
          beforeRename: this.beforeRename,
        });
      } catch (error) {
        throw new AppError(
          'internal',
          `Could not save the conversation to ${path}: ${describeFileError(error)}. The previous version is unchanged.`,
          { path },
        );
      }
    });
    await this.retireLegacy(id);
  }

  private async retireLegacy(id: string): Promise<void> {
    const legacy = this.legacyPathOf(id);
    const target = join(this.legacyDirectory, migratedFolderName, `${id}.json`);
    try {
      await mkdir(join(this.legacyDirectory, migratedFolderName), { recursive: true, mode: 0o700 });
      await rename(legacy, target);
    } catch (error) {
      // Usually there is no old file; any other failure only leaves the old chat where it was (listed once).
      if (errnoCode(error) !== 'ENOENT') return;
    }
  }

  /**
   * Moves the session's file (readable or not; an old chat's too) to `.trash/<id>.<time>.json` in its folder, from
   * where a person can bring it back; returns that path.
   */
  async delete(id: string): Promise<string> {
    const stamp = this.now().toISOString().replace(/[:.]/g, '-');
    for (const [path, folder] of [
      [this.pathOf(id), this.directory],
      [this.legacyPathOf(id), this.legacyDirectory],
    ] as const) {
      const trash = join(folder, trashFolderName);
      const target = join(trash, `${id}.${stamp}.json`);
      try {
        await mkdir(trash, { recursive: true });
        // Under the lock: a save in flight elsewhere finishes first, so it is trashed rather than left behind.
        await withFileLock(path, () => rename(path, target));
        return target;
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') continue;
        throw new AppError('internal', `Could not move ${path} to the trash: ${describeFileError(error)}.`, { path });
      }
    }
    throw new AppError('not-found', `There is no conversation ${id}.`, { id });
  }
}
