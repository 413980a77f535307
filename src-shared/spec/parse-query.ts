/**
 * Reading a query as a person types it (DESIGN.md, "Lookup"): a model name, or a JSON object. The JSON reader is
 * our own so that it can say exactly where text is broken, and tolerate clemcore's Python habits: single-quoted
 * strings (`{'model_name': 'x'}`, where `\'` escapes a quote) and `True`/`False`/`None`. Otherwise it is strict JSON;
 * a duplicated key keeps its last value, as `JSON.parse` does.
 */
import type { JsonObject, JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import { formatPath, maximumJsonNesting, setOwnKey } from './json-tools.js';
import type { PathSegment } from './json-tools.js';

/** Why a query could not be read: where (1-based line and column; both 0 when the query was not text) and why. */
export interface ParseQueryError {
  code: 'invalid-spec';
  message: string;
  line: number;
  column: number;
}

/** The outcome of {@link parseQuery}. */
export type ParseResult = { ok: true; query: JsonObject } | { ok: false; error: ParseQueryError };

class SyntaxProblem {
  constructor(
    readonly offset: number,
    readonly detail: string,
  ) {}
}

/** 1-based line and column (in UTF-16 code units, as editors count) of an offset; `\r\n`, `\n` and `\r` end lines. */
export function locate(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let position = 0; position < offset && position < text.length; position++) {
    const code = text.charCodeAt(position);
    if (code === 10 || (code === 13 && text.charCodeAt(position + 1) !== 10)) {
      line++;
      lineStart = position + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function describeCharacter(character: string): string {
  const code = character.charCodeAt(0);
  if (code < 0x20 || code === 0x7f) return JSON.stringify(character);
  return character === "'" ? `"'"` : `'${character}'`;
}

const simpleEscapes: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

const wordLiterals: Readonly<Record<string, JsonValue>> = {
  true: true,
  false: false,
  null: null,
  True: true,
  False: false,
  None: null,
};

const whitespacePattern = /\s/;
const wordCharacterPattern = /[A-Za-z0-9_$]/;
const hexPattern = /^[0-9A-Fa-f]{4}$/;

class TolerantJsonReader {
  private position = 0;

  constructor(private readonly text: string) {}

  private problem(detail: string, offset = this.position): SyntaxProblem {
    return new SyntaxProblem(offset, detail);
  }

  private at(): string {
    return this.text[this.position] ?? '';
  }

  private skipWhitespace(): void {
    while (this.position < this.text.length) {
      const code = this.text.charCodeAt(this.position);
      if (code === 32 || code === 10 || code === 13 || code === 9) this.position++;
      else if (code > 127 && whitespacePattern.test(this.at())) this.position++;
      else return;
    }
  }

  readDocument(start: number): JsonValue {
    this.position = start;
    const value = this.readValue(0);
    this.skipWhitespace();
    if (this.position < this.text.length) {
      throw this.problem(`unexpected ${describeCharacter(this.at())} after the end of the JSON object`);
    }
    return value;
  }

  private readValue(depth: number): JsonValue {
    this.skipWhitespace();
    const character = this.at();
    if (character === '') throw this.problem('unexpected end of input, expected a value');
    if (character === '{') return this.readObject(depth);
    if (character === '[') return this.readArray(depth);
    if (character === '"' || character === "'") return this.readString();
    if (character === '-' || (character >= '0' && character <= '9')) return this.readNumber();
    if (wordCharacterPattern.test(character)) return this.readWord();
    throw this.problem(`unexpected ${describeCharacter(character)}, expected a value`);
  }

  private readObject(depth: number): JsonObject {
    if (depth >= maximumJsonNesting) throw this.problem(`nested deeper than ${maximumJsonNesting} levels`);
    this.position++;
    const object: JsonObject = {};
    this.skipWhitespace();
    if (this.at() === '}') {
      this.position++;
      return object;
    }
    for (;;) {
      this.skipWhitespace();
      const character = this.at();
      if (character !== '"' && character !== "'") {
        if (character === '') throw this.problem('unexpected end of input, expected a quoted key');
        if (character === '}') throw this.problem("expected a quoted key after ',' (remove the trailing comma)");
        throw this.problem(`expected a quoted key, found ${describeCharacter(character)}`);
      }
      const key = this.readString();
      this.skipWhitespace();
      if (this.at() !== ':') throw this.problem(`expected ':' after the key ${JSON.stringify(key)}`);
      this.position++;
      setOwnKey(object, key, this.readValue(depth + 1));
      this.skipWhitespace();
      const next = this.at();
      if (next === ',') {
        this.position++;
      } else if (next === '}') {
        this.position++;
        return object;
      } else {
        throw this.problem(next === '' ? "unexpected end of input, expected ',' or '}'" : "expected ',' or '}'");
      }
    }
  }

  private readArray(depth: number): JsonValue[] {
    if (depth >= maximumJsonNesting) throw this.problem(`nested deeper than ${maximumJsonNesting} levels`);
    this.position++;
    const array: JsonValue[] = [];
    this.skipWhitespace();
    if (this.at() === ']') {
      this.position++;
      return array;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.at() === ']') throw this.problem("expected a value after ',' (remove the trailing comma)");
      array.push(this.readValue(depth + 1));
      this.skipWhitespace();
      const next = this.at();
      if (next === ',') {
        this.position++;
      } else if (next === ']') {
        this.position++;
        return array;
      } else {
        throw this.problem(next === '' ? "unexpected end of input, expected ',' or ']'" : "expected ',' or ']'");
      }
    }
  }

  private readString(): string {
    const quote = this.text.charCodeAt(this.position);
    const opening = this.position;
    const opened = (): string => {
      const { line, column } = locate(this.text, opening);
      return `the string opened at line ${line}, column ${column}`;
    };
    this.position++;
    let value = '';
    let chunkStart = this.position;
    for (;;) {
      if (this.position >= this.text.length) {
        throw this.problem(`unexpected end of input inside a string (missing closing quote for ${opened()})`);
      }
      const code = this.text.charCodeAt(this.position);
      if (code === quote) {
        value += this.text.slice(chunkStart, this.position);
        this.position++;
        return value;
      }
      if (code === 92) {
        value += this.text.slice(chunkStart, this.position);
        value += this.readEscape();
        chunkStart = this.position;
        continue;
      }
      if (code === 10 || code === 13) {
        throw this.problem(`line break inside a string (missing closing quote for ${opened()}? write \\n for one)`);
      }
      if (code < 0x20) {
        throw this.problem(`control character ${describeCharacter(this.at())} inside a string; escape it as \\u00XX`);
      }
      this.position++;
    }
  }

  private readEscape(): string {
    const backslashAt = this.position;
    const character = this.text[this.position + 1] ?? '';
    if (character === '') throw this.problem('unexpected end of input after \\ in a string');
    const simple = simpleEscapes[character];
    if (simple !== undefined && Object.hasOwn(simpleEscapes, character)) {
      this.position += 2;
      return simple;
    }
    if (character === 'u') {
      const digits = this.text.slice(this.position + 2, this.position + 6);
      if (!hexPattern.test(digits)) throw this.problem('expected 4 hex digits after \\u', backslashAt);
      this.position += 6;
      return String.fromCharCode(Number.parseInt(digits, 16));
    }
    throw this.problem(`invalid escape \\${character} in a string (to write a backslash, write \\\\)`, backslashAt);
  }

  private readDigits(): number {
    const start = this.position;
    while (this.at() >= '0' && this.at() <= '9') this.position++;
    return this.position - start;
  }

  private readNumber(): number {
    const start = this.position;
    if (this.at() === '-') this.position++;
    if (this.at() === '0') {
      this.position++;
      if (this.at() >= '0' && this.at() <= '9') {
        throw this.problem('invalid number: leading zeros are not allowed');
      }
    } else if (this.readDigits() === 0) {
      throw this.problem('invalid number: expected a digit');
    }
    if (this.at() === '.') {
      this.position++;
      if (this.readDigits() === 0) throw this.problem("invalid number: expected a digit after '.'");
    }
    if (this.at() === 'e' || this.at() === 'E') {
      this.position++;
      if (this.at() === '+' || this.at() === '-') this.position++;
      if (this.readDigits() === 0) throw this.problem('invalid number: expected a digit in the exponent');
    }
    const value = Number(this.text.slice(start, this.position));
    if (!Number.isFinite(value)) throw this.problem('number out of range', start);
    return value;
  }

  private readWord(): JsonValue {
    const start = this.position;
    while (this.position < this.text.length && wordCharacterPattern.test(this.at())) this.position++;
    const word = this.text.slice(start, this.position);
    if (Object.hasOwn(wordLiterals, word)) return wordLiterals[word] ?? null;
    throw this.problem(`unexpected word ${JSON.stringify(word)}, expected a value (strings need quotes)`, start);
  }
}

function invalid(message: string, line: number, column: number): ParseResult {
  return { ok: false, error: { code: 'invalid-spec', message, line, column } };
}

/**
 * The first place in an object that is not JSON (undefined, NaN, a function, …) or is nested too deep, or null when
 * it all is. `path` is where `value` is, pushed and popped as the walk goes: most values pass and need no path.
 */
function firstNonJson(value: unknown, path: PathSegment[], depth: number): { path: string; problem: string } | null {
  if (depth > maximumJsonNesting)
    return { path: formatPath(path), problem: `nested deeper than ${maximumJsonNesting} levels` };
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number')
    return Number.isFinite(value) ? null : { path: formatPath(path), problem: String(value) };
  if (Array.isArray(value)) {
    for (let position = 0; position < value.length; position++) {
      path.push(position);
      const found = firstNonJson(value[position], path, depth + 1);
      path.pop();
      if (found !== null) return found;
    }
    return null;
  }
  if (isJsonObject(value)) {
    const keys = Object.keys(value);
    for (let position = 0; position < keys.length; position++) {
      const key = keys[position] as string;
      path.push(key);
      const found = firstNonJson(value[key], path, depth + 1);
      path.pop();
      if (found !== null) return found;
    }
    return null;
  }
  return { path: formatPath(path), problem: typeof value };
}

/** The object that strict JSON text holds, or null when it is not strict JSON, not an object, or not all JSON. */
function strictJsonObject(text: string): JsonObject | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return isJsonObject(value) && firstNonJson(value, [], 0) === null ? value : null;
}

const example = '{"model_name": "gpt-4o-mini"}';

/**
 * Reads a query: a plain string is a model name (`{ model_name: input.trim() }`); text that starts with `{` (or `[`,
 * to report it) is read as JSON and must be an object. An object is checked to be JSON and returned as it is.
 * Broken JSON is an error with its line and column, never taken for a name.
 */
export function parseQuery(input: string | JsonObject): ParseResult {
  if (typeof input !== 'string') {
    if (!isJsonObject(input)) return invalid(`a query must be a model name or a JSON object such as ${example}`, 0, 0);
    const found = firstNonJson(input, [], 0);
    return found === null
      ? { ok: true, query: input }
      : invalid(`the query is not JSON at ${found.path}: ${found.problem}`, 0, 0);
  }
  const trimmed = input.trim();
  if (trimmed === '') return invalid(`empty query: give a model name or a JSON object such as ${example}`, 1, 1);
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return { ok: true, query: { model_name: trimmed } };
  // Strict JSON, what programs send, is read by the engine's own parser; it must still be all JSON (no number out of
  // range, nothing nested too deep). Anything else goes to our reader, which takes Python's habits and says where
  // text is broken. Both keep the last value of a duplicated key.
  const strict = strictJsonObject(trimmed);
  if (strict !== null) return { ok: true, query: strict };
  const start = input.length - input.trimStart().length;
  let value: JsonValue;
  try {
    value = new TolerantJsonReader(input).readDocument(start);
  } catch (error) {
    if (!(error instanceof SyntaxProblem)) throw error;
    const { line, column } = locate(input, error.offset);
    return invalid(`invalid JSON at line ${line}, column ${column}: ${error.detail}`, line, column);
  }
  if (!isJsonObject(value)) {
    const { line, column } = locate(input, start);
    return invalid(`a query must be a JSON object such as ${example}, not an array`, line, column);
  }
  return { ok: true, query: value };
}
