import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { customerSyncRuns } from '../../db/schema.js';
import { keysetPage, type Page } from '../keyset-page.js';
import type { CustomerReconcileCounts, CustomerReconcilePhase, CustomerReconcileTrigger } from '../../shared/customer-messages.js';

/**
 * The record of a connection's reconciliation and backfill runs: started once per workflow run,
 * its counts saved after every batch, finished with the totals (or the error).
 */
export type CustomerSyncRunRow = typeof customerSyncRuns.$inferSelect;

/** One page of the reconciliation and backfill runs of a connection, newest first. */
export async function customerSyncRunsOf(db: Db, connectionId: string, page: { cursor?: string | undefined; limit: number }): Promise<Page<CustomerSyncRunRow>> {
  return keysetPage<CustomerSyncRunRow>(
    db,
    { table: customerSyncRuns, orderBy: [customerSyncRuns.startedAt, customerSyncRuns.id], order: 'desc', scope: eq(customerSyncRuns.connectionId, connectionId) },
    page,
  );
}

/** One run of the connection, or undefined. */
export async function findCustomerSyncRun(db: Db, connectionId: string, runId: string): Promise<CustomerSyncRunRow | undefined> {
  const [run] = await db.select().from(customerSyncRuns).where(and(eq(customerSyncRuns.id, runId), eq(customerSyncRuns.connectionId, connectionId)));
  return run;
}

/** Records the start of a run, once per workflow run (a retried start finds the same row); returns its id. */
export async function recordCustomerSyncRunStart(
  db: Db,
  input: { tenantId: string; connectionId: string; trigger: CustomerReconcileTrigger; workflowId: string; workflowRunId: string },
): Promise<string> {
  const [row] = await db
    .insert(customerSyncRuns)
    .values({ id: newId('csr'), ...input })
    .onConflictDoUpdate({ target: [customerSyncRuns.workflowId, customerSyncRuns.workflowRunId], set: { updatedAt: new Date() } })
    .returning({ id: customerSyncRuns.id });
  return row!.id;
}

/** The run's totals so far and the phase it is in. */
export async function recordCustomerSyncRunProgress(db: Db, runId: string, totals: CustomerReconcileCounts, phase: CustomerReconcilePhase): Promise<void> {
  await db.update(customerSyncRuns).set({ ...totals, phase, updatedAt: new Date() }).where(eq(customerSyncRuns.id, runId));
}

/** The run's end: completed with its totals, or failed with the error. */
export async function recordCustomerSyncRunEnd(db: Db, input: { runId: string; totals: CustomerReconcileCounts; error?: string }): Promise<void> {
  await db
    .update(customerSyncRuns)
    .set({ ...input.totals, phase: 'done', status: input.error ? 'failed' : 'completed', error: input.error ?? null, finishedAt: new Date(), updatedAt: new Date() })
    .where(eq(customerSyncRuns.id, input.runId));
}
