import { readFile } from 'node:fs/promises';
import type { JsonObject, JsonValue } from '../../src-shared/json.js';
import { findTooDeep, formatLongPath, maximumJsonNesting } from '../../src-shared/spec/json-tools.js';
import { secretFieldPathsWithin } from '../../src-shared/secrets.js';
import { locate } from '../../src-shared/spec/parse-query.js';
import { lazyCrypto } from '../files/lazy-crypto.js';

/** Why a registry file could not be used: a message naming the file and where in it. */
export interface RegistryFileProblem {
  /** A sentence with the file, the place and what to do. */
  message: string;
  /** 1-based line and column of a JSON syntax error. */
  line?: number;
  column?: number;
  /** The entry (0-based) and key path of a schema error. */
  entryIndex?: number;
  keyPath?: string;
  /** The byte offset of the first byte that is not UTF-8. */
  byteOffset?: number;
  /** A key that appears twice in one object. */
  duplicateKey?: string;
}

/** A registry file as read from disk. */
export type RegistryFileContent =
  | {
      status: 'ok';
      /** The entries as written in the file (not tagged with lookup_source). */
      entries: JsonObject[];
      /** Whether the file held one bare object rather than a list (kept that way on write when possible). */
      singleObject: boolean;
      /** sha256 of the bytes read: a write is refused when the file no longer has them. */
      hash: string;
      /** The positions of entries with secret-named fields holding text, and those fields' paths. */
      secretFields: ReadonlyMap<number, readonly string[]>;
    }
  | { status: 'missing' }
  | { status: 'error'; problem: RegistryFileProblem; hash: string };

/** sha256 of a file's text, the version stamp of optimistic concurrency. */
export function hashText(text: string): string {
  return lazyCrypto().createHash('sha256').update(text).digest('hex');
}

/**
 * A read file's content with its version stamp ({@link hashText} of its text) worked out when first read: a lookup
 * never reads it, and hashing a 2 MB registry, with loading node:crypto to do it, was about a tenth of what
 * `clemplay resolve --queries` did over it (bench/RESULTS.md, "cli").
 */
function withVersionStamp<Content extends object>(content: Content, text: string): Content & { readonly hash: string } {
  let hash: string | null = null;
  return Object.defineProperty(content, 'hash', {
    enumerable: true,
    get: () => (hash ??= hashText(text)),
  }) as Content & {
    readonly hash: string;
  };
}

/** A JSON syntax error: the offset (UTF-16 code units) of the first character that breaks the grammar, and why. */
interface JsonSyntaxError {
  offset: number;
  detail: string;
  /** Set when the fault is a key that appears twice in one object (only looked for when asked). */
  duplicateKey?: string;
}

function describeCharacter(character: string): string {
  const code = character.charCodeAt(0);
  return code < 0x20 || code === 0x7f || code === 0xfeff ? JSON.stringify(character) : `'${character}'`;
}

const numberPattern = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const hexDigitsPattern = /^[0-9A-Fa-f]{4}$/;
const escapedCharacters = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

/** Scans a JSON string literal starting at its opening quote: the offset after it, or where it breaks. */
function scanString(text: string, start: number): number | JsonSyntaxError {
  let position = start + 1;
  while (position < text.length) {
    const character = text.charAt(position);
    if (character === '"') return position + 1;
    if (character.charCodeAt(0) < 0x20) {
      return { offset: position, detail: `control character ${describeCharacter(character)} in a string` };
    }
    if (character === '\\') {
      const escaped = text.charAt(position + 1);
      if (escaped === 'u' && hexDigitsPattern.test(text.slice(position + 2, position + 6))) position += 6;
      else if (escapedCharacters.has(escaped)) position += 2;
      else return { offset: position, detail: 'bad escape sequence in a string' };
      continue;
    }
    position++;
  }
  return { offset: text.length, detail: 'unterminated string' };
}

type Expectation = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'colon' | 'comma-or-close' | 'end';

