import { describe, expect, it } from 'vitest';
import { COUNTRY_CODES, REGIONS, countriesIn, isCountryCode, isRegion, regionOf } from '../../src/domain/payments/regions.js';
import { CURRENCY_CODES, currencyExponent, isCurrencyCode } from '../../src/domain/currencies.js';

describe('regionOf', () => {
  it.each([
    ['DE', 'EU'],
    ['FR', 'EU'],
    ['GB', 'EU'],
    ['CH', 'EU'],
    ['NO', 'EU'],
    ['IS', 'EU'],
    ['LI', 'EU'],
    ['RE', 'EU'], // Réunion is an EU outermost region
    ['JE', 'EU'],
    ['US', 'NA'],
    ['CA', 'NA'],
    ['PR', 'NA'],
    ['MX', 'LATAM'],
    ['BR', 'LATAM'],
    ['JM', 'LATAM'],
    ['JP', 'APAC'],
    ['AU', 'APAC'],
    ['IN', 'APAC'],
    ['KZ', 'APAC'],
    ['AE', 'MEA'],
    ['ZA', 'MEA'],
    ['TR', 'MEA'],
    ['EG', 'MEA'],
  ])('%s is in %s', (country, region) => {
    expect(regionOf(country)).toBe(region);
  });

  it.each(['de', 'XX', 'UK', 'EU', 'XK', '', 'DEU'])('%j has no region', (code) => {
    expect(regionOf(code)).toBeUndefined();
    expect(isCountryCode(code)).toBe(false);
  });

  it('covers all 249 assigned alpha-2 codes, each in exactly one region', () => {
    expect(COUNTRY_CODES).toHaveLength(249);
    const perRegion = REGIONS.map((r) => countriesIn(r));
    expect(perRegion.flat().sort()).toEqual([...COUNTRY_CODES]);
    for (const code of COUNTRY_CODES) expect(code).toMatch(/^[A-Z]{2}$/);
  });

  it('lists no made-up codes (cross-checked against ICU region names)', () => {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    expect(COUNTRY_CODES.filter((c) => names.of(c) === c)).toEqual([]);
  });

  it('puts exactly the EU 27 + EEA + GB + CH members in EU', () => {
    const members =
      'AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO GB CH';
    for (const c of members.split(' ')) expect(regionOf(c)).toBe('EU');
  });

  it('isRegion accepts only the five regions', () => {
    expect(REGIONS.filter(isRegion)).toEqual(['EU', 'NA', 'LATAM', 'APAC', 'MEA']);
    expect(isRegion('EMEA')).toBe(false);
    expect(isRegion('eu')).toBe(false);
  });
});

describe('currencies', () => {
  it.each([
    ['EUR', 2],
    ['USD', 2],
    ['GBP', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['VND', 0],
    ['CLP', 0],
    ['ISK', 0],
    ['UGX', 0],
    ['XOF', 0],
    ['BHD', 3],
    ['KWD', 3],
    ['JOD', 3],
    ['OMR', 3],
    ['TND', 3],
    ['IQD', 3],
    ['LYD', 3],
  ])('%s has exponent %i', (code, exponent) => {
    expect(isCurrencyCode(code)).toBe(true);
    expect(currencyExponent(code)).toBe(exponent);
  });

  it.each(['eur', 'XXX', 'XTS', 'XAU', 'HRK', 'ABC', '', 'EURO'])(
    '%j is not an accepted currency',
    (code) => {
      expect(isCurrencyCode(code)).toBe(false);
      expect(() => currencyExponent(code)).toThrow(RangeError);
    },
  );

  it('lists each code once, in order, as three upper-case letters', () => {
    expect(new Set(CURRENCY_CODES).size).toBe(CURRENCY_CODES.length);
    expect([...CURRENCY_CODES].sort()).toEqual(CURRENCY_CODES);
    for (const code of CURRENCY_CODES) expect(code).toMatch(/^[A-Z]{3}$/);
    expect(CURRENCY_CODES.length).toBeGreaterThan(150);
  });
});
