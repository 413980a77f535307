import { describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../json.js';
import { formatPath, jsonEqual } from './json-tools.js';
import { escapeLiteral, finalizeSpec, isVariable, unescapeLiteral, unify } from './unify.js';

const catchAll: JsonObject = {
  model_name: '?m',
  backend: 'openai_compatible',
  model_id: '?m',
  base_url: 'http://127.0.0.1:8080/v1',
};

/** [name, left (query), right (entry), expected unified spec] */
const successes: [string, JsonObject, JsonObject, JsonObject][] = [
  ['{} with {}', {}, {}, {}],
  ['{} with anything', {}, { model_name: 'x', backend: 'y' }, { model_name: 'x', backend: 'y' }],
  ['anything with {}', { model_name: 'x', n: [1, { a: null }] }, {}, { model_name: 'x', n: [1, { a: null }] }],
  ['keys on one side are copied', { a: 1 }, { b: 2 }, { a: 1, b: 2 }],
  [
    'equal scalars',
    { a: 'x', b: 1, c: true, d: null },
    { a: 'x', b: 1, c: true, d: null },
    { a: 'x', b: 1, c: true, d: null },
  ],
  ['1 and 1.0 are the same JSON number', { a: 1 }, { a: 1.0 }, { a: 1 }],
  [
    'nested model_config merges',
    { model_name: 'm', model_config: { temperature: 0 } },
    { model_name: 'm', model_config: { eos_to_cull: '<eos>' } },
    { model_name: 'm', model_config: { temperature: 0, eos_to_cull: '<eos>' } },
  ],
  ['equal arrays', { stop: ['a', 'b'] }, { stop: ['a', 'b'] }, { stop: ['a', 'b'] }],
  [
    'arrays of objects merge element-wise',
    { a: [{ x: 1 }, {}] },
    { a: [{ y: 2 }, { z: 3 }] },
    { a: [{ x: 1, y: 2 }, { z: 3 }] },
  ],
  ['empty arrays', { a: [] }, { a: [] }, { a: [] }],
  [
    'the catch-all entry routes any name',
    { model_name: 'llama-3' },
    catchAll,
    { ...catchAll, model_name: 'llama-3', model_id: 'llama-3' },
  ],
  [
    'variables of the query bind across keys',
    { model_name: '?m', model_id: '?m' },
    { model_name: 'gpt' },
    { model_name: 'gpt', model_id: 'gpt' },
  ],
  ['a variable binds to an object', { a: '?x', b: '?x' }, { a: { p: 1 } }, { a: { p: 1 }, b: { p: 1 } }],
  [
    'a variable met twice merges both objects everywhere',
    { a: '?x', b: '?x' },
    { a: { p: 1 }, b: { q: 2 } },
    { a: { p: 1, q: 2 }, b: { p: 1, q: 2 } },
  ],
  ['a variable binds to an array', { a: '?x', b: '?x' }, { a: [1, '?y'], b: ['?z', 2] }, { a: [1, 2], b: [1, 2] }],
  ['the same variable on both sides', { a: '?x' }, { a: '?x' }, { a: '?x' }],
  ['two variables link; the query spelling stays', { a: '?x', b: '?y' }, { a: '?y' }, { a: '?x', b: '?x' }],
  ['linked variables then bound', { a: '?x', b: '?y', c: '?x' }, { a: '?y', b: 5 }, { a: 5, b: 5, c: 5 }],
  ['two bound variables that agree link', { a: '?x', b: '?y', c: '?x' }, { a: 1, b: 1, c: '?y' }, { a: 1, b: 1, c: 1 }],
  ['a variable bound to null is bound', { a: '?y', b: '?y' }, { a: null, b: null }, { a: null, b: null }],
  ['a variable bound to false is bound', { a: '?y', b: ['?y'] }, { a: false }, { a: false, b: [false] }],
  ['an unbound variable stays', { a: '?x' }, { b: 1 }, { a: '?x', b: 1 }],
  ['a variable inside an array', { stop: ['?s', 'b'] }, { stop: ['a', '?t'] }, { stop: ['a', 'b'] }],
  ['a lone ? is a literal', { a: '?' }, { a: '?' }, { a: '?' }],
  ['an escaped literal equals itself', { a: '\\?x' }, { a: '\\?x' }, { a: '\\?x' }],
  ['a variable binds to an escaped literal', { a: '\\?x' }, { a: '?x', b: '?x' }, { a: '\\?x', b: '\\?x' }],
];

/** [name, left, right, expected path, left value, right value, reason (a prefix)] */
const failures: [string, JsonObject, JsonObject, string, JsonValue, JsonValue, string][] = [
  ['different names', { model_name: 'a' }, { model_name: 'b' }, 'model_name', 'a', 'b', 'different values'],
  [
    'nested conflict',
    { model_config: { eos_to_cull: 'a' } },
    { model_config: { eos_to_cull: 'b' } },
    'model_config.eos_to_cull',
    'a',
    'b',
    'different values',
  ],
  [
    'arrays of different length',
    { stop: ['a'] },
    { stop: ['a', 'b'] },
    'stop',
    ['a'],
    ['a', 'b'],
    'arrays of different length',
  ],
  ['array elements differ', { stop: ['a', 'b'] }, { stop: ['a', 'c'] }, 'stop[1]', 'b', 'c', 'different values'],
  ['"1" vs 1', { a: '1' }, { a: 1 }, 'a', '1', 1, 'string vs number'],
  ['true vs 1', { a: true }, { a: 1 }, 'a', true, 1, 'boolean vs number'],
  ['null vs "null"', { a: null }, { a: 'null' }, 'a', null, 'null', 'null vs string'],
  ['"A" vs "a"', { a: 'A' }, { a: 'a' }, 'a', 'A', 'a', 'different values'],
  ['false vs null', { a: false }, { a: null }, 'a', false, null, 'boolean vs null'],
  ['object vs scalar', { a: { b: 1 } }, { a: 1 }, 'a', { b: 1 }, 1, 'object vs number'],
  ['object vs array', { a: {} }, { a: [] }, 'a', {}, [], 'object vs array'],
  ['array vs scalar', { a: [1] }, { a: 'x' }, 'a', [1], 'x', 'array vs string'],
  ['scalar vs object', { a: null }, { a: {} }, 'a', null, {}, 'null vs object'],
  ['variable bound twice to different values', { a: '?x', b: '?x' }, { a: 1, b: 2 }, 'b', 1, 2, 'different values'],
  ['entry variable bound twice', { a: 1, b: 2 }, { a: '?x', b: '?x' }, 'b', 2, 1, 'different values'],
  ['variable bound to null, then a value', { a: '?y', b: '?y' }, { a: null, b: 1 }, 'b', null, 1, 'null vs number'],
  [
    'linked variables, then two values',
    { a: '?x', b: '?x', c: '?y' },
    { a: '?y', b: 1, c: 2 },
    'c',
    1,
    2,
    'different values',
  ],
  [
    'variable bound to an object, then a scalar',
    { a: '?x', b: '?x' },
    { a: { p: 1 }, b: 1 },
    'b',
    { p: 1 },
    1,
    'object vs number',
  ],
  [
    'merge through a variable conflicts inside',
    { a: '?x', b: '?x' },
    { a: { p: 1 }, b: { p: 2 } },
    'b.p',
    1,
    2,
    'different values',
  ],
  ['escaped literal is not a variable', { a: '\\?x' }, { a: 1 }, 'a', '\\?x', 1, 'string vs number'],
  ['a lone ? is not a variable', { a: '?' }, { a: 1 }, 'a', '?', 1, 'string vs number'],
  ['"?\\n" is not a variable', { a: '?\n' }, { a: 'x' }, 'a', '?\n', 'x', 'different values'],
  ['occurs check', { a: '?x' }, { a: { b: '?x' } }, 'a', '?x', { b: '?x' }, 'occurs check'],
  [
    'occurs check through two variables',
    { a: '?x', b: '?y' },
    { a: { p: '?y' }, b: { q: '?x' } },
    'b',
    '?y',
    { q: '?x' },
    'occurs check',
  ],
  [
    'occurs check through a merge',
    { a: '?x', b: '?x' },
    { a: { p: 1 }, b: { q: '?x' } },
    'b',
    { p: 1 },
    { q: '?x' },
    'occurs check',
  ],
  ['key with a dot', { 'a.b': 1 }, { 'a.b': 2 }, '["a.b"]', 1, 2, 'different values'],
];

describe('unify', () => {
  it.each(successes)('%s', (_name, left, right, expected) => {
    const result = unify(left, right);
    expect(result).toMatchObject({ ok: true });
    if (!result.ok) return;
    expect(result.value).toEqual(expected);
    expect(Object.keys(result.value)).toEqual(Object.keys(expected));
  });

  it.each(failures)('%s fails', (_name, left, right, path, leftValue, rightValue, reason) => {
    const result = unify(left, right);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.path).toBe(path);
    expect(result.left).toEqual(leftValue);
    expect(result.right).toEqual(rightValue);
    expect(result.reason.startsWith(reason)).toBe(true);
  });

  it('reports bindings and which side supplied them', () => {
    const result = unify({ model_name: 'gpt' }, catchAll);
    expect(result).toMatchObject({ ok: true, bindings: { '?m': 'gpt' }, bindingSides: { '?m': 'left' } });
    const linked = unify({ a: '?x', b: '?y' }, { a: '?y', b: 3 });
    expect(linked).toMatchObject({
      ok: true,
      bindings: { '?y': 3, '?x': 3 },
      bindingSides: { '?x': 'right', '?y': 'right' },
    });
    expect(unify({ a: '?x' }, { b: 1 })).toMatchObject({ ok: true, bindings: {} });
  });

  it('orders keys: the left side first in its order, then the right side, recursively', () => {
    const result = unify({ b: 1, a: { y: 1, x: 2 } }, { c: 3, a: { z: 0, x: 2 }, b: 1, d: 4 });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(JSON.stringify(result.value)).toBe('{"b":1,"a":{"y":1,"x":2,"z":0},"c":3,"d":4}');
  });

  it('keeps escaped literals escaped, so the result can be unified again', () => {
    const first = unify({ model_name: '\\?m' }, { model_name: '?n', model_id: '?n' });
    expect(first).toMatchObject({ ok: true, value: { model_name: '\\?m', model_id: '\\?m' } });
    if (!first.ok) return;
    expect(unify(first.value, { model_name: 'other' }).ok).toBe(false);
    expect(unify(first.value, { model_name: '\\?m' }).ok).toBe(true);
    expect(finalizeSpec(first.value)).toEqual({ model_name: '?m', model_id: '?m' });
  });

  it('shares no object with its inputs', () => {
    const left: JsonObject = { a: { b: [1] } };
    const right: JsonObject = { c: { d: 2 } };
    const result = unify(left, right);
    if (!result.ok) throw new Error('expected success');
    expect(result.value['a']).not.toBe(left['a']);
    expect((result.value['a'] as JsonObject)['b']).not.toBe((left['a'] as JsonObject)['b']);
    expect(result.value['c']).not.toBe(right['c']);
    // The same where a variable is bound (the result is then resolved in a second pass).
    const boundLeft: JsonObject = { v: '?x', a: { b: [1] } };
    const boundRight: JsonObject = { v: { e: [3] }, w: '?x' };
    const bound = unify(boundLeft, boundRight);
    if (!bound.ok) throw new Error('expected success');
    expect(bound.value).toEqual({ v: { e: [3] }, a: { b: [1] }, w: { e: [3] } });
    expect(bound.value['v']).not.toBe(boundRight['v']);
    expect(bound.value['a']).not.toBe(boundLeft['a']);
  });

  it('treats __proto__ and constructor as ordinary keys', () => {
    const left = JSON.parse('{"__proto__": {"x": 1}, "constructor": 1}') as JsonObject;
    const result = unify(left, JSON.parse('{"__proto__": {"y": 2}}') as JsonObject);
    if (!result.ok) throw new Error('expected success');
    expect(Object.getPrototypeOf(result.value)).toBe(Object.prototype);
    expect(Object.keys(result.value)).toEqual(['__proto__', 'constructor']);
    expect(JSON.stringify(result.value)).toBe('{"__proto__":{"x":1,"y":2},"constructor":1}');
    expect(unify({}, { constructor: 'x' })).toMatchObject({ ok: true, value: { constructor: 'x' } });
    expect(unify({ toString: 1 }, {}).ok).toBe(true);
  });

  it('fails cleanly on structures nested too deeply instead of overflowing the stack', () => {
    let deep: JsonValue = 1;
    for (let level = 0; level < 100_000; level++) deep = { a: deep };
    const result = unify({ a: deep }, { a: deep });
    expect(result).toMatchObject({ ok: false });
    if (result.ok) return;
    expect(result.reason).toMatch(/nested deeper/);
  });

  it('fails cleanly when given something that is not an object', () => {
    expect(unify([] as unknown as JsonObject, {})).toMatchObject({ ok: false, path: '(root)' });
    expect(unify({}, null as unknown as JsonObject)).toMatchObject({ ok: false, path: '(root)' });
  });
});

