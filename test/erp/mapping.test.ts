import { describe, expect, it } from 'vitest';
import { compileMapping, mappingsSchema } from '../../src/domain/erp/mapping.js';
import { applyStep, transformationStepSchema, TransformError } from '../../src/domain/erp/transformations.js';

const row = { Kod: ' ab-1 ', Ad: 'Çay', Soyad: 'Demli', ParaBirimi: 'TRY', Bos: '' };
const ctx = { read: (f: string) => (row as Record<string, unknown>)[f] };
const run = (step: unknown, value: unknown) => applyStep(transformationStepSchema.parse(step), value, ctx);

describe('transformations', () => {
  it.each([
    ['trim', '  x  ', 'x'],
    ['upper', 'istanbul', 'ISTANBUL'],
    ['lower', 'ABC', 'abc'],
    [{ type: 'number', decimalSeparator: ',', thousandsSeparator: '.' }, '1.234,56', 1234.56],
    [{ type: 'number', decimalSeparator: ',', thousandsSeparator: '.' }, '-12,5', -12.5],
    [{ type: 'number', decimalSeparator: ',', thousandsSeparator: '.' }, '1234567,8', 1234567.8],
    [{ type: 'number', decimalSeparator: '.', thousandsSeparator: ',' }, '1,234,567.25', 1234567.25],
    [{ type: 'number' }, '42', 42],
    [{ type: 'number' }, 3.5, 3.5],
    [{ type: 'integer', thousandsSeparator: '.' }, '12.000', 12000],
    [{ type: 'integer', decimalSeparator: ',' }, '7', 7],
    [{ type: 'minorUnits', currency: 'EUR' }, '12.5', 1250],
    [{ type: 'minorUnits', currency: 'JPY' }, '1050', 1050],
    [{ type: 'minorUnits', currency: 'KWD' }, '1.05', 1050],
    [{ type: 'minorUnits', currency: 'TRY' }, 1234.56, 123456],
    [{ type: 'minorUnits', currencyField: 'ParaBirimi' }, '9.99', 999],
    // Istanbul is UTC+3 all year: local 14:05 is 11:05 UTC.
    [{ type: 'date', format: 'dd.MM.yyyy HH:mm:ss', zone: 'Europe/Istanbul' }, '22.11.2026 14:05:00', '2026-11-22T11:05:00Z'],
    // Berlin switches: the same wall time maps to different UTC in winter and summer.
    [{ type: 'date', format: 'yyyy-MM-dd HH:mm', zone: 'Europe/Berlin' }, '2026-01-15 12:00', '2026-01-15T11:00:00Z'],
    [{ type: 'date', format: 'yyyy-MM-dd HH:mm', zone: 'Europe/Berlin' }, '2026-07-15 12:00', '2026-07-15T10:00:00Z'],
    [{ type: 'date', zone: 'Europe/Istanbul' }, '2026-11-22T14:05:00', '2026-11-22T11:05:00Z'],
    [{ type: 'date', zone: 'Europe/Istanbul' }, '2026-11-22T14:05:00+01:00', '2026-11-22T13:05:00Z'],
    [{ type: 'date', format: 'dd/MM/yyyy', output: 'date' }, '05/03/2026', '2026-03-05'],
    [{ type: 'boolean' }, 'E', true],
    [{ type: 'boolean' }, 'h', false],
    [{ type: 'boolean' }, 'Y', true],
    [{ type: 'boolean' }, 'N', false],
    [{ type: 'boolean' }, '1', true],
    [{ type: 'boolean' }, '0', false],
    [{ type: 'boolean', truthy: ['aktif'], falsy: ['pasif'] }, 'AKTİF', true],
    [{ type: 'lookup', table: { A: 'active', P: 'pending' } }, 'P', 'pending'],
    [{ type: 'lookup', table: { A: 'active' }, default: 'other' }, 'Z', 'other'],
    [{ type: 'concat', fields: ['Soyad'] }, 'Çay', 'Çay Demli'],
    [{ type: 'concat', fields: ['Bos', 'Soyad'], separator: '-' }, 'X', 'X-Demli'],
    [{ type: 'regex', pattern: '^SKU-(\\d+)$' }, 'SKU-0042', '0042'],
    [{ type: 'regex', pattern: '(?<code>[A-Z]+)-\\d', group: 'code' }, 'AB-1', 'AB'],
  ])('%j on %j gives %j', (step, input, expected) => {
    expect(run(step, input)).toEqual(expected);
  });

  it.each([
    [{ type: 'number', decimalSeparator: ',', thousandsSeparator: '.' }, '1.5'],
    [{ type: 'number', decimalSeparator: ',', thousandsSeparator: '.' }, '12,3,4'],
    [{ type: 'number' }, 'abc'],
    [{ type: 'integer' }, '1.5'],
    [{ type: 'minorUnits', currency: 'EUR' }, '1.001'],
    [{ type: 'minorUnits', currency: 'JPY' }, '10.5'],
    [{ type: 'date', format: 'dd.MM.yyyy' }, '31.02.2026'],
    [{ type: 'boolean' }, 'maybe'],
    [{ type: 'lookup', table: { A: 'x' } }, 'B'],
    [{ type: 'regex', pattern: '^\\d+$' }, 'abc'],
    ['trim', { nested: true }],
  ])('%j refuses %j with a TransformError', (step, input) => {
    expect(() => run(step, input)).toThrow(TransformError);
  });
});

