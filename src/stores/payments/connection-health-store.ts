import { and, desc, eq, gt, lte, sql } from 'drizzle-orm';
import {
  failureRate,
  MAX_OUTCOMES,
  recordOutcome,
  storedCircuitAt,
  type CircuitConfig,
  type CircuitState,
  type CircuitStateName,
} from '../../domain/circuit-breaker.js';
import type { Db } from '../../db/client.js';
import { connectionHealth, connectionOutcomes } from '../../db/schema.js';
import { recordEvent } from '../events/event-store.js';

/*
 * A payment connection's health: the results of its periodic health checks and its circuit breaker
 * (the outcomes of recent gateway calls and the state they led to), both of which routing reads. A
 * change of health and an opening circuit are announced (connection.health_changed,
 * connection.circuit_opened) in the transaction that makes them, with the connection's health as
 * GET /v1/connections/:id/health shows it ({@link connectionHealthView}).
 */

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** Consecutive failed checks before a connection is marked unhealthy (one blip is not an outage). */
export const UNHEALTHY_AFTER_FAILED_CHECKS = 2;

export type HealthState = 'healthy' | 'unhealthy' | 'unknown';

/** A connection's health as the API shows it, and the data of its connection events. */
export type ConnectionHealthView = {
  connectionId: string;
  health: HealthState;
  lastCheck: { at: string; latencyMs: number | null; detail: string | null; consecutiveFailures: number } | null;
  circuit: {
    state: CircuitStateName;
    openedAt: string | null;
    window: { calls: number; failures: number; failureRate: number; windowMs: number };
  };
};

/** The outcomes the breaker looks at: the most recent ones within the window, oldest first. */
export async function windowOutcomes(
  db: Db | Tx,
  connectionId: string,
  now: number,
  cfg: CircuitConfig,
  excludeId?: number,
): Promise<CircuitState['outcomes']> {
  const rows = await db
    .select({ id: connectionOutcomes.id, at: connectionOutcomes.at, ok: connectionOutcomes.ok })
    .from(connectionOutcomes)
    .where(
      and(
        eq(connectionOutcomes.connectionId, connectionId),
        gt(connectionOutcomes.at, now - cfg.windowMs),
        lte(connectionOutcomes.at, now),
      ),
    )
    .orderBy(desc(connectionOutcomes.at), desc(connectionOutcomes.id))
    .limit(Math.max(MAX_OUTCOMES, cfg.minimumCalls) + 1);
  const kept = rows.filter((r) => r.id !== excludeId).slice(0, Math.max(MAX_OUTCOMES, cfg.minimumCalls));
  return kept.reverse().map(({ at, ok }) => ({ at, ok }));
}

/** A connection's last health check and its circuit as of `now`, as the API shows them. */
export async function connectionHealthView(db: Db | Tx, connectionId: string, now: number, cfg: CircuitConfig): Promise<ConnectionHealthView> {
  const [h] = await db.select().from(connectionHealth).where(eq(connectionHealth.connectionId, connectionId));
  const circuit: CircuitState = { ...storedCircuitAt(h?.circuit, now, cfg), outcomes: await windowOutcomes(db, connectionId, now, cfg) };
  const rate = failureRate(circuit, now, cfg);
  return {
    connectionId,
    health: h?.health ?? 'unknown',
    lastCheck: h?.lastCheckAt
      ? { at: h.lastCheckAt.toISOString(), latencyMs: h.lastCheckLatencyMs, detail: h.lastCheckDetail, consecutiveFailures: h.consecutiveCheckFailures }
      : null,
    circuit: {
      state: circuit.state,
      openedAt: circuit.openedAt ? new Date(circuit.openedAt).toISOString() : null,
      window: { calls: rate.calls, failures: rate.failures, failureRate: rate.rate, windowMs: cfg.windowMs },
    },
  };
}

/** Records a connection event with the connection's health as `tx` leaves it. */
async function recordConnectionEvent(
  tx: Tx,
  type: 'connection.health_changed' | 'connection.circuit_opened',
  input: { tenantId: string; connectionId: string },
  now: number,
  cfg: CircuitConfig,
): Promise<void> {
  const data = await connectionHealthView(tx, input.connectionId, now, cfg);
  await recordEvent(tx, { tenantId: input.tenantId, type, resource: { type: 'connection', id: input.connectionId }, data });
}

/**
 * Records one health check's result: a success makes the connection healthy, the
 * {@link UNHEALTHY_AFTER_FAILED_CHECKS}th failure in a row unhealthy. When that changes its health
 * (the first check of a new connection included), connection.health_changed says so, in the same
 * transaction; a check that confirms the health records no event.
 */
export async function recordHealthCheck(
  db: Db,
  input: { tenantId: string; connectionId: string; probe: { ok: boolean; latencyMs: number; detail?: string } },
  now: number,
  cfg: CircuitConfig,
): Promise<HealthState> {
  const { connectionId, probe } = input;
  return db.transaction(async (tx) => {
    await tx.insert(connectionHealth).values({ connectionId, tenantId: input.tenantId }).onConflictDoNothing();
    const [before] = await tx
      .select({ health: connectionHealth.health, failures: connectionHealth.consecutiveCheckFailures })
      .from(connectionHealth)
      .where(eq(connectionHealth.connectionId, connectionId))
      .for('update');
    const failures = probe.ok ? 0 : before!.failures + 1;
    const health: HealthState = probe.ok ? 'healthy' : failures >= UNHEALTHY_AFTER_FAILED_CHECKS ? 'unhealthy' : before!.health;
    await tx
      .update(connectionHealth)
      .set({
        consecutiveCheckFailures: failures,
        health,
        lastCheckAt: new Date(now),
        lastCheckLatencyMs: Math.round(probe.latencyMs),
        lastCheckDetail: probe.detail ?? null,
        updatedAt: new Date(),
      })
      .where(eq(connectionHealth.connectionId, connectionId));
    if (health !== before!.health) await recordConnectionEvent(tx, 'connection.health_changed', input, now, cfg);
    return health;
  });
}

