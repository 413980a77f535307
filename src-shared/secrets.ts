import { isJsonObject, type JsonObject, type JsonValue } from './json.js';
import { formatPath, setOwnKey, type PathSegment } from './spec/json-tools.js';

/**
 * Field names that hold secrets: `key`, `api_key`, `apiKey`, `x-api-key`, `token`, `access_token`, `password`,
 * `authorization`, … The last word must be one of them, so `max_tokens` and `tokenizer` stay.
 */
const secretFieldPattern = /(?:^|[_.-])(?:api[_-]?key|key|token|secret|password|passwd|authorization|credentials?)$/i;
/** The camelCase spellings (`apiKey`, `accessToken`); case-sensitive, so that `monkey` is no key. */
const camelCaseSecretFieldPattern = /[a-z0-9](?:Key|Token|Secret|Password)$/;
/** A tokenizer's special tokens (`eos_token: "</s>"`) are text a model needs, not credentials. */
const specialTokenPattern = /^(?:bos|eos|pad|unk|sep|cls|mask|start|end|stop|eot|eom)_token$/i;

/**
 * The answers so far, by name: every registry entry loaded is searched for secrets, and the same few names
 * (`model_name`, `backend`, …) come up in each. Cleared when it holds this many, so odd names cannot grow it.
 */
const knownNames = new Map<string, boolean>();
const knownNamesLimit = 10_000;

/** Whether a field of that name holds a credential: dropped from exports, redacted from output, refused in entries. */
export function isSecretFieldName(name: string): boolean {
  const known = knownNames.get(name);
  if (known !== undefined) return known;
  const secret =
    !specialTokenPattern.test(name) && (secretFieldPattern.test(name) || camelCaseSecretFieldPattern.test(name));
  if (knownNames.size >= knownNamesLimit) knownNames.clear();
  knownNames.set(name, secret);
  return secret;
}

/** What a secret's text is shown as. */
export const redactedValue = '[redacted]';

/** Removes user names and passwords from URLs in text: `http://user:pass@host/v1` → `http://host/v1`. */
export function stripUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s"']*@/gi, '$1');
}

/** The path of the walk in progress, pushed and popped: one walk never runs inside another. */
const walkPath: PathSegment[] = [];

/** The paths found by the walk in progress; null until it finds one (most values hold none). */
let walkFound: string[] | null = null;

/**
 * Adds to {@link walkFound} the paths of secret-named fields holding text under `value`. Stops with false where a
 * container lies more than `levelsLeft` levels below `value`, so the recursion never goes deeper than the limit.
 */
function collectSecretFields(value: JsonValue, levelsLeft: number): boolean {
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const item = value[index] as JsonValue;
      if (typeof item === 'object' && item !== null && !collectBelow(item, index, levelsLeft)) return false;
    }
    return true;
  }
  if (!isJsonObject(value)) return true;
  const names = Object.keys(value);
  for (let position = 0; position < names.length; position++) {
    const name = names[position] as string;
    const item = value[name] as JsonValue;
    if (typeof item === 'string') {
      if (item !== '' && isSecretFieldName(name)) (walkFound ??= []).push(formatPath([...walkPath, name]));
    } else if (typeof item === 'object' && item !== null && !collectBelow(item, name, levelsLeft)) {
      return false;
    }
  }
  return true;
}

/** {@link collectSecretFields} one level down, in the container `child` found at `segment`. */
function collectBelow(child: JsonValue, segment: PathSegment, levelsLeft: number): boolean {
  if (levelsLeft <= 0) return false;
  walkPath.push(segment);
  const within = collectSecretFields(child, levelsLeft - 1);
  walkPath.pop();
  return within;
}

/** What {@link secretFieldPathsWithin} returns for a value without secrets: one shared, frozen empty list. */
const noSecretFields: readonly string[] = Object.freeze([]);

/**
 * {@link secretFieldPaths} and a depth check in one walk, for what is walked anyway (every entry of every registry
 * loaded): null when an object or array in `value` lies more than `limit` levels deep (`value` itself is level 1).
 */
export function secretFieldPathsWithin(value: JsonValue, limit: number): readonly string[] | null {
  walkPath.length = 0;
  walkFound = null;
  const within = collectSecretFields(value, limit - 1);
  const found = walkFound ?? noSecretFields;
  walkFound = null;
  return within ? found : null;
}

/**
 * The key paths (`model_config.api_key`) of secret-named fields holding text, at any depth. A flag such as clemcore's
 * `requires_api_key: true` holds no secret and is not listed.
 */
export function secretFieldPaths(value: JsonValue): readonly string[] {
  return secretFieldPathsWithin(value, Number.POSITIVE_INFINITY) ?? noSecretFields;
}

/**
 * A copy with the text of every secret-named field replaced by {@link redactedValue}, for showing specs and entries:
 * the field stays visible, so a person sees it is there and can remove it. The value itself when it has none.
 */
export function redactSecretFields<Value extends JsonValue>(value: Value): Value {
  if (secretFieldPaths(value).length === 0) return value;
  const copy = (current: JsonValue): JsonValue => {
    if (Array.isArray(current)) return current.map(copy);
    if (!isJsonObject(current)) return current;
    const result: JsonObject = {};
    for (const [name, item] of Object.entries(current)) {
      const hidden = typeof item === 'string' && item !== '' && isSecretFieldName(name);
      setOwnKey(result, name, hidden ? redactedValue : copy(item));
    }
    return result;
  };
  return copy(value) as Value;
}
