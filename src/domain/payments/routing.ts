/**
 * The routing decision: which connections a payment should try, in which order, and why. Pure and
 * deterministic, so a workflow can compute it and record the result in its history.
 */
import { REGIONS, isCountryCode, isRegion, regionOf, type Region } from './regions.js';
import { isCurrencyCode } from '../currencies.js';

export const PAYMENT_METHOD_TYPES = ['card', 'wallet', 'bank_transfer', 'bank_debit', 'buy_now_pay_later', 'voucher'] as const;
export type PaymentMethodType = (typeof PAYMENT_METHOD_TYPES)[number];

/**
 * What a payment must look like for a rule to apply. Every condition given must hold (AND); an
 * omitted condition matches everything, an empty list matches nothing. Amounts are in minor units of
 * the payment's own currency, so amount bounds are only meaningful together with `currencies`.
 */
export interface RuleConditions {
  countries?: string[];
  regions?: Region[];
  currencies?: string[];
  /** Inclusive lower bound, minor units. */
  minAmount?: number;
  /** Inclusive upper bound, minor units. */
  maxAmount?: number;
  paymentMethods?: PaymentMethodType[];
}

export interface RoutingRule {
  id: string;
  name: string;
  /** Lower is evaluated first; ties are broken by id. */
  priority: number;
  enabled: boolean;
  conditions: RuleConditions;
  /** Connections in preference order. */
  connectionIds: string[];
}

/** The facts about a payment that routing looks at. `amount` is in minor units. */
export interface RoutingFacts {
  amount: number;
  currency: string;
  country: string;
  paymentMethodType: PaymentMethodType;
  /** Absent (older workflow histories) means any capture mode is acceptable. */
  captureMode?: CaptureMode;
}

export type CaptureMode = 'automatic' | 'manual';

/** What a provider declares it supports. Absent lists mean "no limit". */
export interface ProviderCapabilities {
  currencies?: string[];
  countries?: string[];
  paymentMethods?: string[];
  captureModes?: CaptureMode[];
}

/** A connection's routing-relevant state at decision time. Absent capability lists mean "no limit". */
export interface ConnectionCandidateState {
  id: string;
  code: string;
  provider: string;
  status: 'active' | 'disabled';
  health: 'healthy' | 'unhealthy' | 'unknown';
  circuit: 'closed' | 'open' | 'half_open';
  capabilities?: ProviderCapabilities;
}

export interface RoutingCandidate {
  connectionId: string;
  provider: string;
  /** The rule that placed the connection here (its first, best-ranked appearance). */
  ruleId: string;
  /** 1-based position in the order of attempts. */
  rank: number;
  reason: string;
}

export interface RoutingDecision {
  candidates: RoutingCandidate[];
  skipped: { connectionId: string; ruleId: string; reason: string }[];
  evaluatedRules: { ruleId: string; matched: boolean; reason: string }[];
}

/**
 * Decides the ordered list of connections to try for a payment.
 *
 * - Rules are evaluated by priority, then id; every enabled rule whose conditions all hold adds its
 *   connections in its own order, after those of better rules. A connection appears once, at its
 *   first position.
 * - A connection is skipped (once, with a reason) when it is unknown, disabled, unhealthy, its circuit
 *   is open, or its capabilities exclude the payment's currency, country, method or capture mode.
 * - Health 'unknown' (never probed) is usable. A half-open circuit is usable and keeps its place:
 *   the breaker needs live calls to close again, and a failure falls back to the next candidate. The
 *   reason says the call is a probe.
 * - No matching rule gives no candidates; `evaluatedRules` says why each rule did not match.
 */
export function decideRoute(
  facts: RoutingFacts,
  rules: readonly RoutingRule[],
  connections: readonly ConnectionCandidateState[],
): RoutingDecision {
  const byId = new Map(connections.map((c) => [c.id, c]));
  const decision: RoutingDecision = { candidates: [], skipped: [], evaluatedRules: [] };
  const seen = new Set<string>();

  for (const rule of sortRules(rules)) {
    if (!rule.enabled) {
      decision.evaluatedRules.push({ ruleId: rule.id, matched: false, reason: 'rule disabled' });
      continue;
    }
    const match = matchConditions(rule.conditions, facts);
    if (!match.matched) {
      decision.evaluatedRules.push({ ruleId: rule.id, matched: false, reason: match.reason });
      continue;
    }
    const ruleLabel = `rule "${rule.name}" (priority ${rule.priority}): ${match.reason}`;
    let added = 0;
    for (const connectionId of rule.connectionIds) {
      if (seen.has(connectionId)) continue;
      seen.add(connectionId);
      const connection = byId.get(connectionId);
      if (connection === undefined) {
        decision.skipped.push({ connectionId, ruleId: rule.id, reason: 'connection not found' });
        continue;
      }
      const unusable = unusableBecause(connection, facts);
      if (unusable !== null) {
        decision.skipped.push({ connectionId, ruleId: rule.id, reason: unusable });
        continue;
      }
      const rank = decision.candidates.length + 1;
      const notes = [`${ordinal(rank)} choice`];
      if (connection.circuit === 'half_open') notes.push('circuit half-open, this call is a probe');
      if (connection.health === 'unknown') notes.push('health not yet known');
      decision.candidates.push({
        connectionId,
        provider: connection.provider,
        ruleId: rule.id,
        rank,
        reason: `${ruleLabel}; ${notes.join('; ')}`,
      });
      added += 1;
    }
    const contribution =
      added === 0 ? 'no usable connection added' : `added ${added} candidate${added === 1 ? '' : 's'}`;
    decision.evaluatedRules.push({
      ruleId: rule.id,
      matched: true,
      reason: `${match.reason}; ${contribution}`,
    });
  }
  return decision;
}

