/**
 * Unification of specs (DESIGN.md, "The idea it is built on: specs unify").
 *
 * Variables: a string `?name` (a question mark and one or more non-whitespace characters) is a variable. Both
 * inputs of one `unify` call are one problem, so `?m` in the query and `?m` in the entry are the same variable.
 * Whitespace is excluded from names so that ordinary values such as the stop sequence `"?\n"` stay literal.
 *
 * Literals: a string that starts with backslashes followed by `?` is escaped; its user-facing form has one leading
 * backslash less (`"\\?m"` means the text `?m`, `"\\\\?m"` the text `\?m`). Unification compares strings as they
 * are written, so results keep the escaped form and can be fed back to `unify` without a literal turning into a
 * variable. {@link finalizeSpec} turns a result into its user-facing form, for backends and display only.
 */
import type { JsonObject, JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import type { PathSegment } from './json-tools.js';
import { copyJson, formatPath, setOwnKey } from './json-tools.js';

/** Which input of {@link unify} a value came from: `left` is the first argument (the query), `right` the second. */
export type Side = 'left' | 'right';

/** Two specs that agree: their unified spec, and the value each variable ended up with. */
export interface UnifySuccess {
  ok: true;
  /** The unified spec: keys of `left` first in its order, then the remaining keys of `right` in theirs. */
  value: JsonObject;
  /** Every variable that got bound, by its full spelling (`?m`), to its final value (an unbound one: a variable). */
  bindings: Record<string, JsonValue>;
  /** For each key of `bindings` whose value is not a bare variable: the input that supplied that value first. */
  bindingSides: Record<string, Side>;
}

/** Two specs that contradict each other: where (the first conflict found) and why. */
export interface UnifyFailure {
  ok: false;
  /** The key path of the conflict: `model_config.eos_to_cull`, `stop[1]`, or `(root)`. */
  path: string;
  /** The same path as segments, for editors that locate it in a document. */
  pathSegments: PathSegment[];
  /** The value on the left (query) side at `path`, with a variable replaced by the value bound to it. */
  left: JsonValue;
  /** The value on the right (entry) side at `path`, likewise. */
  right: JsonValue;
  /** Why they do not unify, e.g. `different values`, `arrays of different length`, `occurs check: …`. */
  reason: string;
}

/** The outcome of {@link unify}; failure is a result, never an exception. */
export type UnifyResult = UnifySuccess | UnifyFailure;

const variablePattern = /^\?\S+$/;
const escapedLiteralPattern = /^\\+\?/;
const questionMark = 63;
const backslash = 92;

/** Whether a value is a variable (`?name`). */
export function isVariable(value: JsonValue | undefined): value is string {
  return (
    typeof value === 'string' &&
    value.length >= 2 &&
    value.charCodeAt(0) === questionMark &&
    variablePattern.test(value)
  );
}

/** The spec form of a user's literal text: `?m` becomes `\?m`, so that it is never taken for a variable. */
export function escapeLiteral(text: string): string {
  return escapedLiteralPattern.test(text) || text.charCodeAt(0) === questionMark ? `\\${text}` : text;
}

/** The user-facing text of a spec string: one leading backslash less before a `?`; anything else unchanged. */
export function unescapeLiteral(text: string): string {
  return text.charCodeAt(0) === backslash && escapedLiteralPattern.test(text) ? text.slice(1) : text;
}

function finalizeValue(value: JsonValue): JsonValue {
  if (typeof value === 'string') return unescapeLiteral(value);
  if (typeof value !== 'object' || value === null) return value;
  // Returning the input itself when nothing changed keeps finalizing a typical spec free of allocation.
  if (Array.isArray(value)) {
    let copy: JsonValue[] | null = null;
    for (let position = 0; position < value.length; position++) {
      const item = value[position] as JsonValue;
      const finalized = finalizeValue(item);
      if (finalized !== item && copy === null) copy = value.slice(0, position);
      if (copy !== null) copy.push(finalized);
    }
    return copy ?? value;
  }
  // The copy starts at the first key whose value changed.
  let copy: JsonObject | null = null;
  const keys = Object.keys(value);
  for (let position = 0; position < keys.length; position++) {
    const key = keys[position] as string;
    const item = value[key] as JsonValue;
    const finalized = finalizeValue(item);
    if (copy === null) {
      if (finalized === item) continue;
      copy = {};
      for (let earlier = 0; earlier < position; earlier++) {
        const earlierKey = keys[earlier] as string;
        setOwnKey(copy, earlierKey, value[earlierKey] as JsonValue);
      }
    }
    setOwnKey(copy, key, finalized);
  }
  return copy ?? value;
}

/**
 * The user-facing form of a unified spec: escaped literals unescaped (keys are never variables and stay as they
 * are). Do not feed the output back to {@link unify}: an unescaped `?m` would read as a variable there. Shares
 * structure with the input where nothing changed.
 */
export function finalizeSpec(spec: JsonObject): JsonObject {
  const finalized = finalizeValue(spec);
  return isJsonObject(finalized) ? finalized : spec;
}

/** Deeper specs than this are refused rather than risking the call stack; real specs are a few levels deep. */
const maximumDepth = 1000;

const failed: unique symbol = Symbol('failed');
type Failed = typeof failed;

function kindOf(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

class CycleError extends Error {
  constructor(readonly variable: string) {
    super(`occurs check: ${variable} would contain itself`);
  }
}

class Unifier {
  /** A variable's binding: a value, or another variable it has been linked to. Absent: unbound. */
  private readonly links = new Map<string, JsonValue>();
  private readonly origins = new Map<string, Side>();
  private readonly path: PathSegment[] = [];
  failure: UnifyFailure | null = null;

  private find(variable: string): string {
    let current = variable;
    for (;;) {
      const next = this.links.get(current);
      if (next === undefined || !isVariable(next)) return current;
      current = next;
    }
  }

  private fail(left: JsonValue, right: JsonValue, reason: string): Failed {
    this.failure = { ok: false, path: formatPath(this.path), pathSegments: [...this.path], left, right, reason };
    return failed;
  }

  private mismatch(left: JsonValue, right: JsonValue): Failed {
    const leftKind = kindOf(left);
    const rightKind = kindOf(right);
    return this.fail(left, right, leftKind === rightKind ? 'different values' : `${leftKind} vs ${rightKind}`);
  }

  /** Whether binding `root` to `value` would make a variable contain itself (`?x = {"a": ?x}`). */
  private occurs(root: string, value: JsonValue): boolean {
    if (typeof value !== 'object' && !isVariable(value)) return false;
    // Iterative with a visited set: bound values can nest deeper than the inputs, and shared ones are walked once.
    const visited = new Set<string>();
    const pending: JsonValue[] = [value];
    while (pending.length > 0) {
      const current = pending.pop() as JsonValue;
      if (isVariable(current)) {
        const currentRoot = this.find(current);
        if (currentRoot === root) return true;
        if (visited.has(currentRoot)) continue;
        visited.add(currentRoot);
        const bound = this.links.get(currentRoot);
        if (bound !== undefined) pending.push(bound);
      } else if (Array.isArray(current)) {
        for (const item of current) pending.push(item);
      } else if (typeof current === 'object' && current !== null) {
        for (const key of Object.keys(current)) pending.push(current[key] as JsonValue);
      }
    }
    return false;
  }

  /** Binds `root` to a structure merged from its old value, unless that would make it contain itself. */
  private rebind(root: string, previous: JsonValue, merged: JsonValue, left: JsonValue, right: JsonValue): boolean {
    if (merged === previous) return true;
    if (this.occurs(root, merged)) {
      this.fail(left, right, `occurs check: ${root} would contain itself`);
      return false;
    }
    this.links.set(root, merged);
    return true;
  }

  unifyValues(left: JsonValue, right: JsonValue, depth: number): JsonValue | Failed {
    if (depth > maximumDepth) return this.fail(left, right, `nested deeper than ${maximumDepth} levels`);
    if (isVariable(left)) {
      return isVariable(right)
        ? this.unifyTwoVariables(left, right, depth)
        : this.unifyVariable(left, right, 'left', depth);
    }
    if (isVariable(right)) return this.unifyVariable(right, left, 'right', depth);
    if (typeof left !== 'object' || left === null || typeof right !== 'object' || right === null) {
      return left === right ? left : this.mismatch(left, right);
    }
    if (Array.isArray(left)) {
      if (!Array.isArray(right)) return this.mismatch(left, right);
      if (left.length !== right.length) {
        return this.fail(left, right, `arrays of different length (${left.length} vs ${right.length})`);
      }
      const merged: JsonValue[] = [];
      for (let position = 0; position < left.length; position++) {
        this.path.push(position);
        const item = this.unifyValues(left[position] as JsonValue, right[position] as JsonValue, depth + 1);
        if (item === failed) return failed;
        this.path.pop();
        merged.push(item);
      }
      return merged;
    }
    if (Array.isArray(right)) return this.mismatch(left, right);
    const merged: JsonObject = {};
    for (const key of Object.keys(left)) {
      const leftValue = left[key] as JsonValue;
      if (Object.hasOwn(right, key)) {
        this.path.push(key);
        const value = this.unifyValues(leftValue, right[key] as JsonValue, depth + 1);
        if (value === failed) return failed;
        this.path.pop();
        setOwnKey(merged, key, value);
      } else {
        setOwnKey(merged, key, copyJson(leftValue));
      }
    }
    for (const key of Object.keys(right)) {
      if (!Object.hasOwn(left, key)) setOwnKey(merged, key, copyJson(right[key] as JsonValue));
    }
    return merged;
  }

  /**
   * The result keeps the variable itself at this place, so that a later merge into its value (the same variable
   * met again with another object) reaches every place it occurs when the result is resolved.
   */
  private unifyVariable(variable: string, value: JsonValue, variableSide: Side, depth: number): JsonValue | Failed {
    const valueSide: Side = variableSide === 'left' ? 'right' : 'left';
    const root = this.find(variable);
    const bound = this.links.get(root);
    // `??` would be wrong here: a variable bound to null is bound.
    const standIn = bound === undefined ? variable : bound;
    const [left, right] = variableSide === 'left' ? [standIn, value] : [value, standIn];
    if (bound === undefined) {
      if (this.occurs(root, value)) return this.fail(left, right, `occurs check: ${root} would contain itself`);
      this.links.set(root, value);
      this.origins.set(root, valueSide);
      return variable;
    }
    const merged = this.unifyValues(left, right, depth + 1);
    if (merged === failed) return failed;
    return this.rebind(root, bound, merged, left, right) ? variable : failed;
  }

  private unifyTwoVariables(left: string, right: string, depth: number): JsonValue | Failed {
    const leftRoot = this.find(left);
    const rightRoot = this.find(right);
    if (leftRoot === rightRoot) return left;
    const leftValue = this.links.get(leftRoot);
    const rightValue = this.links.get(rightRoot);
    if (rightValue === undefined) {
      // The right variable joins the left one, so that unifying the result again with the left input renames
      // nothing: the query's variable names survive.
      if (leftValue !== undefined && this.occurs(rightRoot, leftValue)) {
        return this.fail(leftValue, right, `occurs check: ${rightRoot} would contain itself`);
      }
      this.links.set(rightRoot, leftRoot);
      return left;
    }
    if (leftValue === undefined) {
      if (this.occurs(leftRoot, rightValue)) {
        return this.fail(left, rightValue, `occurs check: ${leftRoot} would contain itself`);
      }
      this.links.set(leftRoot, rightRoot);
      return left;
    }
    const merged = this.unifyValues(leftValue, rightValue, depth + 1);
    if (merged === failed) return failed;
    this.links.set(rightRoot, leftRoot);
    if (!this.origins.has(leftRoot)) {
      const rightOrigin = this.origins.get(rightRoot);
      if (rightOrigin !== undefined) this.origins.set(leftRoot, rightOrigin);
    }
    return this.rebind(leftRoot, leftValue, merged, leftValue, rightValue) ? left : failed;
  }

  /** Replaces every bound variable by its value; values are resolved once per variable and shared. */
  resolve(value: JsonValue, resolved: Map<string, JsonValue>, inProgress: Set<string>): JsonValue {
    if (isVariable(value)) {
      const root = this.find(value);
      const bound = this.links.get(root);
      if (bound === undefined) return root;
      const known = resolved.get(root);
      if (known !== undefined) return known;
      if (inProgress.has(root)) throw new CycleError(root);
      inProgress.add(root);
      const result = this.resolve(bound, resolved, inProgress);
      inProgress.delete(root);
      resolved.set(root, result);
      return result;
    }
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) return value.map((item) => this.resolve(item, resolved, inProgress));
    const copy: JsonObject = {};
    for (const key of Object.keys(value))
      setOwnKey(copy, key, this.resolve(value[key] as JsonValue, resolved, inProgress));
    return copy;
  }

  /** `merged` is freshly built, values from one side copied: with no variable bound, it is the result as it is. */
  finish(merged: JsonObject): UnifyResult {
    if (this.links.size === 0) return { ok: true, value: merged, bindings: {}, bindingSides: {} };
    const resolved = new Map<string, JsonValue>();
    const inProgress = new Set<string>();
    let value: JsonValue;
    try {
      value = this.resolve(merged, resolved, inProgress);
    } catch (error) {
      if (!(error instanceof CycleError)) throw error;
      return { ok: false, path: '(root)', pathSegments: [], left: merged, right: merged, reason: error.message };
    }
    const bindings: Record<string, JsonValue> = {};
    const bindingSides: Record<string, Side> = {};
    for (const variable of this.links.keys()) {
      const variableValue = this.resolve(variable, resolved, inProgress);
      bindings[variable] = variableValue;
      const side = this.origins.get(this.find(variable));
      if (side !== undefined && !isVariable(variableValue)) bindingSides[variable] = side;
    }
    return { ok: true, value: isJsonObject(value) ? value : {}, bindings, bindingSides };
  }
}

/**
 * What {@link unify} returns for the commonest pair of a lookup, found in one pass: a query whose values are all
 * concrete scalars (a name, perhaps a backend). Such a query binds no variable: a key both sides have holds the same
 * scalar on both or they do not unify, and the entry's own keys are copied as they are, variables included. Null
 * when the query is not of that kind or the two do not unify, so that the caller unifies in full (and gets the
 * failure's details from there); the general unifier keeps bindings and a key path, which such a pair never needs.
 */
export function unifyFlat(left: JsonObject, right: JsonObject): UnifySuccess | null {
  const merged: JsonObject = {};
  const leftKeys = Object.keys(left);
  for (let position = 0; position < leftKeys.length; position++) {
    const key = leftKeys[position] as string;
    const value = left[key] as JsonValue;
    if ((typeof value === 'object' && value !== null) || isVariable(value)) return null;
    if (Object.hasOwn(right, key) && right[key] !== value) return null;
    setOwnKey(merged, key, value);
  }
  const rightKeys = Object.keys(right);
  for (let position = 0; position < rightKeys.length; position++) {
    const key = rightKeys[position] as string;
    if (!Object.hasOwn(left, key)) setOwnKey(merged, key, copyJson(right[key] as JsonValue));
  }
  return { ok: true, value: merged, bindings: {}, bindingSides: {} };
}

/**
 * Unifies two specs: `left` is the query, `right` a registry entry. Never throws: every problem, including inputs
 * that are not objects, structures nested too deeply, and a variable that would contain itself, is a failure result.
 * The result is freshly built and shares no object with the inputs.
 */
export function unify(left: JsonObject, right: JsonObject): UnifyResult {
  if (!isJsonObject(left) || !isJsonObject(right)) {
    return {
      ok: false,
      path: '(root)',
      pathSegments: [],
      left,
      right,
      reason: 'both specs must be JSON objects',
    };
  }
  const unifier = new Unifier();
  try {
    const merged = unifier.unifyValues(left, right, 0);
    if (merged === failed || !isJsonObject(merged)) {
      return unifier.failure ?? { ok: false, path: '(root)', pathSegments: [], left, right, reason: 'no result' };
    }
    return unifier.finish(merged);
  } catch (error) {
    // A stack overflow on pathological input (or a bug) must still come back as a result, as promised above.
    const message = error instanceof Error ? error.message : String(error);
    const reason =
      error instanceof RangeError ? `too deeply nested to unify (${message})` : `internal error: ${message}`;
    return { ok: false, path: '(root)', pathSegments: [], left, right, reason };
  }
}
