/**
 * Remote deletes found without a change feed (mark and sweep). Reconciliation's remote scan lists
 * every remote record anyway; it marks each linked mapping with the run's id (the mark) and, when it
 * has read the catalog to its end, records that on the run. The sweep then takes the mappings of
 * that run that were not marked, asks the remote system for each one directly, and hands those it
 * confirms gone (no such record, or deleted) to the customer's entity workflow as a remote change:
 * the very path a delete webhook takes (re-read, tombstone, push the delete to the other systems).
 *
 * Everything it needs is in Postgres (the marks, the run's completion) and its cursor is a mapping
 * id, so a catalog of any size costs the workflow a few small activity results, not its ids.
 */
import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, ne, or } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { customerSyncRuns, syncMappings } from '../../db/schema.js';
import { CUSTOMERS_CATALOG } from '../../domain/customers/sync-settings.js';
import type { CustomerReconcileCounts, RemoteCustomerChange } from '../../shared/customer-messages.js';
import { toFailure, type ConnectedAdapter } from './customer-sync-adapters.js';

/** Unseen mappings read per batch; each costs one `retrieve` (throttled per connection). */
const SWEEP_BATCH = 100;

export interface SweepBatchInput {
  tenantId: string;
  connectionId: string;
  runId: string;
  /** The last mapping id handled (null: the start). */
  cursor: string | null;
}

/** Marks the linked mappings whose remote twins the scan just listed as seen by this run. */
export async function markSeenRemotes(db: Db, connectionId: string, runId: string, remoteIds: string[]): Promise<void> {
  if (remoteIds.length === 0) return;
  // updated_at is left alone: it dates the mapping's sync state (a stale "pending" is judged by it).
  const m = syncMappings;
  await db
    .update(m)
    .set({ remoteSeenRun: runId })
    .where(and(eq(m.connectionId, connectionId), inArray(m.remoteId, remoteIds), or(isNull(m.remoteSeenRun), ne(m.remoteSeenRun, runId))));
}

/** The run's remote scan read the whole catalog without failing: only then is "not seen" evidence. */
export async function markRemoteScanComplete(db: Db, runId: string): Promise<void> {
  await db.update(customerSyncRuns).set({ remoteScanCompletedAt: new Date() }).where(eq(customerSyncRuns.id, runId));
}

/**
 * One batch of the sweep: the unseen mappings after `cursor`, each confirmed by a direct read before
 * it is handed on as a remote delete. Returns the next cursor (null: done) and how many were handed on.
 * A run whose scan did not complete sweeps nothing.
 */
export async function sweepBatch(
  db: Db,
  connected: ConnectedAdapter,
  input: SweepBatchInput,
  signalRemote: (customerId: string, change: RemoteCustomerChange) => Promise<void>,
): Promise<{ cursor: string | null; counts: Partial<CustomerReconcileCounts> }> {
  const [run] = await db
    .select({ startedAt: customerSyncRuns.startedAt, completedAt: customerSyncRuns.remoteScanCompletedAt })
    .from(customerSyncRuns)
    .where(eq(customerSyncRuns.id, input.runId));
  if (!run?.completedAt) return { cursor: null, counts: {} };
  const m = syncMappings;
  const rows = await db
    .select({ id: m.id, localId: m.localId, remoteId: m.remoteId })
    .from(m)
    .where(
      and(
        eq(m.connectionId, input.connectionId),
        eq(m.catalog, CUSTOMERS_CATALOG),
        isNotNull(m.remoteId),
        eq(m.remoteDeleted, false),
        // Agreed on and not being written right now: a push in flight may be creating the twin.
        isNotNull(m.lastSyncedSnapshot),
        isNull(m.pending),
        or(isNull(m.remoteSeenRun), ne(m.remoteSeenRun, input.runId)),
        // Linked after the scan began: the scan may have passed its place in the listing already.
        lt(m.createdAt, run.startedAt),
        input.cursor === null ? undefined : gt(m.id, Number(input.cursor)),
      ),
    )
    .orderBy(asc(m.id))
    .limit(SWEEP_BATCH);
  let repaired = 0;
  for (const row of rows) {
    const remoteId = row.remoteId!;
    let current;
    try {
      current = await connected.adapter.retrieve(remoteId);
    } catch (err) {
      throw toFailure(err);
    }
    // Still there (linked or changed after the listing passed it): not a delete.
    if (current && !current.deleted) continue;
    repaired += 1;
    await signalRemote(row.localId, {
      connectionId: input.connectionId,
      eventId: `sweep-${input.runId}-${remoteId}`,
      remoteId,
      occurredAt: Date.now(),
    });
  }
  return {
    cursor: rows.length === SWEEP_BATCH ? String(rows.at(-1)!.id) : null,
    counts: { repaired },
  };
}
