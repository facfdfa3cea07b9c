/**
 * The ISO 4217 currencies Switchyard accepts, with their minor units. Pure data shared by every
 * family (payment amounts, ERP prices, templates); codes are upper case and compared exactly.
 */

/**
 * ISO 4217 currencies in circulation. Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW),
 * precious metals, SDR/bond units and the test codes (XTS, XXX) are left out: nothing is paid in them.
 */
const CURRENCIES_EXPONENT_2 =
  'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD ' +
  'CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ ' +
  'GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA ' +
  'MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR ' +
  'RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD ' +
  'TWD TZS UAH USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG';
const CURRENCIES_EXPONENT_0 = 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF';
const CURRENCIES_EXPONENT_3 = 'BHD IQD JOD KWD LYD OMR TND';

const EXPONENT_OF_CURRENCY: ReadonlyMap<string, number> = new Map([
  ...CURRENCIES_EXPONENT_2.split(' ').map((c) => [c, 2] as const),
  ...CURRENCIES_EXPONENT_0.split(' ').map((c) => [c, 0] as const),
  ...CURRENCIES_EXPONENT_3.split(' ').map((c) => [c, 3] as const),
]);

/** All accepted ISO 4217 alphabetic codes, sorted. */
export const CURRENCY_CODES: readonly string[] = [...EXPONENT_OF_CURRENCY.keys()].sort();

export function isCurrencyCode(code: string): boolean {
  return EXPONENT_OF_CURRENCY.has(code);
}

/**
 * Number of decimal places of the currency's minor unit (JPY 0, EUR 2, KWD 3): an amount of 1050 in
 * minor units is 1050 JPY, 10.50 EUR or 1.050 KWD. Throws for a code that is not a known currency,
 * because guessing would misstate an amount by a factor of 10 or 100.
 */
export function currencyExponent(code: string): number {
  const exponent = EXPONENT_OF_CURRENCY.get(code);
  if (exponent === undefined) throw new RangeError(`unknown ISO 4217 currency code "${code}"`);
  return exponent;
}
