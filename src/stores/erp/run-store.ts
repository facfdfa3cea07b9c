/**
 * Runs of an ERP integration (table erp_runs): a sync's run row is where it stands (checkpoint,
 * counts), created by the API for a manual sync or by the poll workflow for a scheduled one.
 */
import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { erpRuns } from '../../db/tables/erp.js';
import type { ErpEntity } from '../../domain/erp/entities.js';
import { ZERO_COUNTS } from '../../domain/erp/record-counts.js';
import { recordEvent, type EventWriter } from '../events/event-store.js';
import { keysetPage, type Page } from '../keyset-page.js';
import type { IntegrationRow } from './integration-store.js';

export type RunRow = typeof erpRuns.$inferSelect;

/** A run as the API shows it and as its erp.run.* events carry it. */
export type RunView = {
  id: string;
  object: 'integration_run';
  integrationId: string;
  entity: string;
  mode: string;
  trigger: string;
  status: RunRow['status'];
  counts: RunRow['counts'];
  checkpoint: Record<string, unknown>;
  errors: RunRow['errors'];
  workflowId: string;
  startedAt: string;
  finishedAt: string | null;
  /** So far, while it runs. */
  durationMs: number;
};

export function runView(row: RunRow): RunView {
  return {
    id: row.id,
    object: 'integration_run',
    integrationId: row.integrationId,
    entity: row.entity,
    mode: row.mode,
    trigger: row.trigger,
    status: row.status,
    counts: row.counts,
    checkpoint: row.checkpoint as unknown as Record<string, unknown>,
    errors: row.errors,
    workflowId: row.workflowId,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    durationMs: (row.finishedAt ?? new Date()).getTime() - row.startedAt.getTime(),
  };
}

/** Records erp.run.completed or erp.run.failed for a run just finished, in the transaction that finished it. */
export async function recordRunFinished(tx: EventWriter, run: RunRow): Promise<void> {
  if (run.status === 'running') throw new Error(`run ${run.id} has not finished`);
  await recordEvent(tx, {
    tenantId: run.tenantId,
    type: run.status === 'succeeded' ? 'erp.run.completed' : 'erp.run.failed',
    resource: { type: 'integration_run', id: run.id },
    data: runView(run),
  });
}

/** The run id of a webhook event's apply, derived from its inbox row: the API can name it before the workflow runs. */
export function webhookRunId(inboxId: string): string {
  return `erun_${createHash('sha256').update(`webhook:${inboxId}`).digest('hex').slice(0, 20)}`;
}

/** The run id of a scheduled poll, derived from its workflow id (unique per integration, entity and time). */
export function scheduledRunId(workflowId: string): string {
  return `erun_${createHash('sha256').update(workflowId).digest('hex').slice(0, 20)}`;
}

/** A sync about to start: which entity, how, why, and the workflow that carries it. */
export interface RunStart {
  runId: string;
  entity: ErpEntity;
  mode: 'full' | 'incremental';
  trigger: RunRow['trigger'];
  workflowId: string;
}

/** The row of a run not yet paged: an incremental run starts at the integration's watermark of the entity. */
function newRun(integration: IntegrationRow, start: RunStart): typeof erpRuns.$inferInsert {
  return {
    id: start.runId,
    tenantId: integration.tenantId,
    integrationId: integration.id,
    entity: start.entity,
    mode: start.mode,
    trigger: start.trigger,
    workflowId: start.workflowId,
    counts: ZERO_COUNTS,
    checkpoint: { next: null, pages: 0, done: false },
    since: start.mode === 'incremental' ? (integration.watermarks[start.entity] ?? null) : null,
  };
}

/** Creates a run before its workflow starts (the API's manual sync). */
export async function createRun(db: Db, integration: IntegrationRow, start: RunStart): Promise<RunRow> {
  const [run] = await db.insert(erpRuns).values(newRun(integration, start)).returning();
  return run!;
}

/**
 * Creates the run unless it exists (the API may have created it, a retry finds it); answers the
 * workflow id the run belongs to, which differs from `start.workflowId` when the id is taken.
 */
export async function openRunOnce(db: Db, integration: IntegrationRow, start: RunStart): Promise<string | undefined> {
  await db.insert(erpRuns).values(newRun(integration, start)).onConflictDoNothing();
  const [row] = await db.select({ workflowId: erpRuns.workflowId }).from(erpRuns).where(eq(erpRuns.id, start.runId));
  return row?.workflowId;
}

/** One page of an integration's runs, newest first. */
export async function listRuns(db: Db, integrationId: string, page: { cursor?: string | undefined; limit: number }): Promise<Page<RunRow>> {
  return keysetPage<RunRow>(db, { table: erpRuns, orderBy: [erpRuns.startedAt, erpRuns.id], order: 'desc', scope: eq(erpRuns.integrationId, integrationId) }, page);
}

export async function findRun(db: Db, integrationId: string, runId: string): Promise<RunRow | undefined> {
  const [row] = await db.select().from(erpRuns).where(and(eq(erpRuns.id, runId), eq(erpRuns.integrationId, integrationId)));
  return row;
}

/** Workflow ids of the integration's runs still going, as recorded. */
export async function runningRunWorkflowIds(db: Db, integrationId: string): Promise<string[]> {
  const rows = await db
    .select({ workflowId: erpRuns.workflowId })
    .from(erpRuns)
    .where(and(eq(erpRuns.integrationId, integrationId), eq(erpRuns.status, 'running')));
  return rows.map((r) => r.workflowId);
}