describe('variables and literals', () => {
  it.each([
    ['?m', true],
    ['?model_1', true],
    ['?a-b.c', true],
    ['?', false],
    ['? m', false],
    ['?\n', false],
    ['m?', false],
    ['\\?m', false],
    ['', false],
  ])('isVariable(%j) is %s', (text, expected) => {
    expect(isVariable(text)).toBe(expected);
  });

  it.each([
    ['plain', 'plain'],
    ['?m', '\\?m'],
    ['?', '\\?'],
    ['\\?m', '\\\\?m'],
    ['\\m', '\\m'],
    ['a?b', 'a?b'],
  ])('escapeLiteral(%j) is %j and unescapes back', (text, escaped) => {
    expect(escapeLiteral(text)).toBe(escaped);
    expect(unescapeLiteral(escaped)).toBe(text);
    expect(isVariable(escaped)).toBe(false);
  });

  it('finalizeSpec unescapes string values, not keys, and keeps unchanged parts', () => {
    const nested = { b: ['x'] };
    const spec: JsonObject = { '\\?k': '\\?v', list: ['\\\\?w', 1], nested, variable: '?free' };
    expect(finalizeSpec(spec)).toEqual({ '\\?k': '?v', list: ['\\?w', 1], nested, variable: '?free' });
    expect(finalizeSpec(spec)['nested']).toBe(nested);
    const plain: JsonObject = { a: { b: 1 } };
    expect(finalizeSpec(plain)).toBe(plain);
    // A copy starts at the first changed key: the keys before it are copied too, in their order.
    const middle = JSON.parse('{"a": 1, "__proto__": {"c": 2}, "b": "\\\\?x", "z": [3]}') as JsonObject;
    const finalized = finalizeSpec(middle);
    expect(Object.keys(finalized)).toEqual(['a', '__proto__', 'b', 'z']);
    expect(finalized).toEqual(JSON.parse('{"a": 1, "__proto__": {"c": 2}, "b": "?x", "z": [3]}'));
    expect(Object.getPrototypeOf(finalized)).toBe(Object.prototype);
  });
});

describe('formatPath and jsonEqual', () => {
  it.each([
    [[], '(root)'],
    [['model_config', 'eos_to_cull'], 'model_config.eos_to_cull'],
    [['stop', 1], 'stop[1]'],
    [['a.b', 0, 'c'], '["a.b"][0].c'],
    [['', 'x y'], '[""]["x y"]'],
  ] as const)('formatPath(%j) is %s', (segments, text) => {
    expect(formatPath(segments)).toBe(text);
  });

  it('compares JSON ignoring key order only', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: undefined } as unknown as JsonObject, { b: 1 })).toBe(false);
    expect(jsonEqual('1', 1)).toBe(false);
    expect(jsonEqual({}, [])).toBe(false);
  });
});
