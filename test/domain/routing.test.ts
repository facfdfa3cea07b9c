import { describe, expect, it } from 'vitest';
import {
  decideRoute,
  validateRuleSet,
  type ConnectionCandidateState,
  type RoutingFacts,
  type RoutingRule,
} from '../../src/domain/payments/routing.js';
import { routingRuleInputSchema } from '../../src/domain/payments/routing-rule-input.js';

function conn(id: string, over: Partial<ConnectionCandidateState> = {}): ConnectionCandidateState {
  return {
    id,
    code: id,
    provider: `prov-${id}`,
    status: 'active',
    health: 'healthy',
    circuit: 'closed',
    ...over,
  };
}

function rule(id: string, over: Partial<RoutingRule> = {}): RoutingRule {
  return { id, name: id, priority: 10, enabled: true, conditions: {}, connectionIds: [], ...over };
}

const deCard: RoutingFacts = { amount: 5000, currency: 'EUR', country: 'DE', paymentMethodType: 'card' };

describe('decideRoute: rule matching', () => {
  const cases: [string, RoutingRule['conditions'], Partial<RoutingFacts>, boolean, string][] = [
    ['no conditions', {}, {}, true, 'no conditions, matches every payment'],
    ['country listed', { countries: ['DE', 'AT'] }, {}, true, 'country DE'],
    ['country not listed', { countries: ['FR', 'AT'] }, {}, false, 'country DE not in [FR, AT]'],
    ['region', { regions: ['EU'] }, {}, true, 'country DE in region EU'],
    ['other region', { regions: ['NA', 'LATAM'] }, {}, false, 'country DE in region EU, not in [NA, LATAM]'],
    ['unknown country', { regions: ['EU'] }, { country: 'XX' }, false, 'country XX has no region'],
    ['currency', { currencies: ['EUR'] }, {}, true, 'currency EUR'],
    ['currency mismatch', { currencies: ['EUR'] }, { currency: 'USD' }, false, 'currency USD not in [EUR]'],
    ['min amount inclusive', { minAmount: 5000 }, {}, true, 'amount 5000 >= 5000'],
    ['below min', { minAmount: 5001 }, {}, false, 'amount 5000 below minimum 5001'],
    ['max amount inclusive', { maxAmount: 5000 }, {}, true, 'amount 5000 <= 5000'],
    ['above max', { maxAmount: 4999 }, {}, false, 'amount 5000 above maximum 4999'],
    ['amount range', { minAmount: 100, maxAmount: 10000 }, {}, true, 'amount 5000 in 100..10000'],
    ['method', { paymentMethods: ['card', 'wallet'] }, {}, true, 'method card'],
    ['method mismatch', { paymentMethods: ['wallet'] }, {}, false, 'method card not in [wallet]'],
    ['empty list never matches', { currencies: [] }, {}, false, 'currency EUR not in []'],
    [
      'several conditions, all hold',
      { regions: ['EU'], currencies: ['EUR'], paymentMethods: ['card'] },
      {},
      true,
      'country DE in region EU, currency EUR, method card',
    ],
    [
      'country listed and in region',
      { countries: ['DE'], regions: ['EU'] },
      {},
      true,
      'country DE in region EU',
    ],
    [
      'every failing condition is explained',
      { countries: ['FR'], currencies: ['GBP'], maxAmount: 10 },
      {},
      false,
      'country DE not in [FR]; currency EUR not in [GBP]; amount 5000 above maximum 10',
    ],
    [
      'long lists are shortened',
      { countries: ['AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR'] },
      {},
      false,
      'country DE not in [AT, BE, BG, HR, CY, CZ, DK, EE, ... +2 more]',
    ],
    ['codes are case-sensitive', { countries: ['DE'] }, { country: 'de' }, false, 'country de not in [DE]'],
  ];

  it.each(cases)('%s', (_name, conditions, factsOver, matched, reason) => {
    const d = decideRoute(
      { ...deCard, ...factsOver },
      [rule('r1', { conditions, connectionIds: ['a'] })],
      [conn('a')],
    );
    expect(d.evaluatedRules).toHaveLength(1);
    expect(d.evaluatedRules[0]).toMatchObject({ ruleId: 'r1', matched });
    expect(d.evaluatedRules[0]?.reason).toBe(matched ? `${reason}; added 1 candidate` : reason);
    expect(d.candidates.map((c) => c.connectionId)).toEqual(matched ? ['a'] : []);
  });

  it('says when a rule is disabled and does not use it', () => {
    const d = decideRoute(deCard, [rule('r1', { enabled: false, connectionIds: ['a'] })], [conn('a')]);
    expect(d.evaluatedRules).toEqual([{ ruleId: 'r1', matched: false, reason: 'rule disabled' }]);
    expect(d.candidates).toEqual([]);
  });
});

