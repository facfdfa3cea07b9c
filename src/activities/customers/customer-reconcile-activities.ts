import { and, asc, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import { rowsOf, tableRowOf } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { customerOutbox, customers, syncCursors, syncMappings } from '../../db/schema.js';
import { customerExists, customerMappingKey, customerSyncConnections, customerToApply, recordCustomerChanges } from '../../stores/customers/customer-store.js';
import { recordCustomerSyncRunEnd, recordCustomerSyncRunProgress, recordCustomerSyncRunStart } from '../../stores/customers/customer-sync-run-store.js';
import { sameValue } from '../../domain/customers/fields.js';
import { CUSTOMERS_CATALOG } from '../../domain/customers/sync-settings.js';
import { remoteChangeOf, type CustomerSyncAdapter, type RemoteCustomer } from '../../providers/crm-client.js';
import type {
  CustomerReconcileCounts,
  CustomerReconcilePhase,
  CustomerReconcileTrigger,
  LocalCustomerChange,
  RemoteCustomerChange,
} from '../../shared/customer-messages.js';
import { beating } from '../heartbeat.js';
import { markRemoteScanComplete, markSeenRemotes, sweepBatch } from './customer-delete-sweep.js';
import { toFailure, type ConnectedAdapter, type CustomerSyncDeps } from './customer-sync-adapters.js';

/**
 * A page activity goes on for about this long, reporting its progress after every batch, then hands
 * back to the workflow: one activity per batch cost a workflow task and six history events per 100
 * records, more than the records' own work.
 */
const PAGE_ACTIVITY_BUDGET_MS = 10_000;

/** Remote records read per batch at most (then classified and imported in one transaction)... */
const REMOTE_BATCH = 1_000;
/** ...or fewer, when reading them takes longer than this (a throttled connection). */
const REMOTE_BATCH_READ_MS = 1_000;

/** How long a mapping may stay "pending" before the local scan counts it as a push that never happened. */
const STALE_PENDING_MS = 5 * 60_000;

/** Imports in a run past which the tables' statistics are refreshed before the local scan. */
const ANALYZE_AFTER_IMPORTED = 10_000;

/** Local customers read per batch of the local scan. */
const LOCAL_PAGE = 1_000;

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

export type RemotePagesInput = ReconcilePageInput & { skipRemoteIds: string[] };

interface RemoteBatch {
  records: RemoteCustomer[];
  cursor: string | null;
}

/** Where a page activity got to: heartbeated after every batch, the start of a retried attempt. */
interface PagesProgress extends ReconcilePageResult {
  /** The activity is done with its share (the catalog ended or its budget ran out). */
  finished: boolean;
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

  const saveProgress = (runId: string, totals: CustomerReconcileCounts, phase: CustomerReconcilePhase) => recordCustomerSyncRunProgress(db, runId, totals, phase);

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
      .values({ ...customerMappingKey({ tenantId, id: connectionId, provider }, localId), remoteId })
      .onConflictDoNothing()
      .returning({ id: syncMappings.id });
    return inserted.length > 0;
  }

  /**
   * Creates local customers for remote records nobody links to; returns how many this call created.
   * One statement for the whole batch (the records travel as one JSON parameter): the mappings first
   * (unique per connection and remote id, so a batch run twice imports nothing twice), then the rows
   * of the mappings it could reserve, then their outbox rows when other systems need them; their
   * customer.created events follow in the same transaction (one more statement).
   */
  async function importRecords(tenantId: string, connectionId: string, provider: string, records: RemoteCustomer[]): Promise<number> {
    if (records.length === 0) return 0;
    // Other systems of the tenant learn of an import through the outbox, like of any local change.
    const others = (await customerSyncConnections(db, tenantId)).some((c) => c.id !== connectionId);
    const batch = JSON.stringify(records.map((r) => ({ local_id: newId('cust'), remote_id: r.remoteId, snapshot: r.fields, ...r.fields })));
    return db.transaction(async (tx) => {
      const result = await tx.execute(sql`
        with batch as (
          select * from jsonb_to_recordset(${batch}::jsonb) as r(
            local_id text, remote_id text, snapshot jsonb, email text, name text, phone text, address jsonb, description text, metadata jsonb)
        ),
        reserved as (
          insert into ${syncMappings} (tenant_id, catalog, local_id, remote_system, connection_id, remote_id, last_synced_version, last_synced_snapshot, last_synced_at, state)
          select ${tenantId}, ${CUSTOMERS_CATALOG}, local_id, ${provider}, ${connectionId}, remote_id, 1, snapshot, now(), 'in_sync' from batch
          on conflict do nothing
          returning local_id
        ),
        created as (
          insert into ${customers} (id, tenant_id, version, email, name, phone, address, description, metadata)
          select b.local_id, ${tenantId}, 1, b.email, b.name, b.phone, b.address, b.description, b.metadata
          from batch b join reserved using (local_id)
          returning *
        ),
        queued as (
          insert into ${customerOutbox} (tenant_id, customer_id, version) select ${tenantId}, id, 1 from created where ${others}
        )
        select * from created`);
      const created = rowsOf<Record<string, unknown>>(result).map((raw) => tableRowOf(customers, raw));
      await recordCustomerChanges(tx, 'customer.created', created);
      return created.length;
    });
  }

  /** Reads remote pages from `cursor` until the batch is full, reading took long, or the catalog ended. */
  async function readRemoteBatch(adapter: CustomerSyncAdapter, cursor: string | null): Promise<RemoteBatch> {
    const records: RemoteCustomer[] = [];
    const started = Date.now();
    let next = cursor;
    do {
      let page;
      try {
        page = await adapter.list(next);
      } catch (err) {
        throw toFailure(err);
      }
      records.push(...page.records);
      next = page.cursor;
    } while (next !== null && records.length < REMOTE_BATCH && Date.now() - started < REMOTE_BATCH_READ_MS);
    return { records, cursor: next };
  }

  /** One batch of remote records against the mapping; returns what it found and did. */
  async function reconcileRemoteRecords(input: RemotePagesInput, connected: ConnectedAdapter, batch: RemoteCustomer[]): Promise<Partial<CustomerReconcileCounts>> {
    const { provider, settings } = connected;
    const records = batch.filter((r) => !r.deleted);
    const counts: Partial<CustomerReconcileCounts> & { scanned: number; repaired: number; linked: number; imported: number } = {
      scanned: batch.length,
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
      if (r.localId && (await customerExists(db, input.tenantId, r.localId))) localId = r.localId;
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
    // Only mappings older than the run can be swept by it: links and imports made now need no mark.
    await markSeenRemotes(db, input.connectionId, input.runId, mappings.map((m) => m.remoteId!));
    return counts;
  }

  /**
   * Batches of the remote catalog for up to PAGE_ACTIVITY_BUDGET_MS, the next batch read while this
   * one is written; progress is saved and heartbeated after every batch.
   */
  async function remotePages(input: RemotePagesInput): Promise<ReconcilePageResult> {
    const connected = await adapterFor(input.tenantId, input.connectionId);
    const start: PagesProgress = { cursor: input.cursor, totals: input.totals, finished: false };
    const done = await beating(start, async (from, report) => {
      if (from.finished) return from;
      const deadline = Date.now() + PAGE_ACTIVITY_BUDGET_MS;
      let progress = from;
      let next: Promise<RemoteBatch> | null = readRemoteBatch(connected.adapter, from.cursor);
      while (next) {
        const batch: RemoteBatch = await next;
        next = batch.cursor !== null && Date.now() < deadline ? readRemoteBatch(connected.adapter, batch.cursor) : null;
        // Awaited on the next turn; a failed read must not count as unhandled while this batch is written.
        next?.catch(() => undefined);
        const totals = add(progress.totals, await reconcileRemoteRecords(input, connected, batch.records));
        if (batch.cursor === null) await markRemoteScanComplete(db, input.runId);
        await saveProgress(input.runId, totals, 'remote');
        progress = { cursor: batch.cursor, totals, finished: next === null };
        report(progress);
      }
      return progress;
    });
    return { cursor: done.cursor, totals: done.totals };
  }

  /**
   * One batch of the local catalog (by id): a live customer with no twin at the connection is
   * pushed, one whose last version never reached the connection is resynced. Both go through the
   * entity workflow, whose push creates the mapping before the remote call and carries an
   * idempotency key, so a resync signalled twice creates one remote record.
   */
  async function localBatch(input: ReconcilePageInput, cursor: string | null): Promise<{ cursor: string | null; counts: Partial<CustomerReconcileCounts> }> {
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
      .where(and(eq(customers.tenantId, input.tenantId), cursor ? gt(customers.id, cursor) : undefined))
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
    return { cursor: rows.length === LOCAL_PAGE ? rows.at(-1)!.id : null, counts: { scanned: rows.length, pushed, repaired } };
  }

  /** Batches of the local catalog for up to PAGE_ACTIVITY_BUDGET_MS; progress saved and heartbeated after each. */
  async function localPages(input: ReconcilePageInput): Promise<ReconcilePageResult> {
    const start: PagesProgress = { cursor: input.cursor, totals: input.totals, finished: false };
    const done = await beating(start, async (from, report) => {
      // After a bulk import the planner still sees the tables as they were (autovacuum lags a fast
      // load by a minute): the local scan's join then sorts every remaining row per batch.
      if (from.cursor === null && from.totals.imported >= ANALYZE_AFTER_IMPORTED) await db.execute(sql`analyze ${customers}, ${syncMappings}`);
      const deadline = Date.now() + PAGE_ACTIVITY_BUDGET_MS;
      let progress = from;
      while (!progress.finished) {
        const batch = await localBatch(input, progress.cursor);
        const totals = add(progress.totals, batch.counts);
        await saveProgress(input.runId, totals, 'local');
        progress = { cursor: batch.cursor, totals, finished: batch.cursor === null || Date.now() >= deadline };
        report(progress);
      }
      return progress;
    });
    return { cursor: done.cursor, totals: done.totals };
  }

  /** Batches of the delete sweep for up to PAGE_ACTIVITY_BUDGET_MS; progress saved and heartbeated after each. */
  async function sweepPages(input: ReconcilePageInput): Promise<ReconcilePageResult> {
    const connected = await adapterFor(input.tenantId, input.connectionId);
    const start: PagesProgress = { cursor: input.cursor, totals: input.totals, finished: false };
    const done = await beating(start, async (from, report) => {
      const deadline = Date.now() + PAGE_ACTIVITY_BUDGET_MS;
      let progress = from;
      while (!progress.finished) {
        const batch = await sweepBatch(db, connected, { ...input, cursor: progress.cursor }, (customerId, change) => signalRemote(input.tenantId, customerId, change));
        const totals = add(progress.totals, batch.counts);
        await saveProgress(input.runId, totals, 'sweep');
        progress = { cursor: batch.cursor, totals, finished: batch.cursor === null || Date.now() >= deadline };
        report(progress);
      }
      return progress;
    });
    return { cursor: done.cursor, totals: done.totals };
  }

  return {
    /** Records the start of a run (idempotent per workflow run) and returns its id. */
    async beginCustomerSyncRun(input: { tenantId: string; connectionId: string; trigger: CustomerReconcileTrigger; workflowId: string; workflowRunId: string }): Promise<{ runId: string }> {
      return { runId: await recordCustomerSyncRunStart(db, input) };
    },

    async finishCustomerSyncRun(input: { runId: string; totals: CustomerReconcileCounts; error?: string }): Promise<void> {
      await recordCustomerSyncRunEnd(db, input);
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
      // Our own writes coming back are nothing to apply, and are not counted as missed changes.
      const conn = { id: input.connectionId, tenantId: input.tenantId, provider };
      const events: typeof feed.events = [];
      for (const event of feed.events) {
        const customerId = await customerToApply(db, conn, event);
        if (!customerId) continue;
        events.push(event);
        await signalRemote(input.tenantId, customerId, remoteChangeOf(input.connectionId, event));
      }
      await db
        .insert(syncCursors)
        .values({ connectionId: input.connectionId, tenantId: input.tenantId, cursor: feed.cursor })
        .onConflictDoUpdate({ target: syncCursors.connectionId, set: { cursor: feed.cursor, updatedAt: new Date() } });
      if (input.runId && input.totals) await saveProgress(input.runId, add(input.totals, { missedChanges: events.length }), 'events');
      return { changes: events.length, remoteIds: [...new Set(events.map((e) => e.remoteId))] };
    },

    /**
     * The remote catalog against the local one from the cursor, batch by batch for about
     * PAGE_ACTIVITY_BUDGET_MS (the workflow's "page"): a record linked and equal to the last synced
     * snapshot is in sync; linked but different is drift (repaired by the entity workflow); unlinked
     * is matched (metadata link, else email when the connection enables it) or imported.
     */
    async reconcileRemoteCustomerPage(input: RemotePagesInput): Promise<ReconcilePageResult> {
      return remotePages(input);
    },

    /**
     * Remote deletes nobody told us about (mark and sweep): the linked records the run's complete
     * remote scan did not list, confirmed gone by a direct read, go to their customer's workflow as a
     * remote delete (counted as repaired). Sweeps nothing after an incomplete scan.
     */
    async sweepUnseenRemoteCustomers(input: ReconcilePageInput): Promise<ReconcilePageResult> {
      return sweepPages(input);
    },

    async reconcileLocalCustomerPage(input: ReconcilePageInput): Promise<ReconcilePageResult> {
      return localPages(input);
    },
  };
}
