import type { AppError } from '../../src-shared/errors.js';
import { isJsonObject, type JsonObject } from '../../src-shared/json.js';
import { readJsonObjectFile } from './json-file.js';

/** One backend's entry in a clemcore `key.json`, with empty strings read as absent (clemcore's template has them). */
export interface KeyJsonEntry {
  /** The key.json file it came from. */
  path: string;
  /** The clemplay backend name it applies to. */
  backend: string;
  apiKey: string | undefined;
  /** A `base_url` kept beside the key (clemcore's `openai_compatible` entry); normalized by the caller. */
  baseUrl: string | undefined;
  /** clemcore writes `organisation`; `organization` is read too. */
  organization: string | undefined;
}

/** Everything read from the key.json files: entries in file order, and the files that could not be read. */
export interface KeyJsonContents {
  entries: KeyJsonEntry[];
  problems: AppError[];
}

/**
 * clemcore's entry names that differ from clemplay's backend names: older clemcore templates call the OpenAI-compatible
 * entry `generic_openai_compatible`. Listed after the exact name so that an `openai_compatible` entry wins.
 */
const entryNameAliases: Readonly<Record<string, string>> = {
  generic_openai_compatible: 'openai_compatible',
};

function readText(entry: JsonObject, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = entry[name];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

function entriesOf(path: string, file: JsonObject): KeyJsonEntry[] {
  const exact: KeyJsonEntry[] = [];
  const aliased: KeyJsonEntry[] = [];
  for (const [name, value] of Object.entries(file)) {
    if (!isJsonObject(value)) continue;
    const alias = entryNameAliases[name];
    const entry: KeyJsonEntry = {
      path,
      backend: alias ?? name,
      apiKey: readText(value, 'api_key'),
      baseUrl: readText(value, 'base_url'),
      organization: readText(value, 'organisation', 'organization'),
    };
    if (entry.apiKey === undefined && entry.baseUrl === undefined && entry.organization === undefined) continue;
    (alias === undefined ? exact : aliased).push(entry);
  }
  return [...exact, ...aliased];
}

/**
 * Reads clemcore's key.json files in the order given (the working directory's first, then `~/.clemcore/`). A file
 * that is missing is skipped; one that cannot be read or parsed is reported, not thrown, so that the others still
 * count.
 */
export async function readKeyJsonFiles(paths: readonly string[]): Promise<KeyJsonContents> {
  const contents: KeyJsonContents = { entries: [], problems: [] };
  for (const path of paths) {
    const result = await readJsonObjectFile(path, 'clemcore key file');
    if (result.status === 'broken') contents.problems.push(result.error);
    else if (result.status === 'ok') contents.entries.push(...entriesOf(path, result.value));
  }
  return contents;
}
