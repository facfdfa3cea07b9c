import { describe, expect, it } from 'vitest';
import { containsCardNumber, looksLikeCardNumber, passesLuhn } from '../../src/domain/payments/payment-method.js';

describe('passesLuhn', () => {
  it.each([
    ['4242424242424242', true],
    ['4242424242424241', false],
    ['79927398713', true],
    ['79927398710', false],
  ])('%s -> %s', (digits, ok) => {
    expect(passesLuhn(digits)).toBe(ok);
  });
});

describe('looksLikeCardNumber', () => {
  it.each([
    ['Visa test card', '4242424242424242'],
    ['Mastercard', '5555555555554444'],
    ['Amex, 15 digits', '378282246310005'],
    ['Diners, 14 digits', '30569309025904'],
    ['19 digits', '6011000000000000001'],
    ['spaces', '4242 4242 4242 4242'],
    ['dashes', '4242-4242-4242-4242'],
    ['Amex grouping', '3782 822463 10005'],
    ['inside a token', 'tok_4242424242424242'],
    ['inside text', 'my card is 4242 4242 4242 4242, thanks'],
    ['after another number', 'order 17 4242 4242 4242 4242'],
    ['before another number', '4242 4242 4242 4242 12/34'],
    ['12-digit Maestro-length', '675964982648'],
  ])('finds %s', (_name, value) => {
    expect(looksLikeCardNumber(value)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['Luhn failure', '4242424242424241'],
    ['too short (11 digits)', '79927398713'],
    ['too long as one run (20 digits)', '42424242424242424242'],
    ['two separators in a row', '4242  4242  4242  4242'],
    ['other separators', '4242.4242.4242.4242'],
    ['all zeros', '0000 0000 0000 0000'],
    ['gateway token', 'pm_1NQvYx2eZvKYlo2C'],
    ['uuid', '123e4567-e89b-12d3-a456-426614174001'],
    ['phone number', '+1 (555) 123-4567'],
    ['ISO date', '2024-05-01T10:00:00Z'],
    ['amount', '1234.56'],
  ])('ignores %s', (_name, value) => {
    expect(looksLikeCardNumber(value)).toBe(false);
  });
});

describe('containsCardNumber', () => {
  it.each<[string, unknown, string | null]>([
    ['clean object', { order: 'A-17', items: [{ sku: 'x', qty: 2 }], note: null }, null],
    ['string at the root', '4242424242424242', '$'],
    ['nested string', { a: { b: [1, 'ok', 'card 4242-4242-4242-4242'] } }, '$.a.b[2]'],
    ['number value', { pan: 4242424242424242 }, '$.pan'],
    ['key that is a card number', { '4242424242424242': 'x' }, '$["4242424242424242"]'],
    ['odd key quoted', { 'customer ref': '5555 5555 5555 4444' }, '$["customer ref"]'],
    ['first in document order', { a: [{ x: '4242424242424242' }], b: '5555555555554444' }, '$.a[0].x'],
    ['booleans and undefined', { a: true, b: undefined, c: false }, null],
  ])('%s', (_name, value, path) => {
    expect(containsCardNumber(value)).toBe(path);
  });

  it('names the root as asked', () => {
    expect(containsCardNumber({ ref: 'tok_4242424242424242' }, 'metadata')).toBe('metadata.ref');
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { name: 'x' };
    a.self = a;
    expect(containsCardNumber(a)).toBeNull();
    a.late = '4242424242424242';
    expect(containsCardNumber(a)).toBe('$.late');
  });

  it('survives very deep nesting without overflowing the stack', () => {
    let deep: unknown = '4242424242424242';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(containsCardNumber(deep)).toMatch(/^\$(\[0\]){100000}$/);
  });
});
