/**
 * Country → routing region table. Pure data; codes are upper case and compared exactly ('de' is not
 * a country code). The currencies are in ../currencies.ts (every family uses them).
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
