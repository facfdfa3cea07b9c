import { and, desc, eq, gt, lte, sql } from 'drizzle-orm';
import {
  MAX_OUTCOMES,
  recordOutcome,
  storedCircuitAt,
  type CircuitConfig,
  type CircuitState,
  type CircuitStateName,
} from '../../domain/circuit-breaker.js';
import type { Db } from '../../db/client.js';
import { connectionHealth, connectionOutcomes } from '../../db/schema.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

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

/** A connection's circuit as of `now`, with its window of outcomes (for display and decisions). */
export async function circuitAt(
  db: Db,
  connectionId: string,
  now: number,
  cfg: CircuitConfig,
): Promise<CircuitState> {
  const [row] = await db
    .select({ circuit: connectionHealth.circuit })
    .from(connectionHealth)
    .where(eq(connectionHealth.connectionId, connectionId));
  return {
    ...storedCircuitAt(row?.circuit, now, cfg),
    outcomes: await windowOutcomes(db, connectionId, now, cfg),
  };
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
 * opens the circuit writes the state, with a compare-and-set so concurrent callers open it once. An
 * open or half-open circuit (few calls get through) is updated under the row lock as before.
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
    await db
      .insert(connectionHealth)
      .values({ connectionId, tenantId, circuit: stateOnly(next) })
      .onConflictDoUpdate({
        target: connectionHealth.connectionId,
        set: { circuit: stateOnly(next), updatedAt: new Date() },
        // Only a circuit still closed opens here; a concurrent caller may have opened it already.
        setWhere: sql`coalesce(${connectionHealth.circuit}->>'state', 'closed') = 'closed'`,
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
    return next.state;
  });
}
