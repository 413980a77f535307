import { describe, expect, it } from 'vitest';
import { findTooDeep, maximumJsonNesting } from './json-tools.js';

/** `levels` containers, alternating objects (key `a`) and arrays, the outermost an object. */
function nestedValue(levels: number): unknown {
  let value: unknown = 'leaf';
  for (let level = levels; level >= 1; level--) value = level % 2 === 1 ? { a: value } : [0, value];
  return value;
}

describe('findTooDeep', () => {
  it('lets a value exactly at the limit pass and finds the first container past it, with its path', () => {
    expect(findTooDeep(nestedValue(maximumJsonNesting))).toBeNull();
    const path = findTooDeep(nestedValue(maximumJsonNesting + 1));
    expect(path).toHaveLength(maximumJsonNesting);
    expect(path?.slice(0, 4)).toEqual(['a', 1, 'a', 1]);
  });

  it('honours a small limit, looks past scalars and shallow siblings, and never overflows on a very deep value', () => {
    expect(findTooDeep({ a: 1, b: [1, 2, 'x'], c: null }, 2)).toBeNull();
    expect(findTooDeep({ a: 1, b: { c: [] } }, 2)).toEqual(['b', 'c']);
    expect(findTooDeep({ shallow: {}, deep: [[{}]] }, 3)).toEqual(['deep', 0, 0]);
    expect(findTooDeep('text')).toBeNull();
    const deep = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`) as unknown;
    expect(findTooDeep(deep)).toHaveLength(maximumJsonNesting);
  });
});
