import { Context } from '@temporalio/activity';
import { and, asc, eq, gt } from 'drizzle-orm';
import { pruneOutcomes, recordHealthCheck } from '../../stores/payments/connection-health-store.js';
import { connections } from '../../db/schema.js';
import { DEFAULT_CIRCUIT_CONFIG, type CircuitConfig } from '../../domain/circuit-breaker.js';
import { loadConnectionClient } from '../connection-clients.js';
import type { GatewayDeps } from '../load-gateway.js';

/** Probes running at once inside one batch activity (gateways are many, each call is short). */
const BATCH_CONCURRENCY = 20;

export function createHealthActivities(deps: GatewayDeps & { circuit?: CircuitConfig }) {
  /** Probes a connection's health endpoint and records the result (never throws for a down gateway). */
  async function checkConnectionHealth(input: {
    tenantId: string;
    connectionId: string;
  }): Promise<{ ok: boolean; latencyMs: number }> {
    let probe: { ok: boolean; latencyMs: number; detail?: string };
    try {
      const { client } = await loadConnectionClient(deps, input.tenantId, input.connectionId);
      probe = await client.checkHealth();
    } catch (err) {
      probe = { ok: false, latencyMs: 0, detail: err instanceof Error ? err.message : String(err) };
    }
    const circuit = deps.circuit ?? DEFAULT_CIRCUIT_CONFIG;
    // The result, and connection.health_changed when it changes the connection's health.
    await recordHealthCheck(deps.db, { ...input, probe }, Date.now(), circuit);
    // The periodic check is also when the breaker's expired outcomes are cleaned up, per connection.
    await pruneOutcomes(deps.db, input.connectionId, Date.now(), circuit);
    return { ok: probe.ok, latencyMs: probe.latencyMs };
  }

  return {
    /** One page of active connections in id order, after `after` (keyset pagination). */
    async listActiveConnectionsPage(input: {
      after: string | null;
      limit: number;
    }): Promise<{ tenantId: string; connectionId: string }[]> {
      return deps.db
        .select({ tenantId: connections.tenantId, connectionId: connections.id })
        .from(connections)
        .where(
          input.after
            ? and(eq(connections.status, 'active'), gt(connections.id, input.after))
            : eq(connections.status, 'active'),
        )
        .orderBy(asc(connections.id))
        .limit(input.limit);
    },

    /**
     * Probes a batch of connections with bounded concurrency: one activity (three history events)
     * per batch instead of per connection, so thousands of connections fit in a workflow run.
     */
    async checkConnectionsHealth(input: {
      targets: { tenantId: string; connectionId: string }[];
    }): Promise<{ checked: number; unhealthy: number }> {
      let next = 0;
      let unhealthy = 0;
      const worker = async () => {
        while (next < input.targets.length) {
          const target = input.targets[next++]!;
          const result = await checkConnectionHealth(target).catch(() => ({ ok: false }));
          if (!result.ok) unhealthy += 1;
          Context.current().heartbeat(next);
        }
      };
      await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, input.targets.length) }, worker));
      return { checked: input.targets.length, unhealthy };
    },
  };
}

export type HealthActivities = ReturnType<typeof createHealthActivities>;
