import { open } from 'node:fs/promises';

import { AppError } from '../../src-shared/errors.js';
import { isJsonObject, type JsonObject } from '../../src-shared/json.js';
import { locate, parseQuery } from '../../src-shared/spec/parse-query.js';

/** What reading a JSON file gave: nothing (no file), its object and file mode, or an error safe to show. */
export type JsonFileResult =
  { status: 'missing' } | { status: 'ok'; value: JsonObject; mode: number } | { status: 'broken'; error: AppError };

const errnoExplanations: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a folder, not a file',
  ENOTDIR: 'a part of its path is not a folder',
  ELOOP: 'too many symbolic links',
  EIO: 'an input/output error',
  ENOSPC: 'the disk is full',
  EROFS: 'the file system is read-only',
};

/** The `code` of a Node file-system error (`ENOENT`, `EACCES`, …), if it has one. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

/**
 * Why a file operation failed, in words, from its errno code only: Node's own messages are safe today, but a
 * message built from a code cannot ever carry a file's content.
 */
export function describeFileError(error: unknown): string {
  const code = errnoCode(error);
  return (code !== undefined && errnoExplanations[code]) || (code === undefined ? 'an unexpected error' : code);
}

/**
 * Where JSON text first goes wrong, without quoting any of it: these files hold API keys, and a parser's own
 * message (V8's quotes the text around the fault) could carry one into a log or onto the screen.
 */
export function locateJsonProblem(text: string): { line: number; column: number } | undefined {
  const start = text.search(/\S/);
  if (start === -1) return { line: 1, column: 1 };
  if (text[start] !== '{') return locate(text, start);
  const result = parseQuery(text);
  return result.ok ? undefined : { line: result.error.line, column: result.error.column };
}

/**
 * Parses `text` as a JSON object. Failures are `invalid-input` errors that name `path`, the line and the column, and
 * never any of the content.
 */
export function parseJsonObject(text: string, path: string, what: string): JsonObject {
  // Windows editors start UTF-8 files with a byte-order mark, which JSON.parse refuses.
  if (text.charCodeAt(0) === 0xfeff) return parseJsonObject(text.slice(1), path, what);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const where = locateJsonProblem(text);
    const at = where === undefined ? '' : ` at line ${where.line}, column ${where.column}`;
    throw new AppError(
      'invalid-input',
      `The ${what} ${path} is not valid JSON${at}. Fix it there, or remove the file.`,
      {
        path,
        ...where,
      },
    );
  }
  if (!isJsonObject(parsed)) {
    throw new AppError('invalid-input', `The ${what} ${path} must hold one JSON object ({ … }) at the top.`, { path });
  }
  return parsed;
}

/**
 * Reads and parses a JSON object file. A missing file is not an error; every other failure comes back as an
 * `invalid-input` error that names the file and never echoes what is in it.
 */
export async function readJsonObjectFile(path: string, what: string): Promise<JsonFileResult> {
  let text: string;
  let mode: number;
  try {
    // One handle for both, so the mode we check belongs to the very file we read.
    const handle = await open(path, 'r');
    try {
      mode = (await handle.stat()).mode;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return { status: 'missing' };
    const reason = describeFileError(error);
    return {
      status: 'broken',
      error: new AppError('invalid-input', `Cannot read the ${what} ${path}: ${reason}. Check it, or remove it.`, {
        path,
        ...(code === undefined ? {} : { errno: code }),
      }),
    };
  }
  try {
    return { status: 'ok', value: parseJsonObject(text, path, what), mode };
  } catch (error) {
    if (error instanceof AppError) return { status: 'broken', error };
    throw error;
  }
}
