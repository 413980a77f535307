import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import { locate, parseQuery } from './parse-query.js';

/** [name, input text, expected query] */
const readable: [string, string, JsonObject][] = [
  ['a plain name', 'gpt-4o', { model_name: 'gpt-4o' }],
  ['a name is trimmed', '  gpt-4o \n', { model_name: 'gpt-4o' }],
  ['a name with braces inside', 'my{model}', { model_name: 'my{model}' }],
  ['a name with spaces and quotes', "Llama 3 'instruct'", { model_name: "Llama 3 'instruct'" }],
  ['a JSON object', '{"model_name": "gpt-4o", "backend": "openai"}', { model_name: 'gpt-4o', backend: 'openai' }],
  ['an empty object', '{}', {}],
  ['leading whitespace before JSON', '\n  {"a": 1}  \n', { a: 1 }],
  ['single quotes (clemcore)', "{'model_name': 'x'}", { model_name: 'x' }],
  ['mixed quotes', `{'a': "it's", "b": 'say "hi"'}`, { a: "it's", b: 'say "hi"' }],
  ['an escaped single quote', "{'a': 'it\\'s'}", { a: "it's" }],
  ['an escaped double quote', '{"a": "say \\"hi\\""}', { a: 'say "hi"' }],
  [
    'all JSON escapes',
    '{"a": "\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00"}',
    { a: '" \\ / \b \f \n \r \t é 😀' },
  ],
  ['an escaped literal ?name', '{"model_name": "\\\\?m"}', { model_name: '\\?m' }],
  ['a variable', '{"model_name": "?m"}', { model_name: '?m' }],
  [
    'nested values',
    '{"a": [1, -2.5e3, true, false, null, {"b": []}], "c": {}}',
    { a: [1, -2500, true, false, null, { b: [] }], c: {} },
  ],
  ['Python constants', "{'a': True, 'b': False, 'c': None}", { a: true, b: false, c: null }],
  ['a duplicated key keeps its last value', '{"a": 1, "a": 2}', { a: 2 }],
  ['CRLF line ends', '{\r\n  "a": 1\r\n}', { a: 1 }],
  ['-0 and 0', '{"a": -0, "b": 0.0}', { a: -0, b: 0 }],
];

/** [name, input text, line, column, message detail] */
const broken: [string, string, number, number, string][] = [
  ['a missing comma', '{"model_name": "x" "backend": "y"}', 1, 20, "expected ',' or '}'"],
  ['a missing colon', '{"a" 1}', 1, 6, `expected ':' after the key "a"`],
  ['a trailing comma', '{"a": 1,}', 1, 9, 'trailing comma'],
  ['a trailing comma in an array', '{"a": [1,]}', 1, 10, 'trailing comma'],
  ['an unquoted key', '{a: 1}', 1, 2, "expected a quoted key, found 'a'"],
  ['an unquoted value', '{"a": foo}', 1, 7, 'unexpected word "foo"'],
  ['a misspelt constant on line 3', '{\n  "a": 1,\n  "b": tru\n}', 3, 8, 'unexpected word "tru"'],
  ['a line break in a string', '{"a": "x\ny"}', 1, 9, 'line break inside a string'],
  ['an unterminated string', '{"a": "x', 1, 9, 'missing closing quote for the string opened at line 1, column 7'],
  ['a control character in a string', '{"a": "x\ty"}', 1, 9, 'control character "\\t"'],
  ['an invalid escape', '{"a": "\\x"}', 1, 8, 'invalid escape \\x'],
  ['an unescaped ? escape', '{"a": "\\?m"}', 1, 8, 'invalid escape \\?'],
  ['a short unicode escape', '{"a": "\\u12"}', 1, 8, 'expected 4 hex digits'],
  ['leading zeros', '{"a": 01}', 1, 8, 'leading zeros'],
  ['a lone minus', '{"a": -}', 1, 8, 'expected a digit'],
  ['a number without digits after the point', '{"a": 1.}', 1, 9, "expected a digit after '.'"],
  ['a number out of range', '{"a": 1e999}', 1, 7, 'number out of range'],
  ['a leading point', '{"a": .5}', 1, 7, "unexpected '.', expected a value"],
  ['text after the object', '{"a": 1} x', 1, 10, "unexpected 'x' after the end of the JSON object"],
  ['a second object', '{} {}', 1, 4, "unexpected '{' after the end"],
  ['an unclosed object', '{', 1, 2, 'unexpected end of input, expected a quoted key'],
  ['an unclosed object after a value', '{"a": 1', 1, 8, "unexpected end of input, expected ',' or '}'"],
  ['a missing value', '{"a": }', 1, 7, "unexpected '}', expected a value"],
  ['an error after CRLF lines', '{\r\n"a": 1,\r\n"b" 2}', 3, 5, "expected ':'"],
  ['an error after leading whitespace', '  \n  {"a" 1}', 2, 8, "expected ':'"],
  ['an array', '[1]', 1, 1, 'must be a JSON object'],
  ['an array after whitespace', '\n [{"a": 1}]', 2, 2, 'must be a JSON object'],
  ['an empty query', '', 1, 1, 'empty query'],
  ['a blank query', ' \n\t ', 1, 1, 'empty query'],
];