function sortRules(rules: readonly RoutingRule[]): RoutingRule[] {
  // Plain code-unit comparison of ids: localeCompare depends on the runtime's locale data.
  return [...rules].sort((a, b) => a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Why a connection cannot take this payment, or null when it can. */
function unusableBecause(c: ConnectionCandidateState, facts: RoutingFacts): string | null {
  const name = `connection ${c.code} (${c.provider})`;
  if (c.status === 'disabled') return `${name} is disabled`;
  if (c.health === 'unhealthy') return `${name} is unhealthy`;
  if (c.circuit === 'open') return `${name} has its circuit open`;
  const caps = c.capabilities;
  if (caps?.currencies && !caps.currencies.includes(facts.currency)) {
    return `${name} does not support currency ${facts.currency}`;
  }
  if (caps?.countries && !caps.countries.includes(facts.country)) {
    return `${name} does not support country ${facts.country}`;
  }
  if (caps?.paymentMethods && !caps.paymentMethods.includes(facts.paymentMethodType)) {
    return `${name} does not support payment method ${facts.paymentMethodType}`;
  }
  // A manual-capture payment sent to a gateway that captures at once would take the money early.
  if (facts.captureMode && caps?.captureModes && !caps.captureModes.includes(facts.captureMode)) {
    return `${name} does not support ${facts.captureMode} capture`;
  }
  return null;
}

/** Checks every condition; the reason lists what held (on a match) or everything that failed. */
export function matchConditions(
  conditions: RuleConditions,
  facts: RoutingFacts,
): { matched: boolean; reason: string } {
  const held: string[] = [];
  const failed: string[] = [];
  const { countries, regions, currencies, minAmount, maxAmount, paymentMethods } = conditions;
  const region = regionOf(facts.country);

  if (countries) {
    if (countries.includes(facts.country)) {
      if (!regions) held.push(`country ${facts.country}`);
    } else failed.push(`country ${facts.country} not in ${list(countries)}`);
  }
  if (regions) {
    if (region === undefined) failed.push(`country ${facts.country} has no region`);
    else if (regions.includes(region)) held.push(`country ${facts.country} in region ${region}`);
    else failed.push(`country ${facts.country} in region ${region}, not in ${list(regions)}`);
  }
  if (currencies) {
    if (currencies.includes(facts.currency)) held.push(`currency ${facts.currency}`);
    else failed.push(`currency ${facts.currency} not in ${list(currencies)}`);
  }
  if (minAmount !== undefined || maxAmount !== undefined) {
    if (minAmount !== undefined && facts.amount < minAmount) {
      failed.push(`amount ${facts.amount} below minimum ${minAmount}`);
    } else if (maxAmount !== undefined && facts.amount > maxAmount) {
      failed.push(`amount ${facts.amount} above maximum ${maxAmount}`);
    } else if (minAmount !== undefined && maxAmount !== undefined) {
      held.push(`amount ${facts.amount} in ${minAmount}..${maxAmount}`);
    } else {
      held.push(
        minAmount !== undefined
          ? `amount ${facts.amount} >= ${minAmount}`
          : `amount ${facts.amount} <= ${maxAmount}`,
      );
    }
  }
  if (paymentMethods) {
    if (paymentMethods.includes(facts.paymentMethodType)) held.push(`method ${facts.paymentMethodType}`);
    else failed.push(`method ${facts.paymentMethodType} not in ${list(paymentMethods)}`);
  }

  if (failed.length > 0) return { matched: false, reason: failed.join('; ') };
  return {
    matched: true,
    reason: held.length > 0 ? held.join(', ') : 'no conditions, matches every payment',
  };
}

const LIST_LIMIT = 8;

function list(values: readonly string[]): string {
  if (values.length <= LIST_LIMIT) return `[${values.join(', ')}]`;
  return `[${values.slice(0, LIST_LIMIT).join(', ')}, ... +${values.length - LIST_LIMIT} more]`;
}

function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  switch (n % 10) {
    case 1:
      return `${n}st`;
    case 2:
      return `${n}nd`;
    case 3:
      return `${n}rd`;
    default:
      return `${n}th`;
  }
}

/** One problem in a rule set; `path` points into the array given, e.g. `rules[2].conditions.minAmount`. */
export interface RuleSetIssue {
  path: string;
  message: string;
}

/**
 * Finds rules that are malformed or can never do what they say: unknown codes or connections,
 * impossible conditions, empty lists, duplicates. An empty result means the set is usable.
 * Disabled rules are checked too, so enabling one later cannot surprise anyone.
 */
export function validateRuleSet(
  rules: readonly RoutingRule[],
  knownConnectionIds: Iterable<string>,
): RuleSetIssue[] {
  const known = new Set(knownConnectionIds);
  const issues: RuleSetIssue[] = [];
  const firstIndexOfId = new Map<string, number>();

  rules.forEach((rule, i) => {
    const at = `rules[${i}]`;
    const issue = (path: string, message: string) => issues.push({ path: `${at}${path}`, message });

    const earlier = firstIndexOfId.get(rule.id);
    if (earlier !== undefined) issue('.id', `duplicate rule id "${rule.id}" (also rules[${earlier}])`);
    else firstIndexOfId.set(rule.id, i);

    if (!Number.isFinite(rule.priority)) issue('.priority', 'priority must be a finite number');

    if (rule.connectionIds.length === 0) {
      issue('.connectionIds', 'no connections: the rule can never route a payment');
    }
    const seenConnections = new Set<string>();
    rule.connectionIds.forEach((id, k) => {
      if (!known.has(id)) issue(`.connectionIds[${k}]`, `unknown connection "${id}"`);
      if (seenConnections.has(id)) issue(`.connectionIds[${k}]`, `connection "${id}" is listed twice`);
      seenConnections.add(id);
    });

    const c = rule.conditions;
    const cond = (path: string, message: string) => issue(`.conditions${path}`, message);
    const checkList = (
      name: keyof RuleConditions,
      values: readonly string[] | undefined,
      valid: (v: string) => boolean,
      unknown: (v: string) => string,
    ) => {
      if (values === undefined) return;
      if (values.length === 0) {
        cond(`.${name}`, `empty ${name} list matches no payment; omit it to match all`);
      }
      values.forEach((v, k) => {
        if (!valid(v)) cond(`.${name}[${k}]`, unknown(v));
      });
    };
    checkList(
      'countries',
      c.countries,
      isCountryCode,
      (v) => `unknown ISO 3166-1 alpha-2 country code "${v}"`,
    );
    checkList(
      'regions',
      c.regions,
      isRegion,
      (v) => `unknown region "${v}" (expected one of ${REGIONS.join(', ')})`,
    );
    checkList('currencies', c.currencies, isCurrencyCode, (v) => `unknown ISO 4217 currency code "${v}"`);
    checkList(
      'paymentMethods',
      c.paymentMethods,
      (m) => (PAYMENT_METHOD_TYPES as readonly string[]).includes(m),
      (v) => `unknown payment method "${v}" (expected one of ${PAYMENT_METHOD_TYPES.join(', ')})`,
    );

    for (const key of ['minAmount', 'maxAmount'] as const) {
      const amount = c[key];
      if (amount === undefined) continue;
      if (!Number.isSafeInteger(amount)) cond(`.${key}`, `${key} must be a whole number of minor units`);
      else if (amount < 0) cond(`.${key}`, `${key} must not be negative`);
    }
    if (c.minAmount !== undefined && c.maxAmount !== undefined && c.minAmount > c.maxAmount) {
      cond(
        '.minAmount',
        `minAmount ${c.minAmount} is greater than maxAmount ${c.maxAmount}: the rule can never match`,
      );
    }

    // With both lists, a country must also lie in one of the regions (conditions are ANDed).
    if (c.countries && c.countries.length > 0 && c.regions && c.regions.length > 0) {
      const regions = c.regions;
      const outside = c.countries
        .map((country, k) => ({ country, k, region: regionOf(country) }))
        .filter((x) => x.region !== undefined && !regions.includes(x.region));
      const knownCountries = c.countries.filter(isCountryCode).length;
      if (knownCountries > 0 && outside.length === knownCountries) {
        cond(
          '.countries',
          `none of the countries ${list(c.countries)} is in regions ${list(regions)}: the rule can never match`,
        );
      } else {
        for (const x of outside) {
          cond(
            `.countries[${x.k}]`,
            `country ${x.country} is in region ${x.region}, outside ${list(regions)}: it can never match`,
          );
        }
      }
    }
  });
  return issues;
}
