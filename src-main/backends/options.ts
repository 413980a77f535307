import type { ChatMessage, GenerationOptions } from '../../src-shared/chat.js';
import { AppError } from '../../src-shared/errors.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src-shared/json.js';

/** The generation options a spec may set, at its top level or under `model_config` (clemcore's place for them). */
export const generationOptionKeys = [
  'temperature',
  'max_tokens',
  'top_p',
  'seed',
  'stop',
] as const satisfies readonly (keyof GenerationOptions)[];

/** Separator between the contents of merged consecutive same-role messages; clemcore's `ensure_alternating_roles`. */
export const mergedMessageSeparator = '\n\n';

/**
 * The spec's value at `key`: the top level wins over `model_config` (the top level is clemplay's own place and
 * what a query most likely sets; `model_config` is where clemcore registries keep backend settings). JSON `null`
 * counts as not set. Returns the key path the value came from, for error messages.
 */
export function readSpecSetting(spec: JsonObject, key: string): { value: JsonValue; path: string } | undefined {
  const topLevel = spec[key];
  if (topLevel !== undefined && topLevel !== null) return { value: topLevel, path: key };
  const modelConfig = spec['model_config'];
  if (isJsonObject(modelConfig)) {
    const nested = modelConfig[key];
    if (nested !== undefined && nested !== null) return { value: nested, path: `model_config.${key}` };
  }
  return undefined;
}

type OptionProblem = (path: string, message: string) => AppError;

const specProblem: OptionProblem = (path, message) =>
  new AppError('invalid-spec', `The model spec's \`${path}\` ${message}.`, { key_path: path });

const callProblem: OptionProblem = (path, message) =>
  new AppError('invalid-input', `The generation option \`${path}\` ${message}.`, { key_path: path });

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function checkOption<Key extends (typeof generationOptionKeys)[number]>(
  key: Key,
  value: unknown,
  path: string,
  problem: OptionProblem,
): GenerationOptions[Key] {
  switch (key) {
    case 'temperature':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw problem(path, `must be a number ≥ 0 (OpenAI accepts 0 to 2), not ${describe(value)}`);
      }
      return value as GenerationOptions[Key];
    case 'top_p':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
        throw problem(path, `must be a number from 0 to 1, not ${describe(value)}`);
      }
      return value as GenerationOptions[Key];
    case 'max_tokens':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw problem(path, `must be a whole number ≥ 1, not ${describe(value)}`);
      }
      return value as GenerationOptions[Key];
    case 'seed':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw problem(path, `must be a whole number, not ${describe(value)}`);
      }
      return value as GenerationOptions[Key];
    case 'stop': {
      // OpenAI accepts one string or a list; a list is what every later step handles.
      const list = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(list) || !list.every((item): item is string => typeof item === 'string')) {
        throw problem(path, `must be a string or a list of strings, not ${describe(value)}`);
      }
      // An empty stop string would end every generation before its first character.
      return list.filter((item) => item !== '') as GenerationOptions[Key];
    }
    default:
      return key satisfies never;
  }
}

/** The generation options a spec sets (top level over `model_config`); throws `invalid-spec` naming a bad key. */
export function readSpecGenerationOptions(spec: JsonObject): GenerationOptions {
  const options: GenerationOptions = {};
  for (const key of generationOptionKeys) {
    const setting = readSpecSetting(spec, key);
    if (setting !== undefined) assign(options, key, checkOption(key, setting.value, setting.path, specProblem));
  }
  return options;
}

function assign<Key extends keyof GenerationOptions>(
  options: GenerationOptions,
  key: Key,
  value: GenerationOptions[Key],
): void {
  options[key] = value;
}

/**
 * Per-call options over the spec's (top level, then `model_config`); keys left out or `undefined` fall through.
 * Throws `invalid-spec` for a bad spec value and `invalid-input` for a bad per-call value.
 */