/**
 * Finds the first syntax error of strict JSON (what JSON.parse accepts). Only used once JSON.parse has failed: V8's
 * messages do not always say where (Node 20's "Unexpected token" names no position), and a person needs the place.
 * Iterative, so deeply nested garbage cannot overflow the stack.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  return scanJson(text, false);
}

/**
 * The first key that appears twice in one object (JSON.parse keeps the last and drops the other without a word), or
 * null. A full scan of the text: used where a file is read to be edited and saved, not on the lookup path.
 */
export function findDuplicateKey(text: string): JsonSyntaxError | null {
  const found = scanJson(text, true);
  return found?.duplicateKey === undefined ? null : found;
}

function scanJson(text: string, checkDuplicates: boolean): JsonSyntaxError | null {
  const containers: ('array' | 'object')[] = [];
  /** The keys seen so far in each open object, innermost last (only when checking for duplicates). */
  const keySets: Set<string>[] = [];
  let expectation: Expectation = 'value';
  let position = 0;
  const afterValue = (): Expectation => (containers.length === 0 ? 'end' : 'comma-or-close');
  for (;;) {
    while (position < text.length && ' \t\n\r'.includes(text.charAt(position))) position++;
    if (position >= text.length) {
      return expectation === 'end' ? null : { offset: text.length, detail: 'unexpected end of the file' };
    }
    const character = text.charAt(position);
    const unexpected = (expected: string): JsonSyntaxError => ({
      offset: position,
      detail: `unexpected ${describeCharacter(character)}; expected ${expected}`,
    });
    switch (expectation) {
      case 'value':
      case 'value-or-close': {
        if (character === ']' && expectation === 'value-or-close') {
          containers.pop();
          position++;
          expectation = afterValue();
        } else if (character === '{' || character === '[') {
          containers.push(character === '{' ? 'object' : 'array');
          if (checkDuplicates && character === '{') keySets.push(new Set());
          position++;
          expectation = character === '{' ? 'key-or-close' : 'value-or-close';
        } else if (character === '"') {
          const end = scanString(text, position);
          if (typeof end !== 'number') return end;
          position = end;
          expectation = afterValue();
        } else {
          numberPattern.lastIndex = position;
          const number = numberPattern.exec(text);
          const word = ['true', 'false', 'null'].find((literal) => text.startsWith(literal, position));
          if (number !== null) position += number[0].length;
          else if (word !== undefined) position += word.length;
          else return unexpected('a value (object, array, string, number, true, false or null)');
          expectation = afterValue();
        }
        break;
      }
      case 'key':
      case 'key-or-close': {
        if (character === '}' && expectation === 'key-or-close') {
          containers.pop();
          if (checkDuplicates) keySets.pop();
          position++;
          expectation = afterValue();
        } else if (character === '"') {
          const end = scanString(text, position);
          if (typeof end !== 'number') return end;
          if (checkDuplicates) {
            const key = JSON.parse(text.slice(position, end)) as string;
            const keys = keySets.at(-1);
            if (keys?.has(key))
              return { offset: position, detail: `the key "${key}" appears twice`, duplicateKey: key };
            keys?.add(key);
          }
          position = end;
          expectation = 'colon';
        } else {
          return unexpected('a double-quoted property name');
        }
        break;
      }
      case 'colon': {
        if (character !== ':') return unexpected("':' after a property name");
        position++;
        expectation = 'value';
        break;
      }
      case 'comma-or-close': {
        const close = containers.at(-1) === 'object' ? '}' : ']';
        if (character === ',') {
          position++;
          expectation = close === '}' ? 'key' : 'value';
        } else if (character === close) {
          containers.pop();
          if (checkDuplicates && close === '}') keySets.pop();
          position++;
          expectation = afterValue();
        } else {
          return unexpected(`',' or '${close}'`);
        }
        break;
      }
      case 'end':
        return unexpected('nothing after the JSON value');
    }
  }
}