describe('decideRoute: ordering', () => {
  it('orders rules by priority, then id, and lets every matching rule contribute', () => {
    const rules = [
      rule('z-fallback', { priority: 100, connectionIds: ['c', 'a'] }),
      rule('b-eu', { priority: 10, conditions: { regions: ['EU'] }, connectionIds: ['b'] }),
      rule('a-eu', { priority: 10, conditions: { currencies: ['EUR'] }, connectionIds: ['a'] }),
      rule('us-only', { priority: 5, conditions: { countries: ['US'] }, connectionIds: ['d'] }),
    ];
    const d = decideRoute(
      deCard,
      rules,
      ['a', 'b', 'c', 'd'].map((id) => conn(id)),
    );
    expect(d.evaluatedRules.map((r) => [r.ruleId, r.matched])).toEqual([
      ['us-only', false],
      ['a-eu', true],
      ['b-eu', true],
      ['z-fallback', true],
    ]);
    expect(d.candidates.map((c) => [c.connectionId, c.ruleId, c.rank])).toEqual([
      ['a', 'a-eu', 1],
      ['b', 'b-eu', 2],
      ['c', 'z-fallback', 3],
    ]);
    expect(d.skipped).toEqual([]);
  });

  it('does not depend on the order rules are given in', () => {
    const rules = [
      rule('r3', { priority: 3, connectionIds: ['c'] }),
      rule('r1', { priority: 1, connectionIds: ['a'] }),
      rule('r2', { priority: 2, connectionIds: ['b'] }),
    ];
    const conns = ['a', 'b', 'c'].map((id) => conn(id));
    const forward = decideRoute(deCard, rules, conns);
    expect(decideRoute(deCard, [...rules].reverse(), [...conns].reverse())).toEqual(forward);
    expect(forward.candidates.map((c) => c.connectionId)).toEqual(['a', 'b', 'c']);
  });

  it('keeps a connection once, at its best position', () => {
    const rules = [
      rule('r1', { priority: 1, connectionIds: ['a', 'b', 'a'] }),
      rule('r2', { priority: 2, connectionIds: ['c', 'b'] }),
    ];
    const d = decideRoute(
      deCard,
      rules,
      ['a', 'b', 'c'].map((id) => conn(id)),
    );
    expect(d.candidates.map((c) => [c.connectionId, c.ruleId])).toEqual([
      ['a', 'r1'],
      ['b', 'r1'],
      ['c', 'r2'],
    ]);
  });

  it('writes a reason naming the rule, what matched and the choice', () => {
    const rules = [
      rule('eu', {
        name: 'EU cards',
        priority: 10,
        conditions: { regions: ['EU'], currencies: ['EUR'] },
        connectionIds: ['a', 'b'],
      }),
    ];
    const d = decideRoute(deCard, rules, [conn('a'), conn('b', { provider: 'adyen' })]);
    expect(d.candidates).toEqual([
      {
        connectionId: 'a',
        provider: 'prov-a',
        ruleId: 'eu',
        rank: 1,
        reason: 'rule "EU cards" (priority 10): country DE in region EU, currency EUR; 1st choice',
      },
      {
        connectionId: 'b',
        provider: 'adyen',
        ruleId: 'eu',
        rank: 2,
        reason: 'rule "EU cards" (priority 10): country DE in region EU, currency EUR; 2nd choice',
      },
    ]);
    expect(d.evaluatedRules[0]?.reason).toBe('country DE in region EU, currency EUR; added 2 candidates');
  });

  it.each([
    [3, '3rd'],
    [4, '4th'],
    [11, '11th'],
    [12, '12th'],
    [13, '13th'],
    [21, '21st'],
    [22, '22nd'],
  ])('numbers choice %i as %s', (n, word) => {
    const ids = Array.from({ length: n }, (_, i) => `c${i}`);
    const d = decideRoute(
      deCard,
      [rule('r', { connectionIds: ids })],
      ids.map((id) => conn(id)),
    );
    expect(d.candidates[n - 1]?.reason.endsWith(`; ${word} choice`)).toBe(true);
  });
});

