import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';

import type { z } from 'zod';

import { AppError, type AppErrorShape } from '../../src-shared/errors.js';
import { describeFileError, errnoCode, parseJsonObject } from '../credentials/json-file.js';
import { writeFileAtomic, type AtomicWriteOptions } from '../files/atomic-write.js';
import { withFileLock } from '../files/file-lock.js';
import { defaultDataDir } from '../paths.js';
import { exportChatJson, exportChatMarkdown, redactChat } from './chat-export.js';
import { chatIdPattern, chatSchema, type Chat } from './chat-schema.js';

/** One line of {@link ChatStore.list}: a chat, or a file in the folder that could not be read as one. */
export type ChatListEntry =
  | {
      broken: false;
      id: string;
      title: string;
      /** ISO 8601, from the chat. */
      updated_at: string;
      message_count: number;
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

/** Options of {@link ChatStore}. */
export interface ChatStoreOptions {
  /** The folder of the chat files; default `<data dir>/chats`. */
  directory?: string;
  /** The clock, for trash file names; default the system clock. */
  now?: () => Date;
  /** Passed to every {@link writeFileAtomic}: tests use it to simulate a crash before the rename. */
  beforeRename?: AtomicWriteOptions['beforeRename'];
}

/** Options of {@link ChatStore.save}. */
export interface ChatSaveOptions {
  /**
   * The `updated_at` of the version the caller changed (null: the chat must not exist yet). When the file holds
   * another version, nothing is written and the error is `conflict`; absent: no check, the save replaces the file.
   */
  ifUpdatedAt?: string | null;
}

/** The folder inside the chats folder that deleted chats move to. */
export const trashFolderName = '.trash';

function checkId(id: string): void {
  if (!chatIdPattern.test(id)) {
    throw new AppError('invalid-input', 'A chat id is 1 to 100 lower-case letters, digits or "-".', {
      id: id.slice(0, 100),
    });
  }
}

function describeSchemaProblem(error: z.ZodError, path: string): AppError {
  const issue = error.issues[0];
  const keyPath = issue === undefined ? '' : issue.path.map((segment) => String(segment)).join('.');
  return new AppError(
    'invalid-input',
    `The chat file ${path} is not in the expected form${keyPath === '' ? '' : ` at ${keyPath}`}: ` +
      `${issue?.message ?? 'unexpected content'}. Fix it there, or delete the chat.`,
    { path, key_path: keyPath },
  );
}

/**
 * Chats as one JSON file each (`<id>.json`) in a folder. Writes are atomic; deleting moves a file to `.trash/`, and a
 * file that cannot be read is listed as broken and left alone: nothing a person wrote is lost.
 */
export class ChatStore {
  readonly directory: string;
  private readonly now: () => Date;
  private readonly beforeRename: AtomicWriteOptions['beforeRename'];

  constructor(options: ChatStoreOptions = {}) {
    this.directory = options.directory ?? join(defaultDataDir(), 'chats');
    this.now = options.now ?? (() => new Date());
    this.beforeRename = options.beforeRename;
  }

  /** The file of a chat; throws `invalid-input` for an id that could name anything but one file in the folder. */
  pathOf(id: string): string {
    checkId(id);
    return join(this.directory, `${id}.json`);
  }

  /** Every chat, newest `updated_at` first; files that cannot be read are included as broken entries. */
  async list(): Promise<ChatListEntry[]> {
    let names: string[];
    try {
      const entries = await readdir(this.directory, { withFileTypes: true });
      // Dot files are the trash folder and the temp files of interrupted writes.
      names = entries
        .filter((entry) => entry.isFile() && entry.name.endsWith('.json') && !entry.name.startsWith('.'))
        .map((entry) => entry.name);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return [];
      throw new AppError('internal', `Cannot read the chats folder ${this.directory}: ${describeFileError(error)}.`, {
        path: this.directory,
      });
    }
    const listed = await Promise.all(names.map((name) => this.listEntry(name)));
    return listed.sort((left, right) => {
      const difference = Date.parse(right.updated_at) - Date.parse(left.updated_at);
      return difference !== 0 && !Number.isNaN(difference) ? difference : left.id.localeCompare(right.id);
    });
  }

  private async listEntry(name: string): Promise<ChatListEntry> {
    const id = name.slice(0, -'.json'.length);
    const path = join(this.directory, name);
    try {
      if (!chatIdPattern.test(id)) {
        throw new AppError(
          'invalid-input',
          `The file ${path} is in the chats folder, but its name is not a chat id ` +
            '(lower-case letters, digits and "-", then .json). Rename it to open it as a chat.',
          { path },
        );
      }
      const chat = await this.readChat(id, path);
      return {
        broken: false,
        id,
        title: chat.title,
        updated_at: chat.updated_at,
        message_count: chat.messages.length,
      };
    } catch (error) {
      const shape =
        error instanceof AppError
          ? error.toShape()
          : { code: 'internal' as const, message: `Cannot read the chat file ${path}.`, details: { path } };
      const modified = await stat(path).then(
        (stats) => stats.mtime.toISOString(),
        () => new Date(0).toISOString(),
      );
      return { broken: true, id, path, updated_at: modified, error: shape };
    }
  }

  private async readChat(id: string, path: string): Promise<Chat> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw new AppError('not-found', `There is no chat ${id}.`, { id });
      throw new AppError('invalid-input', `Cannot read the chat file ${path}: ${describeFileError(error)}.`, {
        path,
      });
    }
    const parsed = chatSchema.safeParse(parseJsonObject(text, path, 'chat file'));
    if (!parsed.success) throw describeSchemaProblem(parsed.error, path);
    // The file name is the chat's identity: a file copied to a new name opens, and saves, as the new chat.
    return { ...parsed.data, id };
  }

  /** The chat `id`; `not-found` when there is none, `invalid-input` naming the file when it cannot be read. */
  async get(id: string): Promise<Chat> {
    return this.readChat(id, this.pathOf(id));
  }

  /**
   * Checks `chat` against the schema and writes it atomically (mode 0600: chats are private) under the file's
   * cross-process lock; with `ifUpdatedAt`, only over that version (else `conflict`). Returns it as saved.
   */
  async save(chat: Chat, options: ChatSaveOptions = {}): Promise<Chat> {
    const parsed = chatSchema.safeParse(chat);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const keyPath = issue === undefined ? '' : issue.path.map((segment) => String(segment)).join('.');
      throw new AppError(
        'invalid-input',
        `The chat cannot be saved: ${keyPath === '' ? '' : `${keyPath}: `}${issue?.message ?? 'unexpected content'}.`,
        { key_path: keyPath },
      );
    }
    const id = parsed.data.id;
    const path = this.pathOf(id);
    await withFileLock(path, async () => {
      if (options.ifUpdatedAt !== undefined) {
        const current = await this.readChat(id, path).then(
          (stored) => stored.updated_at,
          (error: unknown) => {
            if (error instanceof AppError && error.code === 'not-found') return null;
            throw error;
          },
        );
        if (current !== options.ifUpdatedAt) {
          throw new AppError(
            'conflict',
            `The chat ${id} was changed elsewhere (another window or process) since it was read; nothing was ` +
              'written — reload it and apply your change again.',
            { id, path },
          );
        }
      }
      try {
        // A key typed into a query (the backends ignore it) is not kept on disk either.
        await writeFileAtomic(path, `${JSON.stringify(redactChat(parsed.data), null, 2)}\n`, {
          mode: 0o600,
          beforeRename: this.beforeRename,
        });
      } catch (error) {
        throw new AppError(
          'internal',
          `Could not save the chat to ${path}: ${describeFileError(error)}. The previous version is unchanged.`,
          { path },
        );
      }
    });
    return parsed.data;
  }

  /**
   * Moves the chat's file (readable or not) to `.trash/<id>.<time>.json`, from where a person can bring it back;
   * returns that path.
   */
  async delete(id: string): Promise<string> {
    const path = this.pathOf(id);
    const trash = join(this.directory, trashFolderName);
    const stamp = this.now().toISOString().replace(/[:.]/g, '-');
    const target = join(trash, `${id}.${stamp}.json`);
    try {
      await mkdir(trash, { recursive: true });
      // Under the lock: a save in flight elsewhere finishes first, so it is trashed rather than left behind.
      await withFileLock(path, () => rename(path, target));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw new AppError('not-found', `There is no chat ${id}.`, { id });
      throw new AppError('internal', `Could not move ${path} to the trash: ${describeFileError(error)}.`, { path });
    }
    return target;
  }

  /** The chat as JSON, with secret-named fields removed from its specs. */
  async exportJson(id: string): Promise<string> {
    return exportChatJson(await this.get(id));
  }

  /** The chat as Markdown; see {@link exportChatMarkdown}. */
  async exportMarkdown(id: string): Promise<string> {
    return exportChatMarkdown(await this.get(id));
  }
}
