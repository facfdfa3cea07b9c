import { and, eq, sql } from 'drizzle-orm';
import { connectionHealth, connections } from '../db/schema.js';
import { loadGateway, type GatewayDeps } from './load-gateway.js';

/** Consecutive failed checks before a connection is marked unhealthy (one blip is not an outage). */
export const UNHEALTHY_AFTER_FAILED_CHECKS = 2;

export function createHealthActivities(deps: GatewayDeps) {
  return {
    async listActiveConnections(): Promise<{ tenantId: string; connectionId: string }[]> {
      const rows = await deps.db
        .select({ tenantId: connections.tenantId, connectionId: connections.id })
        .from(connections)
        .where(eq(connections.status, 'active'));
      return rows;
    },

    /** Probes a connection's health endpoint and records the result (never throws for a down gateway). */
    async checkConnectionHealth(input: { tenantId: string; connectionId: string }): Promise<{ ok: boolean; latencyMs: number }> {
      let probe: { ok: boolean; latencyMs: number; detail?: string };
      try {
        const { gateway } = await loadGateway(deps, input.tenantId, input.connectionId);
        probe = await gateway.checkHealth();
      } catch (err) {
        probe = { ok: false, latencyMs: 0, detail: err instanceof Error ? err.message : String(err) };
      }
      await deps.db
        .insert(connectionHealth)
        .values({ connectionId: input.connectionId, tenantId: input.tenantId })
        .onConflictDoNothing();
      const failures = probe.ok ? sql`0` : sql`${connectionHealth.consecutiveCheckFailures} + 1`;
      await deps.db
        .update(connectionHealth)
        .set({
          consecutiveCheckFailures: failures,
          health: probe.ok
            ? 'healthy'
            : sql`case when ${connectionHealth.consecutiveCheckFailures} + 1 >= ${UNHEALTHY_AFTER_FAILED_CHECKS} then 'unhealthy' else ${connectionHealth.health} end`,
          lastCheckAt: new Date(),
          lastCheckLatencyMs: Math.round(probe.latencyMs),
          lastCheckDetail: probe.detail ?? null,
          updatedAt: new Date(),
        })
        .where(and(eq(connectionHealth.connectionId, input.connectionId)));
      return { ok: probe.ok, latencyMs: probe.latencyMs };
    },
  };
}

export type HealthActivities = ReturnType<typeof createHealthActivities>;