export function mergeGenerationOptions(spec: JsonObject, callOptions: GenerationOptions): GenerationOptions {
  const merged = readSpecGenerationOptions(spec);
  for (const key of generationOptionKeys) {
    const value: unknown = callOptions[key];
    if (value !== undefined && value !== null) assign(merged, key, checkOption(key, value, key, callProblem));
  }
  return merged;
}

/**
 * Messages as chat APIs want them, following clemcore's `ensure_alternating_roles`: empty (or blank) system
 * messages are dropped (for models without a system role), then consecutive messages of one role are merged into
 * one, their contents joined with {@link mergedMessageSeparator}. The input is not changed.
 */
export function normalizeMessages(messages: readonly ChatMessage[]): ChatMessage[] {
  const result: ChatMessage[] = [];
  for (const message of messages) {
    if (message.role === 'system' && message.content.trim() === '') continue;
    const previous = result.at(-1);
    if (previous !== undefined && previous.role === message.role) {
      previous.content = `${previous.content}${mergedMessageSeparator}${message.content}`;
    } else {
      result.push({ role: message.role, content: message.content });
    }
  }
  return result;
}

/**
 * Compiles clemcore's `eos_to_cull`, a Python regular expression, to a global JS one. The common Python-only
 * syntax is translated: leading inline flags `(?i)`, `(?s)`, `(?m)`, named groups `(?P<name>…)` and
 * backreferences `(?P=name)`, and the anchors `\A`, `\Z`. Throws `invalid-spec` when it still does not compile.
 */
