import { asc, eq } from 'drizzle-orm';
import { storedCircuitAt, type CircuitConfig } from '../../domain/circuit-breaker.js';
import type { ConnectionCandidateState, RoutingRule } from '../../domain/payments/routing.js';
import type { Db } from '../../db/client.js';
import { connectionHealth, connections, routingRules } from '../../db/schema.js';

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