/** Where JSON.parse broke, and why: our own scan when it finds the place, else what V8 says. */
function syntaxErrorPlace(text: string, error: SyntaxError): { line: number; column: number; detail: string } {
  const found = findJsonSyntaxError(text);
  if (found !== null) return { ...locate(text, found.offset), detail: found.detail };
  const detail = error.message.replace(/\s*(in JSON )?at position \d+.*$/, '');
  const lineColumn = /line (\d+) column (\d+)/.exec(error.message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]), detail };
  const position = /position (\d+)/.exec(error.message);
  if (position) return { ...locate(text, Number(position[1])), detail };
  return { ...locate(text, text.length), detail };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const entryRule = 'every entry is an object with a string "model_name" and "backend"';

function entryIssue(keyPath: string, detail: string): { message: string; keyPath: string } {
  return { message: `${keyPath === '' ? 'the entry' : `"${keyPath}"`} ${detail}; ${entryRule}`, keyPath };
}

/** What {@link checkEntry} finds: the first problem, or none and the entry's secret-named fields. */
type EntryCheck =
  | { problem: { message: string; keyPath: string }; secrets?: undefined }
  | { problem: null; secrets: readonly string[] };

/** The check of an entry without problems or secrets, shared: most entries are that. */
const entryWithoutSecrets: EntryCheck = { problem: null, secrets: [] };

/**
 * The first place where an entry breaks `registryEntrySchema` (registry-schema.ts), in the schema's key order, or
 * its secret-named fields ({@link secretFieldPaths}) when it has none. Written out rather than asking zod: every CLI
 * call checks every entry of the stack, and loading zod alone takes longer than the rest of `clemplay resolve`.
 * registry-file.test.ts checks that it agrees with the schema.
 */
function checkEntry(entry: unknown): EntryCheck {
  // One walk finds both, before anything recursive looks at the entry: the unifier (and JSON.stringify) would
  // overflow the stack on one nested too deep.
  const secrets = secretFieldPathsWithin(entry as JsonValue, maximumJsonNesting);
  if (secrets === null) {
    const tooDeep = formatLongPath(findTooDeep(entry) ?? []);
    return {
      problem: {
        message: `"${tooDeep}" is nested deeper than ${maximumJsonNesting} levels, which no model spec needs; flatten it`,
        keyPath: tooDeep,
      },
    };
  }
  const problem = schemaProblem(entry);
  if (problem !== null) return { problem };
  return secrets.length === 0 ? entryWithoutSecrets : { problem, secrets };
}

const requiredKeys = ['model_name', 'backend'];

/** The first place where an entry (not nested too deep) breaks the schema, or null. */
function schemaProblem(entry: unknown): { message: string; keyPath: string } | null {
  if (!isObject(entry)) return entryIssue('', `must be an object, not ${describeValue(entry)}`);
  for (let position = 0; position < requiredKeys.length; position++) {
    const key = requiredKeys[position] as string;
    const value = Object.hasOwn(entry, key) ? entry[key] : undefined;
    if (value === undefined) return entryIssue(key, 'is missing');
    if (typeof value !== 'string') return entryIssue(key, `must be a string, not ${describeValue(value)}`);
    if (value === '') return entryIssue(key, 'must not be empty');
  }
  const lookupSource = Object.hasOwn(entry, 'lookup_source') ? entry['lookup_source'] : undefined;
  if (lookupSource !== undefined && typeof lookupSource !== 'string') {
    return entryIssue('lookup_source', `must be a string, not ${describeValue(lookupSource)}`);
  }
  const modelConfig = Object.hasOwn(entry, 'model_config') ? entry['model_config'] : undefined;
  if (modelConfig !== undefined && !isObject(modelConfig)) {
    return entryIssue('model_config', `must be an object, not ${describeValue(modelConfig)}`);
  }
  return null;
}

/** What is wrong with one entry (as a sentence), or null when it is a valid registry entry. */
export function registryEntryProblem(entry: unknown): string | null {
  return checkEntry(entry).problem?.message ?? null;
}

