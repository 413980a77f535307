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

/** Whether a field of that name holds a credential: dropped from exports, redacted from output, refused in entries. */
export function isSecretFieldName(name: string): boolean {
  if (specialTokenPattern.test(name)) return false;
  return secretFieldPattern.test(name) || camelCaseSecretFieldPattern.test(name);
}

/** What a secret's text is shown as. */
export const redactedValue = '[redacted]';

/** Removes user names and passwords from URLs in text: `http://user:pass@host/v1` → `http://host/v1`. */
export function stripUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s"']*@/gi, '$1');
}

/**
 * The key paths (`model_config.api_key`) of secret-named fields holding text, at any depth. A flag such as clemcore's
 * `requires_api_key: true` holds no secret and is not listed.
 */
export function secretFieldPaths(value: JsonValue): string[] {
  const found: string[] = [];
  const visit = (current: JsonValue, path: PathSegment[]): void => {
    if (Array.isArray(current)) {
      current.forEach((item, index) => visit(item, [...path, index]));
    } else if (isJsonObject(current)) {
      for (const [name, item] of Object.entries(current)) {
        if (typeof item === 'string' && item !== '' && isSecretFieldName(name)) found.push(formatPath([...path, name]));
        else visit(item, [...path, name]);
      }
    }
  };
  visit(value, []);
  return found;
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
