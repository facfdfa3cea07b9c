import { Context } from '@temporalio/activity';
import { and, asc, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import { newId } from '../../db/ids.js';
import { customerOutbox, customers, customerSyncRuns, syncCursors, syncMappings } from '../../db/schema.js';
import { customerSyncConnections, localIdForRemote } from '../../db/queries/customers.js';
import { sameValue } from '../../domain/customers/fields.js';
import { CUSTOMERS_CATALOG } from '../../domain/customers/sync-settings.js';
import type { RemoteCustomer } from '../../providers/customer-sync.js';
import type {
  CustomerReconcileCounts,
  CustomerReconcilePhase,
  CustomerReconcileTrigger,
  LocalCustomerChange,
  RemoteCustomerChange,
} from '../../shared/customer-messages.js';
import { toFailure, type ConnectedAdapter, type CustomerSyncDeps } from './customer-sync-adapters.js';

/** Tells Temporal the page is alive (a killed worker's page is retried after the heartbeat timeout, not the page timeout). */
function beat(): void {
  try {
    Context.current().heartbeat();
  } catch {
    // Called outside an activity (a direct call in a script): nothing to tell.
  }
}

/** Runs `work` heartbeating every few seconds, also while it waits for the connection's throttle. */
async function beating<T>(work: () => Promise<T>): Promise<T> {
  beat();
  const timer = setInterval(beat, 3_000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** How long a mapping may stay "pending" before the local scan counts it as a push that never happened. */
const STALE_PENDING_MS = 5 * 60_000;

/** Local customers read per page of the local scan. */
const LOCAL_PAGE = 500;

export interface ReconcilePageInput {
  tenantId: string;
  connectionId: string;
  runId: string;
  /** Where the previous page stopped (null: the start). */
  cursor: string | null;
  /** The run's totals before this page; the page writes totals + its own counts (a retried page does not count twice). */
  totals: CustomerReconcileCounts;
}

export interface ReconcilePageResult {
  cursor: string | null;
  totals: CustomerReconcileCounts;
}

const add = (a: CustomerReconcileCounts, b: Partial<CustomerReconcileCounts>): CustomerReconcileCounts => ({
  missedChanges: a.missedChanges + (b.missedChanges ?? 0),
  scanned: a.scanned + (b.scanned ?? 0),
  imported: a.imported + (b.imported ?? 0),
  linked: a.linked + (b.linked ?? 0),
  pushed: a.pushed + (b.pushed ?? 0),
  repaired: a.repaired + (b.repaired ?? 0),
});

/**
 * Backfill, missed-webhook catch-up and drift detection for one connection. Everything they find is
 * repaired through the normal path: remote differences and links are signalled to the customer's
 * entity workflow as remote changes (it re-reads, merges and records conflicts), local customers the
 * remote lacks as a resync push. Only a plain import (a remote record with no local twin and no
 * match) is written here directly, in bulk: the local row and its mapping in one transaction, the
 * mapping first, so a page run twice (retry, a worker killed mid-page, a second backfill) finds the
 * mapping and imports nothing twice.
 */
export function createCustomerReconcileActivities(deps: CustomerSyncDeps, adapterFor: (tenantId: string, connectionId: string) => Promise<ConnectedAdapter>) {
  const { db } = deps;

  function signals() {
    if (!deps.customerSignals) throw new Error('customer sync activities need customerSignals to reconcile');
    return deps.customerSignals;
  }

  async function signalRemote(tenantId: string, customerId: string, remote: RemoteCustomerChange): Promise<void> {
    await signals()({ tenantId, customerId }, { remote });
  }

  async function signalLocal(tenantId: string, customerId: string, local: LocalCustomerChange): Promise<void> {
    await signals()({ tenantId, customerId }, { local });
  }

  async function saveProgress(runId: string, totals: CustomerReconcileCounts, phase: CustomerReconcilePhase): Promise<void> {
    await db.update(customerSyncRuns).set({ ...totals, phase, updatedAt: new Date() }).where(eq(customerSyncRuns.id, runId));
  }

  /** The oldest live local customer with this email that has no twin at the connection yet. */
  async function unlinkedByEmail(tenantId: string, connectionId: string, email: string): Promise<string | null> {
    const [row] = await db
      .select({ id: customers.id })
      .from(customers)
      .where(
        and(
          eq(customers.tenantId, tenantId),
          sql`lower(${customers.email}) = lower(${email})`,
          isNull(customers.deletedAt),
          sql`not exists (select 1 from ${syncMappings} where ${syncMappings.connectionId} = ${connectionId} and ${syncMappings.catalog} = ${CUSTOMERS_CATALOG} and ${syncMappings.localId} = ${customers.id})`,
        ),
      )
      .orderBy(asc(customers.createdAt), asc(customers.id))
      .limit(1);
    return row?.id ?? null;
  }

  /** Reserves the link (local, remote) at the connection; false when either side is linked already. */
  async function link(tenantId: string, connectionId: string, provider: string, localId: string, remoteId: string): Promise<boolean> {
    const inserted = await db
      .insert(syncMappings)
      .values({ tenantId, catalog: CUSTOMERS_CATALOG, localId, remoteSystem: provider, connectionId, remoteId })
      .onConflictDoNothing()
      .returning({ id: syncMappings.id });
    return inserted.length > 0;
  }

  /** Creates local customers for remote records nobody links to; returns how many this call created. */
  async function importRecords(tenantId: string, connectionId: string, provider: string, records: RemoteCustomer[]): Promise<number> {
    if (records.length === 0) return 0;
    // Other systems of the tenant learn of an import through the outbox, like of any local change.
    const others = (await customerSyncConnections(db, tenantId)).some((c) => c.id !== connectionId);
    return db.transaction(async (tx) => {
      const now = new Date();
      const reserved = await tx
        .insert(syncMappings)
        .values(
          records.map((r) => ({
            tenantId,
            catalog: CUSTOMERS_CATALOG,
            localId: newId('cust'),
            remoteSystem: provider,
            connectionId,
            remoteId: r.remoteId,
            lastSyncedVersion: 1,
            lastSyncedSnapshot: r.fields,
            lastSyncedAt: now,
            state: 'in_sync' as const,
          })),
        )
        .onConflictDoNothing()
        .returning({ localId: syncMappings.localId, remoteId: syncMappings.remoteId });
      if (reserved.length === 0) return 0;
      const byRemote = new Map(records.map((r) => [r.remoteId, r]));
      await tx.insert(customers).values(reserved.map((m) => ({ id: m.localId, tenantId, version: 1, ...byRemote.get(m.remoteId!)!.fields })));
      if (others) await tx.insert(customerOutbox).values(reserved.map((m) => ({ tenantId, customerId: m.localId, version: 1 })));
      return reserved.length;
    });
  }

  async function remotePage(input: ReconcilePageInput & { skipRemoteIds: string[] }): Promise<ReconcilePageResult> {
    const { adapter, provider, settings } = await adapterFor(input.tenantId, input.connectionId);
    let page;
    try {
      page = await adapter.list(input.cursor);
    } catch (err) {
      throw toFailure(err);
    }
    const records = page.records.filter((r) => !r.deleted);
    const counts: Partial<CustomerReconcileCounts> & { scanned: number; repaired: number; linked: number; imported: number } = {
      scanned: page.records.length,
      repaired: 0,
      linked: 0,
      imported: 0,
    };
    const skip = new Set(input.skipRemoteIds);
    const ids = records.map((r) => r.remoteId);
    const mappings = ids.length
      ? await db.select().from(syncMappings).where(and(eq(syncMappings.connectionId, input.connectionId), inArray(syncMappings.remoteId, ids)))
      : [];
    const byRemote = new Map(mappings.map((m) => [m.remoteId!, m]));
    const unlinkedLocal = mappings.filter((m) => !m.lastSyncedSnapshot).map((m) => m.localId);
    const existingLocal = new Set(
      unlinkedLocal.length ? (await db.select({ id: customers.id }).from(customers).where(inArray(customers.id, unlinkedLocal))).map((c) => c.id) : [],
    );
    const scanAt = Date.now();
    const toImport: RemoteCustomer[] = [];
    for (const r of records) {
      const m = byRemote.get(r.remoteId);
      const change = (occurredAt: number): RemoteCustomerChange => ({
        connectionId: input.connectionId,
        eventId: `reconcile-${input.runId}-${r.remoteId}`,
        remoteId: r.remoteId,
        occurredAt,
      });
      if (m) {
        if (skip.has(r.remoteId) || m.pending || m.remoteDeleted) continue;
        if (!m.lastSyncedSnapshot) {
          // Linked by an earlier run that stopped before the merge (or reserved by a webhook in flight).
          if (!existingLocal.has(m.localId)) continue;
          counts.linked += 1;
          await signalRemote(input.tenantId, m.localId, change(0));
        } else if (!sameValue(r.fields, m.lastSyncedSnapshot)) {
          // Drift: the remote changed since the last sync and no event told us.
          counts.repaired += 1;
          await signalRemote(input.tenantId, m.localId, change(scanAt));
        }
        continue;
      }
      let localId: string | null = null;
      let byEmail = false;
      if (r.localId) {
        const [linked] = await db.select({ id: customers.id }).from(customers).where(and(eq(customers.id, r.localId), eq(customers.tenantId, input.tenantId)));
        localId = linked?.id ?? null;
      }
      if (!localId && !r.localId && settings?.matchByEmail && r.fields.email) {
        localId = await unlinkedByEmail(input.tenantId, input.connectionId, r.fields.email);
        byEmail = localId !== null;
      }
      if (localId) {
        if (await link(input.tenantId, input.connectionId, provider, localId, r.remoteId)) {
          counts.linked += 1;
          // occurredAt 0: on a first match the local catalog is the record of reference for fields set on both sides.
          await signalRemote(input.tenantId, localId, change(0));
          continue;
        }
        // The local customer already has a twin here: an email match is only a guess, so import instead;
        // a metadata link to an already linked customer is a duplicate at the remote, left alone.
        if (!byEmail) continue;
      }
      toImport.push(r);
    }
    counts.imported = await importRecords(input.tenantId, input.connectionId, provider, toImport);
    const totals = add(input.totals, counts);
    await saveProgress(input.runId, totals, 'remote');
    return { cursor: page.cursor, totals };
  }

  /**
   * One page of the local catalog (by id): a live customer with no twin at the connection is
   * pushed, one whose last version never reached the connection is resynced. Both go through the
   * entity workflow, whose push creates the mapping before the remote call and carries an
   * idempotency key, so a resync signalled twice creates one remote record.
   */
  async function localPage(input: ReconcilePageInput): Promise<ReconcilePageResult> {
    const rows = await db
      .select({
        id: customers.id,
        version: customers.version,
        deletedAt: customers.deletedAt,
        mappingId: syncMappings.id,
        remoteId: syncMappings.remoteId,
        lastSyncedVersion: syncMappings.lastSyncedVersion,
        pending: syncMappings.pending,
        state: syncMappings.state,
        remoteDeleted: syncMappings.remoteDeleted,
        agreed: sql<boolean>`${syncMappings.lastSyncedSnapshot} is not null`,
        mappingUpdatedAt: syncMappings.updatedAt,
      })
      .from(customers)
      .leftJoin(
        syncMappings,
        and(eq(syncMappings.connectionId, input.connectionId), eq(syncMappings.catalog, CUSTOMERS_CATALOG), eq(syncMappings.localId, customers.id)),
      )
      .where(and(eq(customers.tenantId, input.tenantId), input.cursor ? gt(customers.id, input.cursor) : undefined))
      .orderBy(asc(customers.id))
      .limit(LOCAL_PAGE);
    let pushed = 0;
    let repaired = 0;
    // A mapping in state "pending" is being worked on by its entity workflow; only one left so for
    // long (e.g. sync was turned off mid-push) is repaired.
    const stalePending = Date.now() - STALE_PENDING_MS;
    for (const row of rows) {
      const deleted = row.deletedAt !== null;
      if (row.mappingId === null || (row.remoteId === null && row.pending === null && row.state !== 'failed')) {
        if (deleted) continue;
        pushed += 1;
        await signalLocal(input.tenantId, row.id, { version: row.version, resync: true });
      } else if (row.remoteId !== null && row.agreed && row.pending === null && row.version > (row.lastSyncedVersion ?? 0) && !(deleted && row.remoteDeleted) && (row.state === 'in_sync' || (row.state === 'pending' && row.mappingUpdatedAt !== null && row.mappingUpdatedAt.getTime() < stalePending))) {
        repaired += 1;
        await signalLocal(input.tenantId, row.id, { version: row.version, resync: true });
      }
    }
    const totals = add(input.totals, { scanned: rows.length, pushed, repaired });
    await saveProgress(input.runId, totals, 'local');
    return { cursor: rows.length === LOCAL_PAGE ? rows.at(-1)!.id : null, totals };
  }

  return {
    /** Records the start of a run (idempotent per workflow run) and returns its id. */
    async beginCustomerSyncRun(input: { tenantId: string; connectionId: string; trigger: CustomerReconcileTrigger; workflowId: string; workflowRunId: string }): Promise<{ runId: string }> {
      const [row] = await db
        .insert(customerSyncRuns)
        .values({ id: newId('csr'), ...input })
        .onConflictDoUpdate({ target: [customerSyncRuns.workflowId, customerSyncRuns.workflowRunId], set: { updatedAt: new Date() } })
        .returning({ id: customerSyncRuns.id });
      return { runId: row!.id };
    },

    async finishCustomerSyncRun(input: { runId: string; totals: CustomerReconcileCounts; error?: string }): Promise<void> {
      await db
        .update(customerSyncRuns)
        .set({ ...input.totals, phase: 'done', status: input.error ? 'failed' : 'completed', error: input.error ?? null, finishedAt: new Date(), updatedAt: new Date() })
        .where(eq(customerSyncRuns.id, input.runId));
    },

    /**
     * Catches changes a webhook missed: reads the connection's change feed after the stored cursor
     * and hands every change to its customer's workflow (a change already applied is an echo there).
     * The cursor moves only after every change was handed on. The first full run only stores the
     * cursor: its scans see every record anyway.
     */
    async catchUpMissedCustomerChanges(input: { tenantId: string; connectionId: string; runId?: string; totals?: CustomerReconcileCounts }): Promise<{ changes: number; remoteIds: string[] }> {
      const { adapter, provider } = await adapterFor(input.tenantId, input.connectionId);
      const [stored] = await db.select().from(syncCursors).where(eq(syncCursors.connectionId, input.connectionId));
      let feed;
      try {
        feed = await adapter.changesSince(stored?.cursor ?? null);
      } catch (err) {
        throw toFailure(err);
      }
      // No cursor stored yet (sync just turned on): the full scan that follows covers everything, so
      // the feed starts from now instead of replaying its latest page as changes.
      if (!stored && input.runId) feed = { events: [], cursor: feed.cursor };
      const conn = { id: input.connectionId, tenantId: input.tenantId, provider };
      for (const event of feed.events) {
        const customerId = await localIdForRemote(db, conn, event);
        if (!customerId) continue;
        await signalRemote(input.tenantId, customerId, { connectionId: input.connectionId, eventId: event.eventId, remoteId: event.remoteId, occurredAt: event.occurredAt });
      }
      await db
        .insert(syncCursors)
        .values({ connectionId: input.connectionId, tenantId: input.tenantId, cursor: feed.cursor })
        .onConflictDoUpdate({ target: syncCursors.connectionId, set: { cursor: feed.cursor, updatedAt: new Date() } });
      if (input.runId && input.totals) await saveProgress(input.runId, add(input.totals, { missedChanges: feed.events.length }), 'events');
      return { changes: feed.events.length, remoteIds: [...new Set(feed.events.map((e) => e.remoteId))] };
    },

    /**
     * One page of the remote catalog against the local one: a record linked and equal to the last
     * synced snapshot is in sync; linked but different is drift (repaired by the entity workflow);
     * unlinked is matched (metadata link, else email when the connection enables it) or imported.
     */
    async reconcileRemoteCustomerPage(input: ReconcilePageInput & { skipRemoteIds: string[] }): Promise<ReconcilePageResult> {
      return beating(() => remotePage(input));
    },

    async reconcileLocalCustomerPage(input: ReconcilePageInput): Promise<ReconcilePageResult> {
      return beating(() => localPage(input));
    },
  };
}