/** Parses and validates a registry file's text; `file` is only used in messages. */
export function parseRegistryText(file: string, text: string): RegistryFileContent {
  if (text.trim() === '') {
    return withVersionStamp(
      {
        status: 'error',
        problem: {
          message: `${file}: the file is empty; a registry is a JSON list of entries, e.g. []`,
          line: 1,
          column: 1,
        },
      },
      text,
    );
  }
  // Windows editors may start a UTF-8 file with a byte-order mark; JSON.parse refuses it, editors do not show it.
  const json = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    const { line, column, detail } = syntaxErrorPlace(json, error as SyntaxError);
    return withVersionStamp(
      { status: 'error', problem: { message: `${file}:${line}:${column}: invalid JSON: ${detail}`, line, column } },
      text,
    );
  }
  const singleObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  if (!singleObject && !Array.isArray(parsed)) {
    return withVersionStamp(
      {
        status: 'error',
        problem: {
          message: `${file}: a registry must be a JSON list of entries (or one entry object), not ${describeValue(parsed)}`,
        },
      },
      text,
    );
  }
  const entries: unknown[] = singleObject ? [parsed] : (parsed as unknown[]);
  const secretFields = new Map<number, readonly string[]>();
  for (let entryIndex = 0; entryIndex < entries.length; entryIndex++) {
    const { problem, secrets } = checkEntry(entries[entryIndex]);
    if (problem === null) {
      if (secrets.length > 0) secretFields.set(entryIndex, secrets);
      continue;
    }
    return withVersionStamp(
      {
        status: 'error',
        problem: { message: `${file}: entry ${entryIndex}: ${problem.message}`, entryIndex, keyPath: problem.keyPath },
      },
      text,
    );
  }
  return withVersionStamp({ status: 'ok', entries: entries as JsonObject[], singleObject, secretFields }, text);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The offset of the first byte that is not part of valid UTF-8 (only asked once strict decoding failed). */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let position = 0;
  while (position < bytes.length) {
    const lead = bytes[position]!;
    const length =
      lead < 0x80
        ? 1
        : lead >= 0xc2 && lead <= 0xdf
          ? 2
          : lead >= 0xe0 && lead <= 0xef
            ? 3
            : lead >= 0xf0 && lead <= 0xf4
              ? 4
              : 0;
    if (length === 0) return position;
    try {
      strictUtf8.decode(bytes.subarray(position, position + length));
    } catch {
      return position;
    }
    position += length;
  }
  return bytes.length;
}

/**
 * Reads a registry file; a missing file is not an error (the user and working-directory registries are optional).
 * Bytes that are not UTF-8 make it an error with their offset, never text with U+FFFD that a save would write back.
 * `forEditing` also refuses a key that appears twice in one object (JSON keeps only the last), which a rewrite would
 * silently drop: a full scan, so only for files about to be rewritten.
 */
export async function readRegistryFile(
  path: string,
  options: { forEditing?: boolean } = {},
): Promise<RegistryFileContent> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    return {
      status: 'error',
      hash: '',
      problem: { message: `${path}: cannot read the file: ${(error as Error).message}` },
    };
  }
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    return {
      status: 'error',
      hash: hashText(bytes.toString('utf8')),
      problem: {
        message:
          `${path}: byte ${offset} (0x${bytes[offset]?.toString(16).padStart(2, '0') ?? '??'}) is not UTF-8; save ` +
          'the file as UTF-8 (clemplay will not rewrite it until then)',
        byteOffset: offset,
      },
    };
  }
  const content = parseRegistryText(path, text);
  if (options.forEditing !== true || content.status !== 'ok') return content;
  const duplicate = findDuplicateKey(text.startsWith('\uFEFF') ? text.slice(1) : text);
  if (duplicate === null) return content;
  const { line, column } = locate(text, duplicate.offset + (text.startsWith('\uFEFF') ? 1 : 0));
  return {
    status: 'error',
    hash: content.hash,
    problem: {
      message: `${path}:${line}:${column}: ${duplicate.detail} in one entry; JSON keeps only the last — remove the other`,
      line,
      column,
      ...(duplicate.duplicateKey === undefined ? {} : { duplicateKey: duplicate.duplicateKey }),
    },
  };
}

/** The text a registry file is written as: 2-space JSON, entry order kept, a final newline. */
export function formatRegistry(entries: readonly JsonObject[], singleObject: boolean): string {
  const value = singleObject && entries.length === 1 ? entries[0] : entries;
  return `${JSON.stringify(value, null, 2)}\n`;
}