/** Deletes outcomes that can no longer count (older than the window). */
export async function pruneOutcomes(
  db: Db | Tx,
  connectionId: string,
  now: number,
  cfg: CircuitConfig,
): Promise<void> {
  await db
    .delete(connectionOutcomes)
    .where(
      and(eq(connectionOutcomes.connectionId, connectionId), lte(connectionOutcomes.at, now - cfg.windowMs)),
    );
}

/** The state as stored: outcomes live in their own table. */
const stateOnly = (s: CircuitState) => ({ ...s, outcomes: [] }) as unknown as Record<string, unknown>;

/**
 * Feeds the breaker one call's outcome (src/domain/circuit-breaker.ts decides). A closed circuit, the
 * common case, takes no lock: the outcome is appended and the window aggregated; only the call that
 * opens the circuit writes the state, with a compare-and-set so concurrent callers open it once (and
 * connection.circuit_opened is recorded once, with it). An open or half-open circuit (few calls get
 * through) is updated under the row lock as before.
 */
export async function recordCircuitOutcome(
  db: Db,
  input: { tenantId: string; connectionId: string; ok: boolean; callKey?: string },
  now: number,
  cfg: CircuitConfig,
): Promise<CircuitStateName> {
  const { connectionId, tenantId, ok } = input;
  const callKey = input.callKey ?? null;
  const [row] = await db
    .select({ circuit: connectionHealth.circuit })
    .from(connectionHealth)
    .where(eq(connectionHealth.connectionId, connectionId));
  const stored = storedCircuitAt(row?.circuit, now, cfg);

  if (stored.state === 'closed') {
    // Append first, then judge the window as it is now (concurrent callers' outcomes included), so a
    // burst of failures opens the circuit even when every call of the burst is recorded at once.
    const [own] = await db
      .insert(connectionOutcomes)
      .values({ connectionId, tenantId, at: now, ok, callKey })
      .onConflictDoNothing()
      .returning({ id: connectionOutcomes.id });
    if (!own) return stored.state; // this call was counted already (a re-run of the recording)
    const others = await windowOutcomes(db, connectionId, now, cfg, own!.id);
    const next = recordOutcome({ ...stored, outcomes: others }, ok, now, cfg);
    if (next.state === 'closed') return 'closed';
    await db.transaction(async (tx) => {
      const [opened] = await tx
        .insert(connectionHealth)
        .values({ connectionId, tenantId, circuit: stateOnly(next) })
        .onConflictDoUpdate({
          target: connectionHealth.connectionId,
          set: { circuit: stateOnly(next), updatedAt: new Date() },
          // Only a circuit still closed opens here; a concurrent caller may have opened it already.
          setWhere: sql`coalesce(${connectionHealth.circuit}->>'state', 'closed') = 'closed'`,
        })
        .returning({ connectionId: connectionHealth.connectionId });
      // Only the caller that opened it announces it.
      if (opened) await recordConnectionEvent(tx, 'connection.circuit_opened', input, now, cfg);
    });
    return next.state;
  }

  return db.transaction(async (tx) => {
    await tx.insert(connectionHealth).values({ connectionId, tenantId }).onConflictDoNothing();
    const [locked] = await tx
      .select({ circuit: connectionHealth.circuit })
      .from(connectionHealth)
      .where(eq(connectionHealth.connectionId, connectionId))
      .for('update');
    const current = storedCircuitAt(locked?.circuit, now, cfg);
    if (callKey !== null) {
      const [seen] = await tx
        .select({ id: connectionOutcomes.id })
        .from(connectionOutcomes)
        .where(and(eq(connectionOutcomes.connectionId, connectionId), eq(connectionOutcomes.callKey, callKey)));
      if (seen) return current.state;
    }
    const next = recordOutcome(
      { ...current, outcomes: await windowOutcomes(tx, connectionId, now, cfg) },
      ok,
      now,
      cfg,
    );
    if (current.state !== 'closed' && next.state === 'closed') {
      // Closing starts an empty window (the domain forgets the outcomes that opened it).
      await tx
        .delete(connectionOutcomes)
        .where(and(eq(connectionOutcomes.connectionId, connectionId), lte(connectionOutcomes.at, now)));
    } else {
      await tx.insert(connectionOutcomes).values({ connectionId, tenantId, at: now, ok, callKey });
    }
    await tx
      .update(connectionHealth)
      .set({ circuit: stateOnly(next), updatedAt: new Date() })
      .where(eq(connectionHealth.connectionId, connectionId));
    // A failed probe of a half-open circuit opens it again.
    if (current.state !== 'open' && next.state === 'open') await recordConnectionEvent(tx, 'connection.circuit_opened', input, now, cfg);
    return next.state;
  });
}