describe('parseQuery', () => {
  it.each(readable)('reads %s', (_name, input, expected) => {
    const result = parseQuery(input);
    expect(result).toEqual({ ok: true, query: expected });
    if (result.ok) expect(Object.keys(result.query)).toEqual(Object.keys(expected));
  });

  it.each(broken)('reports %s with its line and column', (_name, input, line, column, detail) => {
    const result = parseQuery(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ code: 'invalid-spec', line, column });
    expect(result.error.message).toContain(detail);
    if (input.trim().startsWith('{')) {
      expect(result.error.message.startsWith(`invalid JSON at line ${line}, column ${column}: `)).toBe(true);
    }
  });

  it('keeps __proto__ as an ordinary key', () => {
    const result = parseQuery('{"__proto__": {"x": 1}}');
    if (!result.ok) throw new Error(result.error.message);
    expect(Object.getPrototypeOf(result.query)).toBe(Object.prototype);
    expect(Object.keys(result.query)).toEqual(['__proto__']);
  });

  it('refuses nesting too deep without overflowing the stack', () => {
    const result = parseQuery('{"a":'.repeat(100_000));
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid-spec' } });
    if (!result.ok) expect(result.error.message).toContain('nested deeper than 512 levels');
  });

  it('accepts an object and checks it is JSON', () => {
    const query: JsonObject = { model_name: 'x', model_config: { stop: ['a'] } };
    expect(parseQuery(query)).toEqual({ ok: true, query });
    const withUndefined = { model_name: 'x', model_config: { bad: undefined } } as unknown as JsonObject;
    expect(parseQuery(withUndefined)).toMatchObject({ ok: false, error: { line: 0, column: 0 } });
    const result = parseQuery({ a: [1, Number.NaN] });
    if (result.ok) throw new Error('expected an error');
    expect(result.error.message).toBe('the query is not JSON at a[1]: NaN');
    expect(parseQuery([] as unknown as JsonObject).ok).toBe(false);
  });

  it('reads what JSON.stringify writes exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, pretty) => {
        fc.pre(isJsonObject(value as JsonValue));
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        const result = parseQuery(text);
        expect(result.ok).toBe(true);
        if (result.ok) expect(JSON.stringify(result.query)).toBe(JSON.stringify(JSON.parse(text)));
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws, and every error has a position inside the text', () => {
    const jsonish = fc
      .array(
        fc.constantFrom(
          '{',
          '}',
          '[',
          ']',
          '"',
          "'",
          ':',
          ',',
          '\\',
          'a',
          '1',
          '-',
          '.',
          'e',
          ' ',
          '\n',
          'true',
          'None',
        ),
        {
          maxLength: 30,
        },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          jsonish,
          jsonish.map((text) => `{${text}`),
        ),
        (input) => {
          const result = parseQuery(input);
          if (result.ok) return;
          const end = locate(input, input.length);
          expect(result.error.line).toBeGreaterThanOrEqual(1);
          expect(result.error.line).toBeLessThanOrEqual(end.line);
          expect(result.error.column).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('agrees with JSON.parse on what is valid JSON text', () => {
    const jsonish = fc
      .array(fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '"a"', '1', '-', '.', 'e', ' ', 'true', 'null', '0'), {
        maxLength: 20,
      })
      .map((parts) => `{${parts.join('')}`);
    fc.assert(
      fc.property(jsonish, (input) => {
        let expected: unknown;
        try {
          expected = JSON.parse(input);
        } catch {
          expected = undefined;
        }
        const result = parseQuery(input);
        expect(result.ok).toBe(expected !== undefined);
        if (result.ok) expect(result.query).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('locate', () => {
  it.each([
    ['abc', 0, 1, 1],
    ['abc', 2, 1, 3],
    ['a\nb', 2, 2, 1],
    ['a\r\nb', 3, 2, 1],
    ['a\rb', 2, 2, 1],
    ['a\r\n\nb', 4, 3, 1],
  ])('locate(%j, %d) is line %d, column %d', (text, offset, line, column) => {
    expect(locate(text, offset)).toEqual({ line, column });
  });
});