export function compileEosPattern(pattern: string, keyPath = 'model_config.eos_to_cull'): RegExp {
  let source = pattern;
  let flags = 'g';
  const inlineFlags = /^\(\?([ims]+)\)/.exec(source);
  if (inlineFlags?.[1] !== undefined) {
    for (const flag of inlineFlags[1]) if (!flags.includes(flag)) flags += flag;
    source = source.slice(inlineFlags[0].length);
  }
  source = source
    .replace(/\(\?P<(\w+)>/g, '(?<$1>')
    .replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
    .replace(/(^|[^\\])((?:\\\\)*)\\A/g, '$1$2^')
    .replace(/(^|[^\\])((?:\\\\)*)\\Z/g, '$1$2$');
  try {
    return new RegExp(source, flags);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppError(
      'invalid-spec',
      `The model spec's \`${keyPath}\` is not a valid regular expression (${reason}): fix or remove it.`,
      { key_path: keyPath, pattern },
    );
  }
}

/** Removes every match of an `eos_to_cull` pattern from a whole text, like clemcore's `re.sub(eos_to_cull, "", …)`. */
export function cullEos(text: string, pattern: string | RegExp): string {
  const regex = typeof pattern === 'string' ? compileEosPattern(pattern) : new RegExp(pattern.source, pattern.flags);
  return text.replace(regex, '');
}

/** A filter over streamed text: `push` a delta, get what may be shown now; `flush` at the end for the rest. */
export interface StreamTextFilter {
  push(text: string): string;
  flush(): string;
}

/**
 * The literal strings a pattern matches when it is only literals joined by `|` (the usual `eos_to_cull`, such as
 * `<\|im_end\|>` or `</s>`), else undefined.
 */
function literalAlternatives(regex: RegExp): string[] | undefined {
  if (regex.flags.includes('i')) return undefined;
  const alternatives: string[] = [];
  let current = '';
  const source = regex.source;
  for (let index = 0; index < source.length; index += 1) {
    const character = source[index] ?? '';
    if (character === '\\') {
      const next = source[index + 1];
      // `\d`, `\s`, `\b`, … are classes or anchors, not literals.
      if (next === undefined || /[0-9A-Za-z]/.test(next)) return undefined;
      current += next;
      index += 1;
    } else if (character === '|') {
      alternatives.push(current);
      current = '';
    } else if ('.^$*+?()[]{}'.includes(character)) {
      return undefined;
    } else {
      current += character;
    }
  }
  alternatives.push(current);
  return alternatives.every((alternative) => alternative !== '') ? alternatives : undefined;
}

/** The length of the longest end of `text` that is a proper start of one of `needles` (so may still grow into it). */
function heldBackLength(text: string, needles: readonly string[]): number {
  let longest = 0;
  for (const needle of needles) {
    const limit = Math.min(needle.length - 1, text.length);
    for (let length = limit; length > longest; length -= 1) {
      if (needle.startsWith(text.slice(text.length - length))) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}

/** How much text a general (non-literal) `eos_to_cull` pattern holds back while streaming, in characters. */
export const eosHoldBackCharacters = 64;

/**
 * Applies `eos_to_cull` to streamed text so that no text is shown that a later delta turns into a match.
 * For a pattern of literals joined by `|` it holds back exactly the end that could still become one; for any
 * other pattern it holds back the last {@link eosHoldBackCharacters} characters, plus a match that reaches the
 * end of the text so far (it may still grow, as `<\|im_end\|>.*` does). A match longer than that window that
 * starts in text already shown cannot be taken back; at `flush` the rest is culled in full, so a whole text
 * pushed at once is culled exactly as {@link cullEos} does.
 */
export class EosCuller implements StreamTextFilter {
  private readonly regex: RegExp;
  private readonly literals: string[] | undefined;
  private held = '';

  constructor(pattern: string | RegExp) {
    this.regex = typeof pattern === 'string' ? compileEosPattern(pattern) : new RegExp(pattern.source, pattern.flags);
    if (!this.regex.global) this.regex = new RegExp(this.regex.source, `${this.regex.flags}g`);
    this.literals = literalAlternatives(this.regex);
  }

  push(text: string): string {
    this.held += text;
    return this.drain(false);
  }

  flush(): string {
    return this.drain(true);
  }

  private drain(final: boolean): string {
    const held = this.held;
    let cut = final
      ? held.length
      : this.literals !== undefined
        ? held.length - heldBackLength(held, this.literals)
        : Math.max(0, held.length - eosHoldBackCharacters);
    const matches: { start: number; end: number }[] = [];
    this.regex.lastIndex = 0;
    for (let match = this.regex.exec(held); match !== null; match = this.regex.exec(held)) {
      if (match[0] === '') {
        // An empty match culls nothing; step over it or exec would find it forever.
        this.regex.lastIndex += 1;
        continue;
      }
      matches.push({ start: match.index, end: match.index + match[0].length });
    }
    if (!final) {
      for (const match of matches) {
        const mayGrow = this.literals === undefined && match.end === held.length;
        if (match.start < cut && (match.end > cut || mayGrow)) {
          cut = match.start;
          break;
        }
      }
    }
    let output = '';
    let position = 0;
    for (const match of matches) {
      if (match.end > cut) break;
      output += held.slice(position, match.start);
      position = match.end;
    }
    output += held.slice(position, cut);
    this.held = held.slice(cut);
    return output;
  }
}

/**
 * Ends streamed text at the first stop string, client side, for servers that ignore `stop`. Holds back an end
 * that could still grow into a stop string. After a stop string, `stopped` is true and all further text is
 * dropped; the stop string itself is never shown, as with OpenAI's `stop`.
 */
export class StopStringFilter implements StreamTextFilter {
  private readonly stops: string[];
  private held = '';
  private hasStopped = false;

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((stop) => stop !== '');
  }

  /** Whether a stop string has been seen. */
  get stopped(): boolean {
    return this.hasStopped;
  }

  push(text: string): string {
    if (this.hasStopped) return '';
    if (this.stops.length === 0) return text;
    this.held += text;
    let first = -1;
    for (const stop of this.stops) {
      const index = this.held.indexOf(stop);
      if (index !== -1 && (first === -1 || index < first)) first = index;
    }
    if (first !== -1) {
      const output = this.held.slice(0, first);
      this.held = '';
      this.hasStopped = true;
      return output;
    }
    const keep = heldBackLength(this.held, this.stops);
    const output = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return output;
  }

  flush(): string {
    const output = this.held;
    this.held = '';
    return output;
  }
}
