import { asc, eq } from 'drizzle-orm';
import { storedCircuitAt, type CircuitConfig } from '../../domain/circuit-breaker.js';
import { validateRuleSet, type ConnectionCandidateState, type RoutingRule, type RuleSetIssue } from '../../domain/payments/routing.js';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { connectionHealth, connections, routingRules } from '../../db/schema.js';
import { recordAudit, type ChangedBy } from '../platform/audit-event-store.js';

/*
 * A tenant's routing rule set: managed as one set (replaced whole after validating it whole, because
 * whether a rule can ever match, or shadows another, is a property of the set), and read with the
 * live state of the tenant's connections as routing's input.
 */

type RoutingRuleRow = typeof routingRules.$inferSelect;

/** A stored rule as the API shows it and the audit log records it. */
export interface StoredRoutingRule {
  id: string;
  name: string;
  priority: number;
  enabled: boolean;
  conditions: Record<string, unknown>;
  connectionIds: string[];
}

const storedRule = (row: RoutingRuleRow): StoredRoutingRule => ({
  id: row.id,
  name: row.name,
  priority: row.priority,
  enabled: row.enabled,
  conditions: row.conditions,
  connectionIds: row.connectionIds,
});

/** Evaluation order: priority, then id. */
const inEvaluationOrder = (rows: RoutingRuleRow[]): StoredRoutingRule[] =>
  [...rows].sort((a, b) => a.priority - b.priority || a.id.localeCompare(b.id)).map(storedRule);

/** The tenant's rule set in evaluation order. */
export async function listRoutingRules(db: Db, tenantId: string): Promise<StoredRoutingRule[]> {
  const rows = await db.select().from(routingRules).where(eq(routingRules.tenantId, tenantId)).orderBy(asc(routingRules.priority), asc(routingRules.id));
  return rows.map(storedRule);
}

/** A rule set refused whole: each problem with its path in the set (`rules.2.connectionIds.0`). */
export class RoutingRulesInvalidError extends Error {
  override readonly name = 'RoutingRulesInvalidError';
  constructor(readonly issues: RuleSetIssue[]) {
    super(`routing rules rejected: ${issues.length} problem(s)`);
  }
}

/**
 * Replaces the tenant's rule set (each rule gets a new id `rule_...`) after validating it whole against
 * the tenant's connections (RoutingRulesInvalidError); the set is audited as one change under the
 * tenant's id. Answers the stored set in evaluation order.
 */
export async function replaceRoutingRules(
  db: Db,
  changedBy: ChangedBy,
  input: readonly Omit<RoutingRule, 'id'>[],
): Promise<StoredRoutingRule[]> {
  const { tenantId } = changedBy;
  const owned = await db.select({ id: connections.id }).from(connections).where(eq(connections.tenantId, tenantId));
  const rules: RoutingRule[] = input.map((rule) => ({ ...rule, id: newId('rule') }));
  const issues = validateRuleSet(rules, owned.map((c) => c.id));
  if (issues.length > 0) throw new RoutingRulesInvalidError(issues);
  return db.transaction(async (tx) => {
    const replaced = await tx.delete(routingRules).where(eq(routingRules.tenantId, tenantId)).returning();
    const stored =
      rules.length === 0
        ? []
        : await tx
            .insert(routingRules)
            .values(rules.map((rule) => ({ ...rule, tenantId, conditions: rule.conditions as Record<string, unknown> })))
            .returning();
    const after = inEvaluationOrder(stored);
    // The set is the resource (it is replaced whole), so it is audited as one, under the tenant's id.
    await recordAudit(tx, {
      ...changedBy,
      action: 'routing_rules.replaced',
      resourceType: 'routing_rules',
      resourceId: tenantId,
      before: { rules: inEvaluationOrder(replaced) },
      after: { rules: after },
    });
    return after;
  });
}

export interface RoutingState {
  rules: RoutingRule[];
  connections: ConnectionCandidateState[];
}

/** A tenant's rules plus the live state (health, circuit at `now`) of its connections: routing's input. */
export async function loadRoutingState(
  db: Db,
  tenantId: string,
  opts: {
    now: number;
    circuit: CircuitConfig;
    capabilities(provider: string): Promise<ConnectionCandidateState['capabilities']>;
  },
): Promise<RoutingState> {
  // Two independent reads, side by side on the pool.
  const [rules, rows] = await Promise.all([
    db.select().from(routingRules).where(eq(routingRules.tenantId, tenantId)).orderBy(asc(routingRules.priority)),
    db
      .select({ c: connections, h: connectionHealth })
      .from(connections)
      .leftJoin(connectionHealth, eq(connectionHealth.connectionId, connections.id))
      .where(eq(connections.tenantId, tenantId)),
  ]);
  return {
    rules: rules.map((r) => ({
      id: r.id,
      name: r.name,
      priority: r.priority,
      enabled: r.enabled,
      conditions: r.conditions,
      connectionIds: r.connectionIds,
    })),
    connections: await Promise.all(
      rows.map(async ({ c, h }) => {
        const circuit = storedCircuitAt(h?.circuit, opts.now, opts.circuit);
        const capabilities = await opts.capabilities(c.provider);
        return {
          id: c.id,
          code: c.code,
          provider: c.provider,
          status: c.status,
          health: h?.health ?? 'unknown',
          circuit: circuit.state,
          ...(capabilities ? { capabilities } : {}),
        };
      }),
    ),
  };
}
