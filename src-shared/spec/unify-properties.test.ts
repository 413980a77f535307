import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import { jsonEqual } from './json-tools.js';
import { escapeLiteral, isVariable, unescapeLiteral, unify, unifyFlat } from './unify.js';

/**
 * Specs built from small pools of keys and scalars, so that random pairs often agree (and so exercise merging),
 * including the keys that are dangerous for plain objects and strings that look like variables but are literals.
 */
function specs(withVariables: boolean): fc.Arbitrary<JsonObject> {
  const keys = fc.constantFrom('a', 'b', 'c', 'model_name', 'model_config', '__proto__', 'constructor');
  const literals: JsonValue[] = ['x', 'y', 'A', 'a', '1', 'null', '\\?x', '?', '?\n', 0, 1, 1.5, -2, true, false, null];
  const variables: JsonValue[] = ['?x', '?y', '?z'];
  const scalar = fc.constantFrom(...literals, ...(withVariables ? variables : []));
  const { object } = fc.letrec<{ value: JsonValue; object: JsonObject }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      tie('object'),
      fc.array(tie('value'), { maxLength: 3 }),
    ),
    object: fc.array(fc.tuple(keys, tie('value')), { maxLength: 4 }).map((pairs) => {
      const spec: JsonObject = {};
      for (const [key, value] of pairs)
        Object.defineProperty(spec, key, { value, enumerable: true, writable: true, configurable: true });
      return spec;
    }),
  }));
  return object;
}

/** Arbitrary JSON objects as `JSON.parse` would produce them, with any keys and strings. */
const anyJsonObject: fc.Arbitrary<JsonObject> = fc
  .jsonValue()
  .filter((value): value is JsonObject => isJsonObject(value as JsonValue));

const sameText = (left: JsonValue, right: JsonValue): boolean => JSON.stringify(left) === JSON.stringify(right);

function collectVariables(value: JsonValue, found: Set<string>): Set<string> {
  if (isVariable(value)) found.add(value);
  else if (Array.isArray(value)) value.forEach((item) => collectVariables(item, found));
  else if (isJsonObject(value)) Object.values(value).forEach((item) => collectVariables(item, found));
  return found;
}

const runs = { numRuns: 2000 };

describe('unify properties', () => {
  it('is commutative up to key order for variable-free specs', () => {
    fc.assert(
      fc.property(specs(false), specs(false), (left, right) => {
        const forward = unify(left, right);
        const backward = unify(right, left);
        expect(forward.ok).toBe(backward.ok);
        if (forward.ok && backward.ok) expect(jsonEqual(forward.value, backward.value)).toBe(true);
      }),
      runs,
    );
  });

  it('is idempotent, variables included', () => {
    fc.assert(
      fc.property(fc.oneof(specs(true), anyJsonObject), (spec) => {
        const result = unify(spec, spec);
        expect(result.ok).toBe(true);
        if (result.ok) expect(sameText(result.value, spec)).toBe(true);
      }),
      runs,
    );
  });

  it('gives a result that unifies with both inputs and is unchanged by it', () => {
    fc.assert(
      fc.property(specs(true), specs(true), (left, right) => {
        const result = unify(left, right);
        if (!result.ok) return;
        for (const input of [left, right]) {
          const again = unify(result.value, input);
          expect(again.ok).toBe(true);
          if (again.ok) expect(sameText(again.value, result.value)).toBe(true);
        }
      }),
      runs,
    );
  });

  it('leaves no bound variable in the result', () => {
    fc.assert(
      fc.property(specs(true), specs(true), (left, right) => {
        const result = unify(left, right);
        if (!result.ok) return;
        const remaining = collectVariables(result.value, new Set());
        for (const [variable, value] of Object.entries(result.bindings)) {
          if (!isVariable(value)) expect(remaining.has(variable)).toBe(false);
        }
      }),
      runs,
    );
  });

  it('never throws, and every failure is a clean result', () => {
    fc.assert(
      fc.property(fc.oneof(specs(true), anyJsonObject), fc.oneof(specs(true), anyJsonObject), (left, right) => {
        const result = unify(left, right);
        if (!result.ok) {
          expect(typeof result.path).toBe('string');
          // Inputs here are a few levels deep: hitting the depth limit would mean a runaway recursion.
          expect(result.reason).not.toMatch(/^internal error|nested deeper|too deeply/);
        }
      }),
      runs,
    );
  });

  it('agrees with plain JSON equality on variable-free scalars', () => {
    const scalar = fc.oneof(
      fc.string(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(scalar, scalar, (left, right) => {
        fc.pre(!isVariable(left) && !isVariable(right));
        expect(unify({ key: left }, { key: right }).ok).toBe(left === right);
      }),
      runs,
    );
  });

  it("unifyFlat gives unify's result (keys, order, values) whenever it answers, and answers flat pairs", () => {
    // Queries of scalars, and others (variables, objects) that unifyFlat must leave to unify; entries with and
    // without variables.
    const flatQueries = specs(false).map((spec) => {
      const flat: JsonObject = {};
      for (const key of Object.keys(spec)) {
        const value = spec[key] as JsonValue;
        if (typeof value !== 'object' || value === null)
          Object.defineProperty(flat, key, { value, enumerable: true, writable: true, configurable: true });
      }
      return flat;
    });
    fc.assert(
      fc.property(fc.oneof(flatQueries, specs(true)), fc.oneof(specs(false), specs(true)), (left, right) => {
        const full = unify(left, right);
        const flat = unifyFlat(left, right);
        if (flat !== null) {
          expect(full.ok).toBe(true);
          if (full.ok) {
            expect(JSON.stringify(flat.value)).toBe(JSON.stringify(full.value));
            expect(Object.keys(flat.value)).toEqual(Object.keys(full.value));
            expect(flat.bindings).toEqual(full.bindings);
          }
        }
        const isFlat = Object.values(left).every(
          (value) => (typeof value !== 'object' || value === null) && !isVariable(value),
        );
        // A variable of the entry at a key the query has is bound: that is the full unifier's case.
        if (full.ok && isFlat && Object.keys(full.bindings).length === 0) expect(flat).not.toBeNull();
      }),
      runs,
    );
  });

  it("unifyFlat's result shares no object with the entry", () => {
    const stop = ['a'];
    const config: JsonObject = { stop };
    const result = unifyFlat({ model_name: 'm' }, { model_name: 'm', model_config: config });
    const copied = result?.value['model_config'];
    expect(copied).toEqual(config);
    expect(copied).not.toBe(config);
    expect(isJsonObject(copied ?? null) ? (copied as JsonObject)['stop'] : null).not.toBe(stop);
  });

  it('round-trips literals through escapeLiteral and never makes a variable', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((text) => `?${text}`),
          fc.string().map((text) => `\\\\?${text}`),
        ),
        (text) => {
          const escaped = escapeLiteral(text);
          expect(unescapeLiteral(escaped)).toBe(text);
          expect(isVariable(escaped)).toBe(false);
        },
      ),
      runs,
    );
  });
});