describe('decideRoute: skipping unusable connections', () => {
  const cases: [string, ConnectionCandidateState | null, string | null][] = [
    ['missing', null, 'connection not found'],
    ['disabled', conn('x', { status: 'disabled' }), 'connection x (prov-x) is disabled'],
    ['unhealthy', conn('x', { health: 'unhealthy' }), 'connection x (prov-x) is unhealthy'],
    ['circuit open', conn('x', { circuit: 'open' }), 'connection x (prov-x) has its circuit open'],
    [
      'currency unsupported',
      conn('x', { capabilities: { currencies: ['USD'] } }),
      'connection x (prov-x) does not support currency EUR',
    ],
    [
      'country unsupported',
      conn('x', { capabilities: { countries: ['US'] } }),
      'connection x (prov-x) does not support country DE',
    ],
    [
      'method unsupported',
      conn('x', { capabilities: { paymentMethods: ['wallet'] } }),
      'connection x (prov-x) does not support payment method card',
    ],
    [
      'empty capability list supports nothing',
      conn('x', { capabilities: { currencies: [] } }),
      'connection x (prov-x) does not support currency EUR',
    ],
    ['health unknown is usable', conn('x', { health: 'unknown' }), null],
    ['half-open is usable', conn('x', { circuit: 'half_open' }), null],
    [
      'matching capabilities are usable',
      conn('x', { capabilities: { currencies: ['EUR'], countries: ['DE'], paymentMethods: ['card'] } }),
      null,
    ],
  ];

  it.each(cases)('%s', (_name, x, skipReason) => {
    const rules = [rule('r1', { connectionIds: ['x', 'ok'] })];
    const d = decideRoute(deCard, rules, x ? [x, conn('ok')] : [conn('ok')]);
    if (skipReason === null) {
      expect(d.skipped).toEqual([]);
      expect(d.candidates.map((c) => c.connectionId)).toEqual(['x', 'ok']);
    } else {
      expect(d.skipped).toEqual([{ connectionId: 'x', ruleId: 'r1', reason: skipReason }]);
      expect(d.candidates.map((c) => [c.connectionId, c.rank])).toEqual([['ok', 1]]);
    }
  });

  it.each([
    ['manual', ['automatic'], 'connection x (prov-x) does not support manual capture'],
    ['automatic', ['manual'], 'connection x (prov-x) does not support automatic capture'],
    ['manual', ['automatic', 'manual'], null],
    ['manual', undefined, null],
  ] as const)('a %s-capture payment and captureModes %j: skipped = %s', (captureMode, captureModes, skipReason) => {
    const x = conn('x', captureModes ? { capabilities: { captureModes: [...captureModes] } } : {});
    const d = decideRoute({ ...deCard, captureMode }, [rule('r1', { connectionIds: ['x', 'ok'] })], [x, conn('ok')]);
    expect(d.skipped.map((s) => s.reason)).toEqual(skipReason ? [skipReason] : []);
    expect(d.candidates[0]?.connectionId).toBe(skipReason ? 'ok' : 'x');
  });

  it('keeps a half-open connection in its place and notes the probe', () => {
    const d = decideRoute(
      deCard,
      [rule('r1', { connectionIds: ['h', 'a'] })],
      [conn('h', { circuit: 'half_open' }), conn('a')],
    );
    expect(d.candidates[0]).toMatchObject({ connectionId: 'h', rank: 1 });
    expect(d.candidates[0]?.reason).toContain('circuit half-open, this call is a probe');
    expect(d.candidates[1]?.reason).not.toContain('probe');
  });

  it('notes when health is not yet known', () => {
    const d = decideRoute(deCard, [rule('r1', { connectionIds: ['u'] })], [conn('u', { health: 'unknown' })]);
    expect(d.candidates[0]?.reason).toContain('health not yet known');
  });

  it('reports a skipped connection once even when several rules list it', () => {
    const rules = [
      rule('r1', { priority: 1, connectionIds: ['x'] }),
      rule('r2', { priority: 2, connectionIds: ['x', 'a'] }),
    ];
    const d = decideRoute(deCard, rules, [conn('x', { status: 'disabled' }), conn('a')]);
    expect(d.skipped.map((s) => [s.connectionId, s.ruleId])).toEqual([['x', 'r1']]);
    expect(d.candidates.map((c) => [c.connectionId, c.rank])).toEqual([['a', 1]]);
    expect(d.evaluatedRules[0]?.reason).toBe(
      'no conditions, matches every payment; no usable connection added',
    );
  });

  it('gives no candidates and explains each rule when nothing matches', () => {
    const rules = [
      rule('eu', { priority: 1, conditions: { currencies: ['EUR'] }, connectionIds: ['a'] }),
      rule('big', { priority: 2, conditions: { minAmount: 1_000_000 }, connectionIds: ['b'] }),
    ];
    const d = decideRoute({ ...deCard, currency: 'USD' }, rules, [conn('a'), conn('b')]);
    expect(d.candidates).toEqual([]);
    expect(d.skipped).toEqual([]);
    expect(d.evaluatedRules).toEqual([
      { ruleId: 'eu', matched: false, reason: 'currency USD not in [EUR]' },
      { ruleId: 'big', matched: false, reason: 'amount 5000 below minimum 1000000' },
    ]);
  });
});

