import { describe, expect, it } from 'vitest';
import { catastrophicBacktrackingReason } from '../../src/domain/erp/regex-safety.js';
import { transformationStepSchema } from '../../src/domain/erp/transformations.js';

describe('tenant regex safety', () => {
  it.each([
    '^SKU-(\\d+)$',
    '(?<code>[A-Z]+)-\\d',
    '^([\\d.,]+)$',
    '(\\d{3}){2}',
    '\\p{L}+ \\u{1F600}{2}',
    '^(?:TL|TRY)?\\s*(\\d+)$',
    '[(+|]+',
    '(?<=#)\\w+',
  ])('accepts %s', (pattern) => {
    expect(catastrophicBacktrackingReason(pattern)).toBeNull();
    expect(transformationStepSchema.safeParse({ type: 'regex', pattern }).success).toBe(true);
  });

  it.each([
    ['(a+)+$', 'nested quantifiers'],
    ['^(\\w+\\s?)+$', 'nested quantifiers'],
    ['(a?){30}a{30}', 'nested quantifiers'],
    ['(.*a){12}', 'nested quantifiers'],
    ['(?:x([a-z]+))*y', 'nested quantifiers'],
    ['(a|ab)*c', 'alternatives'],
    ['((a|b)c)+', 'alternatives'],
    ['(a)\\1', 'backreference'],
    ['(?<w>a)\\k<w>', 'backreference'],
  ])('refuses %s (%s)', (pattern, why) => {
    expect(catastrophicBacktrackingReason(pattern)).toContain(why);
    const parsed = transformationStepSchema.safeParse({ type: 'regex', pattern });
    expect(parsed.error?.issues).toEqual([
      expect.objectContaining({
        path: ['pattern'],
        message: expect.stringContaining('may backtrack catastrophically'),
      }),
    ]);
  });
});
