import { describe, expect, it } from 'vitest';
import { compileMapping } from '../../src/domain/erp/mapping.js';
import { MAX_REGEX_INPUT, tenantPatternProblem } from '../../src/domain/erp/regex-safety.js';
import { applyStep, transformationStepSchema, TransformError } from '../../src/domain/erp/transformations.js';

const ctx = { read: () => undefined };
const regexStep = (pattern: string) => transformationStepSchema.parse({ type: 'regex', pattern });

describe('tenant regexes', () => {
  it.each([
    ['^SKU-(\\d+)$', 'SKU-0042', '0042'],
    ['(?<code>[A-Z]+)-\\d', 'AB-1', 'AB'],
    ['^(\\d{3}){2}$', '123456', '456'],
    ['(\\p{L}+) \\x{1F600}{2}', 'Çay 😀😀', 'Çay'],
    ['^(?:TL|TRY)?\\s*(\\d+)$', 'TL 15', '15'],
    ['([(+|]+)', 'a(+|b', '(+|'],
    ['(?i)^(evet)$', 'EVET', 'EVET'],
  ])('accepts %s and extracts its group', (pattern, input, group) => {
    expect(tenantPatternProblem(pattern)).toBeNull();
    const step = transformationStepSchema.parse({ type: 'regex', pattern, ...(pattern.includes('?<code>') ? { group: 'code' } : {}) });
    expect(applyStep(step, input, ctx)).toBe(group);
  });

  it.each([
    ['(a)\\1', 'invalid escape sequence: `\\1`'],
    ['(?<w>a)\\k<w>', 'invalid escape sequence: `\\k`'],
    ['(?<=#)\\w+', 'invalid named capture'],
    ['(?=x)a', 'unsupported Perl syntax: `(?=`'],
    ['(?!x)a', 'unsupported Perl syntax: `(?!`'],
    ['(', 'missing closing )'],
    ['(?:\\w{999}){1}(?:\\w{999}){1}', 'RE2 instructions, more than the 1000 allowed'],
  ])('refuses %s on save, naming the field and why (%s)', (pattern, why) => {
    const parsed = transformationStepSchema.safeParse({ type: 'regex', pattern });
    expect(parsed.error?.issues).toEqual([expect.objectContaining({ path: ['pattern'], message: expect.stringContaining(why) })]);
  });

  // With V8's backtracking RegExp each of these takes minutes to forever on the long inputs (the
  // polynomial one about 10^4 s at 10,000 characters); RE2 is linear in the input.
  const adversarial: [string, (n: number) => string][] = [
    ['\\d*\\d*\\d*\\d*\\d*\\d*\\d*\\d*x', (n) => '1'.repeat(n)],
    ['^(\\d*\\d*\\d*\\d*\\d*\\d*\\d*\\d*)x', (n) => '1'.repeat(n - 1) + 'y'],
    ['(a+)+$', (n) => 'a'.repeat(n - 1) + '!'],
    ['(a|aa)*b', (n) => 'a'.repeat(n)],
    ['(x+x+)+y', (n) => 'x'.repeat(n)],
  ];

  it('runs polynomial and exponential patterns over 120- and 10,000-character adversarial values in linear time', () => {
    const started = performance.now();
    for (const [pattern, input] of adversarial) {
      expect(tenantPatternProblem(pattern)).toBeNull();
      for (const length of [120, MAX_REGEX_INPUT]) {
        const value = input(length);
        expect(value).toHaveLength(length);
        expect(() => applyStep(regexStep(pattern), value, ctx)).toThrow(new TransformError(`'${value}' does not match /${pattern}/`));
      }
    }
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('dead-letters a row whose value is over the input cap, and maps the rest of the batch', () => {
    const mapping = compileMapping('products', [
      { sourceField: 'code', targetField: 'sku', transformation: { type: 'regex', pattern: '(a+)+$', group: 0 }, required: true },
      { sourceField: 'name', targetField: 'name', required: true },
    ]);
    const long = 'a'.repeat(MAX_REGEX_INPUT + 1);
    expect(mapping.map({ code: long, name: 'x' })).toEqual({
      ok: false,
      errors: [{ field: 'sku', message: `value of ${MAX_REGEX_INPUT + 1} characters is longer than the ${MAX_REGEX_INPUT} /(a+)+$/ may run over` }],
    });
    expect(mapping.map({ code: 'aaa', name: 'x' })).toMatchObject({ ok: true, record: { sku: 'aaa' } });
  });

  it('gives larger patterns a proportionally shorter input, so one value costs the same bounded work', () => {
    const pattern = '(\\w{990})x';
    const step = regexStep(pattern);
    const started = performance.now();
    expect(() => applyStep(step, 'a'.repeat(5000), ctx)).toThrow(/longer than the 1005 /);
    expect(() => applyStep(step, 'a'.repeat(1000), ctx)).toThrow(/does not match/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