describe('validateRuleSet', () => {
  const known = ['a', 'b'];
  const ok = rule('ok', { conditions: { regions: ['EU'], currencies: ['EUR'] }, connectionIds: ['a', 'b'] });

  it('accepts a sound rule set', () => {
    expect(validateRuleSet([ok, rule('fallback', { priority: 99, connectionIds: ['b'] })], known)).toEqual(
      [],
    );
  });

  const cases: [string, Partial<RoutingRule>, { path: string; message: string }[]][] = [
    [
      'unknown connection',
      { connectionIds: ['a', 'zzz'] },
      [{ path: 'rules[1].connectionIds[1]', message: 'unknown connection "zzz"' }],
    ],
    [
      'no connections',
      { connectionIds: [] },
      [{ path: 'rules[1].connectionIds', message: 'no connections: the rule can never route a payment' }],
    ],
    [
      'connection listed twice',
      { connectionIds: ['a', 'b', 'a'] },
      [{ path: 'rules[1].connectionIds[2]', message: 'connection "a" is listed twice' }],
    ],
    [
      'min above max',
      { conditions: { minAmount: 500, maxAmount: 100 } },
      [
        {
          path: 'rules[1].conditions.minAmount',
          message: 'minAmount 500 is greater than maxAmount 100: the rule can never match',
        },
      ],
    ],
    [
      'negative amount',
      { conditions: { maxAmount: -1 } },
      [{ path: 'rules[1].conditions.maxAmount', message: 'maxAmount must not be negative' }],
    ],
    [
      'fractional amount',
      { conditions: { minAmount: 10.5 } },
      [{ path: 'rules[1].conditions.minAmount', message: 'minAmount must be a whole number of minor units' }],
    ],
    [
      'unknown country',
      { conditions: { countries: ['DE', 'XX', 'de'] } },
      [
        { path: 'rules[1].conditions.countries[1]', message: 'unknown ISO 3166-1 alpha-2 country code "XX"' },
        { path: 'rules[1].conditions.countries[2]', message: 'unknown ISO 3166-1 alpha-2 country code "de"' },
      ],
    ],
    [
      'unknown currency',
      { conditions: { currencies: ['EUR', 'EURO'] } },
      [{ path: 'rules[1].conditions.currencies[1]', message: 'unknown ISO 4217 currency code "EURO"' }],
    ],
    [
      'unknown region',
      { conditions: { regions: ['EU', 'EMEA' as never] } },
      [
        {
          path: 'rules[1].conditions.regions[1]',
          message: 'unknown region "EMEA" (expected one of EU, NA, LATAM, APAC, MEA)',
        },
      ],
    ],
    [
      'unknown payment method',
      { conditions: { paymentMethods: ['cash' as never] } },
      [
        {
          path: 'rules[1].conditions.paymentMethods[0]',
          message: 'unknown payment method "cash" (expected one of card, wallet, bank_transfer, bank_debit, buy_now_pay_later, voucher)',
        },
      ],
    ],
    [
      'countries all outside the regions',
      { conditions: { countries: ['US', 'CA'], regions: ['EU'] } },
      [
        {
          path: 'rules[1].conditions.countries',
          message: 'none of the countries [US, CA] is in regions [EU]: the rule can never match',
        },
      ],
    ],
    [
      'one country outside the regions',
      { conditions: { countries: ['DE', 'US'], regions: ['EU'] } },
      [
        {
          path: 'rules[1].conditions.countries[1]',
          message: 'country US is in region NA, outside [EU]: it can never match',
        },
      ],
    ],
    ...(['countries', 'regions', 'currencies', 'paymentMethods'] as const).map(
      (key): [string, Partial<RoutingRule>, { path: string; message: string }[]] => [
        `empty ${key}`,
        { conditions: { [key]: [] } },
        [
          {
            path: `rules[1].conditions.${key}`,
            message: `empty ${key} list matches no payment; omit it to match all`,
          },
        ],
      ],
    ),
  ];

  it.each(cases)('%s', (_name, over, issues) => {
    expect(validateRuleSet([ok, rule('bad', { connectionIds: ['a'], ...over })], known)).toEqual(issues);
  });

  it('reports duplicate rule ids at the later rule', () => {
    expect(
      validateRuleSet([ok, rule('x', { connectionIds: ['a'] }), rule('ok', { connectionIds: ['b'] })], known),
    ).toEqual([{ path: 'rules[2].id', message: 'duplicate rule id "ok" (also rules[0])' }]);
  });

  it('checks disabled rules too', () => {
    const issues = validateRuleSet([rule('off', { enabled: false, connectionIds: ['gone'] })], known);
    expect(issues.map((i) => i.path)).toEqual(['rules[0].connectionIds[0]']);
  });

  it('reports several problems of one rule together', () => {
    const issues = validateRuleSet(
      [rule('r', { connectionIds: [], conditions: { minAmount: -5, currencies: ['ZZZ'] } })],
      known,
    );
    expect(issues.map((i) => i.path).sort()).toEqual([
      'rules[0].conditions.currencies[0]',
      'rules[0].conditions.minAmount',
      'rules[0].connectionIds',
    ]);
  });
});

