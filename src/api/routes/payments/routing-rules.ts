import { z } from 'zod';
import { routingRuleInputSchema } from '../../../domain/payments/routing-rule-input.js';
import { decideRoute, PAYMENT_METHOD_TYPES } from '../../../domain/payments/routing.js';
import { DEFAULT_CIRCUIT_CONFIG } from '../../../domain/circuit-breaker.js';
import { listRoutingRules, loadRoutingState, replaceRoutingRules, RoutingRulesInvalidError } from '../../../stores/payments/routing-rule-store.js';
import { byKey } from '../../../stores/platform/audit-event-store.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { amountInMinorUnits, countryCode, currencyCode } from '../../common-schemas.js';
import { ApiError } from '../../errors.js';

const ruleOut = z.object({
  id: z.string(),
  name: z.string(),
  priority: z.number().int().min(0).max(1_000_000),
  enabled: z.boolean(),
  conditions: z.record(z.string(), z.unknown()),
  connectionIds: z.array(z.string()),
}).meta({
  id: 'RoutingRule',
  examples: [
    {
      id: 'rule_2w6k9m4q8x1t7n3v5p0r',
      name: 'EU cards',
      priority: 10,
      enabled: true,
      conditions: { currencies: ['EUR'], regions: ['EU'], paymentMethods: ['card'] },
      connectionIds: ['con_7m4k2x9q1v8t3n6p5r0w', 'con_9x3v6k2m8q1t4n7p5r0w'],
    },
  ],
});
const rulesOut = z.object({ data: z.array(ruleOut) });
const putBody = z.strictObject({ rules: z.array(routingRuleInputSchema).max(200) }).meta({
  examples: [
    {
      rules: [
        {
          name: 'EU cards',
          priority: 10,
          conditions: { currencies: ['EUR'], regions: ['EU'], paymentMethods: ['card'] },
          connectionIds: ['con_7m4k2x9q1v8t3n6p5r0w', 'con_9x3v6k2m8q1t4n7p5r0w'],
        },
      ],
    },
  ],
});
const simulateBody = z
  .strictObject({
    amount: amountInMinorUnits,
    currency: currencyCode,
    country: countryCode,
    paymentMethodType: z.enum(PAYMENT_METHOD_TYPES).default('card'),
    captureMode: z.enum(['automatic', 'manual']).default('automatic'),
  })
  .meta({ examples: [{ amount: 1050, currency: 'EUR', country: 'DE', paymentMethodType: 'card', captureMode: 'automatic' }] });
const decisionOut = z.object({
  candidates: z.array(z.object({ connectionId: z.string(), provider: z.string(), ruleId: z.string(), rank: z.number().int().positive(), reason: z.string() })),
  skipped: z.array(z.object({ connectionId: z.string(), ruleId: z.string(), reason: z.string() })),
  evaluatedRules: z.array(z.object({ ruleId: z.string(), matched: z.boolean(), reason: z.string() })),
}).meta({
  id: 'RoutingDecision',
  examples: [
    {
      candidates: [
        {
          connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
          provider: 'stripe',
          ruleId: 'rule_2w6k9m4q8x1t7n3v5p0r',
          rank: 1,
          reason: 'rule "EU cards" (priority 10): currency EUR, region EU, method card; first choice',
        },
      ],
      skipped: [{ connectionId: 'con_9x3v6k2m8q1t4n7p5r0w', ruleId: 'rule_2w6k9m4q8x1t7n3v5p0r', reason: 'circuit open' }],
      evaluatedRules: [{ ruleId: 'rule_2w6k9m4q8x1t7n3v5p0r', matched: true, reason: 'currency EUR, region EU, method card; added 1 candidate' }],
    },
  ],
});

/**
 * Routing rules are managed as one set (PUT replaces it atomically after validating it whole), because
 * whether a rule can ever match, or shadows another, is a property of the set.
 */
export function routingRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;

  return r
    .endpoint(
      'get',
      '/v1/routing/rules',
      { operationId: 'listRoutingRules', summary: 'The routing rule set, in evaluation order', responses: { 200: { description: 'Rules', schema: rulesOut } } },
      async ({ tenant, res }) => {
        res.json({ data: await listRoutingRules(db, tenant.id) });
      },
    )
    .endpoint(
      'put',
      '/v1/routing/rules',
      {
        operationId: 'replaceRoutingRules',
        summary: 'Replace the routing rule set',
        description: 'Rejected whole (400, each problem with its path) if any rule names an unknown connection or can never match.',
        body: putBody,
        responses: { 200: { description: 'The stored rule set', schema: rulesOut } },
      },
      async ({ body, tenant, res }) => {
        const rules = await replaceRoutingRules(db, byKey(tenant), body.rules).catch((err: unknown) => {
          if (!(err instanceof RoutingRulesInvalidError)) throw err;
          throw new ApiError(400, 'validation_failed', err.message, err.issues.map((i) => ({ path: `body.${i.path}`, message: i.message })));
        });
        res.json({ data: rules });
      },
    )
    .endpoint(
      'post',
      '/v1/routing/simulate',
      {
        operationId: 'simulateRouting',
        summary: 'Which gateways, in which order, and why — for a hypothetical payment; charges nothing',
        scope: 'read',
        body: simulateBody,
        responses: { 200: { description: 'The routing decision with current health and circuit states', schema: decisionOut } },
      },
      async ({ body, tenant, res }) => {
        const { rules, connections: states } = await loadRoutingState(db, tenant.id, {
          now: Date.now(),
          circuit: deps.circuit ?? DEFAULT_CIRCUIT_CONFIG,
          capabilities: (p) => deps.providers.capabilities(tenant.id, p),
        });
        res.json(decideRoute(body, rules, states));
      },
    );
}
