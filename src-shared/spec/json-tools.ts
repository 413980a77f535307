import type { JsonObject, JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';

/** One step of a key path into a spec: an object key or an array index. */
export type PathSegment = string | number;

/**
 * Sets an own property, also for the key `__proto__`: plain assignment of that key would replace the object's
 * prototype instead, and JSON (and so a spec) may legitimately carry it as a key.
 */
export function setOwnKey(target: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** The value of an own key, or undefined: `spec[key]` alone would find `constructor` and friends on the prototype. */
export function ownValue(target: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(target, key) ? target[key] : undefined;
}

/** JSON equality that ignores key order (specs compare as JSON, and key order carries no meaning in unification). */
export function jsonEqual(left: JsonValue, right: JsonValue): boolean {
  if (left === right) return true;
  if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null) return false;
  if (Array.isArray(left)) {
    if (!Array.isArray(right) || left.length !== right.length) return false;
    for (let position = 0; position < left.length; position++) {
      if (!jsonEqual(left[position] as JsonValue, right[position] as JsonValue)) return false;
    }
    return true;
  }
  if (Array.isArray(right)) return false;
  const leftKeys = Object.keys(left);
  if (leftKeys.length !== Object.keys(right).length) return false;
  for (const key of leftKeys) {
    if (!Object.hasOwn(right, key) || !jsonEqual(left[key] as JsonValue, right[key] as JsonValue)) return false;
  }
  return true;
}

/** A fresh copy, so that a result never shares (and lets a caller mutate) an input's objects. */
export function copyJson(value: JsonValue): JsonValue {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson);
  const copy: JsonObject = {};
  const keys = Object.keys(value);
  for (let position = 0; position < keys.length; position++) {
    const key = keys[position] as string;
    setOwnKey(copy, key, copyJson(value[key] as JsonValue));
  }
  return copy;
}

/** Like {@link copyJson}, typed for objects. */
export function copyJsonObject(value: JsonObject): JsonObject {
  const copy = copyJson(value);
  return isJsonObject(copy) ? copy : {};
}

const plainKeyPattern = /^[^.[\]"\s]+$/;

/**
 * A key path as people read it: `model_config.eos_to_cull`, `stop[1]`, `(root)` for the whole spec. Keys that would
 * be ambiguous in dotted form (dots, brackets, spaces, empty) are written as `["a.b"]`.
 */
export function formatPath(segments: readonly PathSegment[]): string {
  if (segments.length === 0) return '(root)';
  let text = '';
  for (const segment of segments) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (plainKeyPattern.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** A JSON value as one short line for messages: long values are cut with an ellipsis so a message stays readable. */
export function describeJson(value: JsonValue | undefined, maximumLength = 60): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > maximumLength ? `${text.slice(0, maximumLength - 1)}…` : text;
}

/**
 * How deep objects and arrays may nest in a query, a spec or a registry entry: far beyond any real one, and far below
 * what the recursive unifier (and JSON.stringify) can take without overflowing the stack.
 */
export const maximumJsonNesting = 512;

/**
 * The key path to an object or array nested more than `limit` levels deep (the value itself is level 1), or null when
 * there is none. Iterative, since the values it is for are too deep for recursion; it allocates as it goes, so a hot
 * path checks first with a walk that stops at the limit (`secretFieldPathsWithin` does, for registry entries).
 */
export function findTooDeep(value: unknown, limit: number = maximumJsonNesting): PathSegment[] | null {
  if (typeof value !== 'object' || value === null) return null;
  // Containers with their parent's position in `nodes` and their own key, to rebuild the path once found.
  const nodes: { parent: number; segment: PathSegment }[] = [];
  const pending: { value: object; depth: number; node: number }[] = [{ value, depth: 1, node: -1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > limit) {
      const path: PathSegment[] = [];
      for (let node = next.node; node !== -1; node = nodes[node]!.parent) path.push(nodes[node]!.segment);
      return path.reverse();
    }
    const entries: [PathSegment, unknown][] = Array.isArray(next.value)
      ? next.value.map((item: unknown, index) => [index, item])
      : Object.entries(next.value);
    for (const [segment, child] of entries) {
      if (typeof child !== 'object' || child === null) continue;
      nodes.push({ parent: next.node, segment });
      pending.push({ value: child, depth: next.depth + 1, node: nodes.length - 1 });
    }
  }
  return null;
}

/** A key path that may be hundreds of steps long, as a message shows it: its start, and how deep it goes. */
export function formatLongPath(segments: readonly PathSegment[], shown = 6): string {
  if (segments.length <= shown) return formatPath(segments);
  return `${formatPath(segments.slice(0, shown))}… (${segments.length} levels down)`;
}