describe('routingRuleInputSchema', () => {
  const valid = {
    name: 'EU cards',
    priority: 10,
    conditions: { regions: ['EU'], currencies: ['EUR'], minAmount: 0, paymentMethods: ['card'] },
    connectionIds: ['conn_1'],
  };

  it('parses a valid rule and defaults enabled to true', () => {
    expect(routingRuleInputSchema.parse(valid)).toEqual({ ...valid, enabled: true });
  });

  it('produces values that fit the domain types', () => {
    const parsed = routingRuleInputSchema.parse(valid);
    const asRule: RoutingRule = { id: 'r1', ...parsed };
    expect(decideRoute(deCard, [asRule], [conn('conn_1')]).candidates).toHaveLength(1);
  });

  it('defaults missing conditions to match-all', () => {
    expect(
      routingRuleInputSchema.parse({ name: 'all', priority: 1, connectionIds: ['c'] }).conditions,
    ).toEqual({});
  });

  it.each<[string, Record<string, unknown>]>([
    ['misspelt condition', { conditions: { country: ['DE'] } }],
    ['unknown top-level key', { id: 'r1' }],
    ['lower-case country', { conditions: { countries: ['de'] } }],
    ['three-letter country', { conditions: { countries: ['DEU'] } }],
    ['lower-case currency', { conditions: { currencies: ['eur'] } }],
    ['unknown region', { conditions: { regions: ['EMEA'] } }],
    ['unknown method', { conditions: { paymentMethods: ['cash'] } }],
    ['negative amount', { conditions: { minAmount: -1 } }],
    ['fractional amount', { conditions: { maxAmount: 1.5 } }],
    ['fractional priority', { priority: 1.5 }],
    ['empty name', { name: '  ' }],
    ['empty connection id', { connectionIds: [''] }],
  ])('rejects %s', (_name, over) => {
    expect(routingRuleInputSchema.safeParse({ ...valid, ...over }).success).toBe(false);
  });
});
