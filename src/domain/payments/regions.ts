/**
 * Country → routing region table and the ISO 4217 currencies Switchyard accepts, with their minor
 * units. Pure data; codes are upper case and compared exactly ('de' is not a country code).
 */

export const REGIONS = ['EU', 'NA', 'LATAM', 'APAC', 'MEA'] as const;
/** A routing region: a coarse group of countries that gateways are usually contracted for. */
export type Region = (typeof REGIONS)[number];

/**
 * Every officially assigned ISO 3166-1 alpha-2 code (249) in exactly one region.
 *
 * - EU: the EU 27, the EEA (IS, LI, NO), GB and CH; the territories that are legally part of them
 *   (AX and the French outermost regions GF, GP, MQ, RE, YT, MF); the Crown dependencies and GI; and,
 *   because there is no separate "rest of Europe" region, the rest of geographic Europe (microstates,
 *   Balkans, UA, MD, BY, RU, FO, SJ, BV).
 * - NA: US and CA, the US insular areas (PR, VI, GU, AS, MP, UM), and GL, PM, BM.
 * - LATAM: Mexico, Central and South America, the Caribbean, FK and GS.
 * - APAC: Asia (including Central Asia) and Oceania, plus AQ, HM, IO.
 * - MEA: the Middle East (with TR and the South Caucasus) and Africa, plus SH and TF.
 */
const COUNTRIES_BY_REGION: Record<Region, string> = {
  EU:
    'AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE ' +
    'IS LI NO GB CH ' +
    'AX GF GP MQ RE YT MF GG JE IM GI ' +
    'AD MC SM VA AL BA ME MK RS MD UA BY RU FO SJ BV',
  NA: 'US CA PR VI GU AS MP UM GL PM BM',
  LATAM:
    'MX BZ CR SV GT HN NI PA ' +
    'AR BO BR CL CO EC GY PY PE SR UY VE FK GS ' +
    'AG AI AW BB BL BQ BS CU CW DM DO GD HT JM KN KY LC MS SX TC TT VC VG',
  APAC:
    'AF AU NZ CN JP KR KP TW HK MO MN IN PK BD LK NP BT MV ' +
    'ID MY SG TH VN PH KH LA MM BN TL ' +
    'PG FJ SB VU NC PF WS TO TV KI NR FM MH PW CK NU TK WF PN NF CX CC ' +
    'KZ KG TJ TM UZ AQ HM IO',
  MEA:
    'AE BH IL IQ IR JO KW LB OM PS QA SA SY YE TR GE AM AZ ' +
    'DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS LR LY ' +
    'MG MW ML MR MU MA MZ NA NE NG RW ST SN SC SL SO ZA SS SD TZ TG TN UG EH ZM ZW SH TF',
};

const REGION_OF_COUNTRY: ReadonlyMap<string, Region> = new Map(
  REGIONS.flatMap((region) => COUNTRIES_BY_REGION[region].split(' ').map((c) => [c, region] as const)),
);

/** All assigned ISO 3166-1 alpha-2 codes, sorted. */
export const COUNTRY_CODES: readonly string[] = [...REGION_OF_COUNTRY.keys()].sort();

export function isCountryCode(code: string): boolean {
  return REGION_OF_COUNTRY.has(code);
}

export function isRegion(code: string): code is Region {
  return (REGIONS as readonly string[]).includes(code);
}

/** The routing region of an ISO 3166-1 alpha-2 code, or undefined when the code is not assigned. */
export function regionOf(country: string): Region | undefined {
  return REGION_OF_COUNTRY.get(country);
}

/** The countries of one region, sorted. */
export function countriesIn(region: Region): string[] {
  return COUNTRY_CODES.filter((c) => REGION_OF_COUNTRY.get(c) === region);
}

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