describe('mapping definitions', () => {
  it('reports unknown target fields and transformations with their path', () => {
    const result = mappingsSchema.safeParse({
      products: [
        { sourceField: 'Kod', targetField: 'sku' },
        { sourceField: 'Ad', targetField: 'nmae' },
        { sourceField: 'Ad', targetField: 'name', transformation: ['trim', { type: 'rot13' }] },
      ],
    });
    expect(result.success).toBe(false);
    const issues = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual([
      expect.stringMatching(/^products\.1\.targetField: .*"sku"\|"name"/),
      expect.stringMatching(/^products\.2\.transformation\.1\.type: /),
    ]);
  });

  it('requires the fields a record cannot do without', () => {
    const result = mappingsSchema.safeParse({ prices: [{ sourceField: 'Kod', targetField: 'sku' }] });
    expect(result.error!.issues.map((i) => i.message)).toEqual(
      expect.arrayContaining(["target field 'amountMinor' must be mapped", "target field 'currency' must be mapped"]),
    );
  });

  it('refuses an invalid time zone and an invalid regex', () => {
    for (const step of [{ type: 'date', zone: 'Mars/Olympus' }, { type: 'regex', pattern: '(' }]) {
      expect(transformationStepSchema.safeParse(step).success).toBe(false);
    }
  });
});

describe('compiled mappings', () => {
  const prices = compileMapping(
    'prices',
    [
      { sourceField: 'StokKodu', targetField: 'sku', transformation: ['trim', 'upper'], required: true },
      { sourceField: 'Fiyat', targetField: 'amountMinor', transformation: [{ type: 'number', decimalSeparator: ',', thousandsSeparator: '.' }, { type: 'minorUnits', currencyField: 'Doviz' }], required: true },
      { sourceField: 'Doviz', targetField: 'currency', defaultValue: 'TRY' },
    ],
    { priceList: 'retail' },
  );

  it('maps a row with column names, dot paths, defaults and settings', () => {
    expect(prices.map({ StokKodu: ' ab-1 ', Fiyat: '1.299,90', Doviz: 'TRY' })).toEqual({
      ok: true,
      record: { sku: 'AB-1', priceList: 'retail', amountMinor: 129990, currency: 'TRY' },
    });
    const products = compileMapping('products', [
      { sourceField: 'kart.kod', targetField: 'sku' },
      { sourceField: 'Ürün Adı', targetField: 'name' },
      { sourceField: 'kart.aktif', targetField: 'active', transformation: { type: 'boolean' } },
    ]);
    expect(products.map({ kart: { kod: 'X1', aktif: 'H' }, 'Ürün Adı': 'Simit' })).toEqual({
      ok: true,
      record: { sku: 'X1', name: 'Simit', description: null, active: false },
    });
  });

  it('collects every error of a row, and validates the record', () => {
    const result = prices.map({ StokKodu: '', Fiyat: 'on iki', Doviz: 'TRY' });
    expect(result).toEqual({
      ok: false,
      errors: [
        { field: 'sku', message: "source field 'StokKodu' is missing or empty" },
        { field: 'amountMinor', message: expect.stringContaining("'on iki' is not a number") },
      ],
    });
    const negative = prices.map({ StokKodu: 'A', Fiyat: '-1', Doviz: 'TRY' });
    // The key fields mapped: the dead letter knows its record's natural key (a later valid row of it resolves the letter).
    expect(negative).toEqual({ ok: false, errors: [{ field: 'amountMinor', message: 'a price is not negative' }], key: 'A|retail|TRY' });
  });

  it('maps order lines with a nested mapping', () => {
    const orders = compileMapping('orders', [
      { sourceField: 'No', targetField: 'number' },
      { sourceField: 'Durum', targetField: 'status', transformation: { type: 'lookup', table: { A: 'open', K: 'closed' } } },
      { sourceField: 'Doviz', targetField: 'currency' },
      { sourceField: 'Toplam', targetField: 'totalMinor', transformation: [{ type: 'number', decimalSeparator: ',' }, { type: 'minorUnits', currency: 'TRY' }] },
      {
        sourceField: 'Satirlar',
        targetField: 'lines',
        lines: [
          { sourceField: 'Kod', targetField: 'sku' },
          { sourceField: 'Miktar', targetField: 'quantity', transformation: { type: 'integer' } },
          { sourceField: 'Fiyat', targetField: 'unitPriceMinor', transformation: [{ type: 'number', decimalSeparator: ',' }, { type: 'minorUnits', currency: 'TRY' }] },
        ],
      },
    ]);
    const ok = orders.map({ No: 'S-1', Durum: 'A', Doviz: 'TRY', Toplam: '20,50', Satirlar: [{ Kod: 'X', Miktar: '2', Fiyat: '10,25' }] });
    expect(ok).toEqual({
      ok: true,
      record: { number: 'S-1', status: 'open', currency: 'TRY', totalMinor: 2050, lines: [{ sku: 'X', quantity: 2, unitPriceMinor: 1025 }], orderedAt: null },
    });
    const bad = orders.map({ No: 'S-2', Durum: 'A', Doviz: 'TRY', Toplam: '1', Satirlar: [{ Kod: 'X', Miktar: 'iki', Fiyat: '1' }] });
    expect(bad).toEqual({ ok: false, errors: [{ field: 'lines[0].quantity', message: expect.any(String) }], key: 'S-2' });
  });
});

describe('published JSON Schema', () => {
  it('keeps docs/erp-mapping.schema.json in sync with the zod schemas', async () => {
    const { readFile } = await import('node:fs/promises');
    const { erpMappingJsonSchema } = await import('../../src/providers/erp/json-schema.js');
    // Run `npx tsx scripts/generate-erp-schema.ts` when this fails.
    const committed = JSON.parse(await readFile('docs/erp-mapping.schema.json', 'utf8')) as Record<string, unknown>;
    expect(committed).toEqual(erpMappingJsonSchema());
    expect(Object.keys(committed['$defs'] as object)).toEqual(expect.arrayContaining(['ErpMappings', 'ErpConnector', 'ErpTransformation']));
  });
});
