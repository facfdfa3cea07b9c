import { describe, expect, it } from 'vitest';
import { findUnsafeValue, jsonNestsDeeperThan } from '../../src/api/input-guards.js';

const text = (s: string) => Buffer.from(s, 'utf8');

describe('jsonNestsDeeperThan', () => {
  it.each([
    ['{"a":{"b":[1]}}', 3, false],
    ['{"a":{"b":[1]}}', 2, true],
    ['[[[]]]', 3, false],
    ['[[[[]]]]', 3, true],
    // Brackets inside strings, escaped quotes and backslashes do not count.
    ['{"a":"[[[[[[{{{{"}', 1, false],
    ['{"a":"x\\"[[[[[","b":1}', 1, false],
    ['{"a":"x\\\\","b":[[1]]}', 2, true],
    ['[{}, {}, {}, {}, {}]', 2, false],
  ])('%s with max %i: %s', (json, max, deeper) => {
    JSON.parse(json); // every case is valid JSON
    expect(jsonNestsDeeperThan(text(json), max)).toBe(deeper);
  });
});

describe('findUnsafeValue', () => {
  it('names the path of a NUL in a value or a key, and of excessive nesting', () => {
    expect(findUnsafeValue({ a: [{ b: 'x\u0000' }] }, 'body')).toEqual({ path: 'body.a.0.b', message: expect.stringContaining('NUL') });
    expect(findUnsafeValue({ ['k\u0000']: 1 }, 'query')?.path).toBe('query.k\u0000');
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(findUnsafeValue(deep, 'body')?.message).toMatch(/nested deeper than 64/);
    expect(findUnsafeValue({ ok: ['fine', 1, null, true, { n: 'ü' }] }, 'body')).toBeUndefined();
  });
});
