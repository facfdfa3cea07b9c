import { describe, expect, it } from 'vitest';
import {
  decimalToMinor,
  minorToDecimal,
  parseTemplate,
  readPath,
  renderDeep,
  renderString,
  renderTemplate,
  TemplateError,
} from '../../src/domain/template.js';

const ctx = {
  amount: 1050,
  currency: 'eur',
  payment: { paymentId: 'pay_1', captureMode: 'automatic', metadata: { order: 'o-9' }, description: '' },
  items: [{ id: 'a', tags: ['x', 'y'] }, { id: 'b' }],
  flag: false,
  zero: 0,
  nothing: null,
  settings: {},
  'odd-key': { v: 1 },
};

describe('renderTemplate', () => {
  it.each([
    ['{{amount}}', 1050],
    ['{{amount | string}}', '1050'],
    ['{{ amount }}', 1050],
    ['{{amount | minor_to_decimal}}', '10.50'],
    ["{{amount | minor_to_decimal:'JPY'}}", '1050'],
    ["{{amount | minor_to_decimal:'KWD'}}", '1.050'],
    ["{{amount | minor_to_decimal:'bhd'}}", '1.050'],
    ["{{zero | minor_to_decimal:'USD'}}", '0.00'],
    ['{{currency | upper}}', 'EUR'],
    ['{{currency | upper | lower}}', 'eur'],
    ["{{settings.baseUrl | default:'https://api.example'}}", 'https://api.example'],
    ["{{settings.baseUrl | default:'a|b}}c'}}", 'a|b}}c'],
    ["{{payment.description | default:'none'}}", 'none'],
    ['{{payment.description | optional}}', ''],
    ['{{payment.missing | optional}}', undefined],
    ["{{payment.captureMode | eq:'automatic'}}", true],
    ["{{payment.captureMode | eq:'manual'}}", false],
    ['{{flag}}', false],
    ['{{zero}}', 0],
    ['{{nothing}}', null],
    ['{{items[1].id}}', 'b'],
    ['{{items[0].tags[1] | upper}}', 'Y'],
    ["{{['odd-key'].v}}", 1],
    ['{{payment.metadata}}', { order: 'o-9' }],
    ['{{payment.paymentId | base64}}', 'cGF5XzE='],
    ["{{amount | decimal_to_minor:'EUR'}}", 105000],
    ['/v1/payments/{{payment.paymentId}}', '/v1/payments/pay_1'],
    ['{{amount}} {{currency | upper}}', '1050 EUR'],
    ['plain text', 'plain text'],
    ['', ''],
  ])('%s → %j', (template, expected) => {
    expect(renderTemplate(template, ctx)).toEqual(expected);
  });

  it('keeps the type only when the template is exactly one expression', () => {
    expect(renderTemplate('{{amount}}', ctx)).toBe(1050);
    expect(renderTemplate(' {{amount}}', ctx)).toBe(' 1050');
  });

  it('escapes interpolated values, not literal text, when asked', () => {
    const out = renderString('/v1/p/{{id}}?x=1', { id: 'a/b?c' }, { escape: encodeURIComponent });
    expect(out).toBe('/v1/p/a%2Fb%3Fc?x=1');
  });

  it.each([
    [
      '{{payment.customerId}}',
      /Missing variable 'payment.customerId' in template '\{\{payment.customerId\}\}'/,
    ],
    ['x {{nope | upper}}', /Missing variable 'nope'/],
    ['{{amount | shout}}', /Unknown filter 'shout'/],
    ['{{amount', /Unclosed/],
    ['{{}}', /Empty expression/],
    ['{{a..b}}', /Invalid variable/],
    ["{{'5' | number}}", /Invalid variable/],
    ['{{currency | number}}', /non-number/],
    ['{{amount | minor_to_decimal:settings.none}}', /needs a currency/],
  ])('%s throws %s', (template, message) => {
    expect(() => renderTemplate(template, ctx)).toThrow(message);
  });

  it('names the variable on the error', () => {
    try {
      renderTemplate('{{credentials.apiKey}}', {});
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TemplateError);
      expect((err as TemplateError).variable).toBe('credentials.apiKey');
    }
  });
});

describe('minorToDecimal / decimalToMinor', () => {
  it.each([
    [1050, 'EUR', '10.50'],
    [5, 'EUR', '0.05'],
    [-1050, 'USD', '-10.50'],
    [1050, 'JPY', '1050'],
    [1050, 'KRW', '1050'],
    [1050, 'KWD', '1.050'],
    [7, 'TND', '0.007'],
    [123456789012, 'EUR', '1234567890.12'],
  ])('%i %s ↔ %s', (minor, currency, decimal) => {
    expect(minorToDecimal(minor, currency)).toBe(decimal);
    expect(decimalToMinor(decimal, currency)).toBe(minor);
  });

  it.each([
    ['10.505', 'EUR', /more decimals/],
    ['10.5', 'JPY', /more decimals/],
    ['ten', 'EUR', /Not a decimal/],
    ['1', 'EURO', /ISO 4217/],
  ])('decimalToMinor(%s, %s) throws', (amount, currency, message) => {
    expect(() => decimalToMinor(amount, currency)).toThrow(message);
  });

  it('refuses fractional minor amounts', () => {
    expect(() => minorToDecimal(10.5, 'EUR')).toThrow(/integer/);
  });
});

describe('readPath', () => {
  it.each([
    ['items[0].id', 'a'],
    ['$.items[0].tags[0]', 'x'],
    ['items[5].id', undefined],
    ['items.id', undefined],
    ['payment.metadata.order', 'o-9'],
    ['amount.toFixed', undefined],
    ['payment.__proto__', undefined],
    ['nothing.deeper', undefined],
  ])('%s → %j', (path, expected) => {
    expect(readPath(ctx, path)).toEqual(expected);
  });
});

describe('renderDeep', () => {
  it('renders nested string leaves, keeps types, drops optional misses', () => {
    const body = {
      amount: '{{amount | minor_to_decimal}}',
      minor: '{{amount}}',
      capture: "{{payment.captureMode | eq:'automatic'}}",
      fixed: 3,
      meta: { order: '{{payment.metadata.order}}', note: '{{payment.note | optional}}' },
      list: ['{{currency | upper}}', true],
    };
    expect(renderDeep(body, ctx)).toEqual({
      amount: '10.50',
      minor: 1050,
      capture: true,
      fixed: 3,
      meta: { order: 'o-9' },
      list: ['EUR', true],
    });
  });
});

describe('parseTemplate', () => {
  it('splits text and expressions with filter arguments', () => {
    expect(parseTemplate("a{{x | default:'y' | upper}}b")).toEqual([
      { kind: 'text', text: 'a' },
      {
        kind: 'expr',
        source: "x | default:'y' | upper",
        expr: {
          path: 'x',
          filters: [
            { name: 'default', args: [{ kind: 'literal', value: 'y' }] },
            { name: 'upper', args: [] },
          ],
        },
      },
      { kind: 'text', text: 'b' },
    ]);
  });
});
