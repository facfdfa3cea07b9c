import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { newId } from '../ids.js';
import { connections, customerOutbox, customers, customerSyncRuns, syncMappings } from '../schema.js';
import { normalizeFields, type CustomerFields } from '../../domain/customers/fields.js';
import { isOwnWrite } from '../../domain/customers/remote-write-key.js';
import { CUSTOMERS_CATALOG, customerSyncSettingsOf, type CustomerSyncSettings } from '../../domain/customers/sync-settings.js';

/**
 * The customer aggregate: what a row of `customers` means. Every local change goes through
 * {@link recordLocalChange}, which bumps the version and writes the outbox row in the caller's
 * transaction, so a committed change is always delivered to the sync workflow.
 */
export type CustomerRow = typeof customers.$inferSelect;

export function fieldsOf(row: Pick<CustomerRow, 'email' | 'name' | 'phone' | 'address' | 'description' | 'metadata'>): CustomerFields {
  return normalizeFields({
    email: row.email,
    name: row.name,
    phone: row.phone,
    address: row.address,
    description: row.description,
    metadata: row.metadata,
  });
}

export async function lockCustomer(tx: Db, tenantId: string, id: string): Promise<CustomerRow | undefined> {
  const [row] = await tx.select().from(customers).where(and(eq(customers.id, id), eq(customers.tenantId, tenantId))).for('update');
  return row;
}

/** The channel a committed outbox row is announced on: the relays wake at once instead of at their next poll. */
export const CUSTOMER_OUTBOX_CHANNEL = 'customer_outbox';

/**
 * Inserts the outbox row of a change made to `row` (already at its new version) and announces it,
 * in one statement: Postgres delivers the NOTIFY when the transaction commits, and never if it does not.
 */
export async function recordLocalChange(tx: Db, row: Pick<CustomerRow, 'id' | 'tenantId' | 'version'>): Promise<void> {
  const column = (c: { name: string }) => sql.identifier(c.name);
  await tx.execute(sql`with recorded as (
      insert into ${customerOutbox} (${column(customerOutbox.tenantId)}, ${column(customerOutbox.customerId)}, ${column(customerOutbox.version)})
      values (${row.tenantId}, ${row.id}, ${row.version}) returning 1)
    select pg_notify(${CUSTOMER_OUTBOX_CHANNEL}, '') from recorded`);
}

/** Writes new field values (and/or a tombstone) with version + 1. */
export async function updateCustomer(
  tx: Db,
  row: CustomerRow,
  change: { fields?: CustomerFields; deleted?: boolean },
): Promise<CustomerRow> {
  const [updated] = await tx
    .update(customers)
    .set({
      ...(change.fields ?? {}),
      ...(change.deleted ? { deletedAt: new Date() } : {}),
      version: sql`${customers.version} + 1`,
      updatedAt: new Date(),
    })
    .where(eq(customers.id, row.id))
    .returning();
  if (!updated) throw new Error(`customer ${row.id} vanished while locked`);
  return updated;
}

export interface SyncConnection {
  id: string;
  provider: string;
  settings: CustomerSyncSettings;
}

/** The identity of a customer's mapping row at one connection (unique per connection and local id). */
export function customerMappingKey(conn: { tenantId: string; id: string; provider: string }, localId: string) {
  return { tenantId: conn.tenantId, catalog: CUSTOMERS_CATALOG, localId, remoteSystem: conn.provider, connectionId: conn.id };
}

/** The tenant's active connections that take part in customer sync. */
export async function customerSyncConnections(db: Db, tenantId: string): Promise<SyncConnection[]> {
  const rows = await db
    .select({ id: connections.id, provider: connections.provider, settings: connections.settings })
    .from(connections)
    .where(and(eq(connections.tenantId, tenantId), eq(connections.status, 'active')));
  return rows.flatMap((r) => {
    const settings = customerSyncSettingsOf(r.settings);
    return settings ? [{ id: r.id, provider: r.provider, settings }] : [];
  });
}

/**
 * The local customer a remote record belongs to: through the mapping, else through the link the
 * record carries (our own create echoing back before its mapping was saved), else a new local id
 * reserved by a mapping row (unique per connection and remote id, so a redelivery finds the same one).
 * `remoteDeleted`: the mapping already records the remote record as deleted (by us or an earlier event).
 */
async function localIdForRemote(
  db: Db,
  conn: { id: string; tenantId: string; provider: string },
  event: { remoteId: string; localId: string | null; kind: 'created' | 'updated' | 'deleted' },
): Promise<{ localId: string; remoteDeleted: boolean } | null> {
  const byRemote = () =>
    db
      .select({ localId: syncMappings.localId, remoteDeleted: syncMappings.remoteDeleted })
      .from(syncMappings)
      .where(and(eq(syncMappings.connectionId, conn.id), eq(syncMappings.remoteId, event.remoteId)));
  const [mapped] = await byRemote();
  if (mapped) return mapped;
  if (event.localId) {
    const [linked] = await db.select({ id: customers.id }).from(customers).where(and(eq(customers.id, event.localId), eq(customers.tenantId, conn.tenantId)));
    if (linked) return { localId: linked.id, remoteDeleted: false };
  }
  if (event.kind === 'deleted') return null; // never seen, already gone: nothing to sync
  await db
    .insert(syncMappings)
    .values({ ...customerMappingKey(conn, newId('cust')), remoteId: event.remoteId })
    .onConflictDoNothing();
  const [reserved] = await byRemote();
  return reserved ?? null;
}

/**
 * The local customer a remote event is to be applied to, or null when it has nothing to apply: our
 * own write coming back (it carries our idempotency key), a delete the mapping already records (the
 * echo of our own delete: Stripe keeps no idempotency key on DELETE requests; or a redelivery), or a
 * delete of a record never seen. Webhooks and the change feed both ask this before signalling.
 */
export async function customerToApply(
  db: Db,
  conn: { id: string; tenantId: string; provider: string },
  event: { remoteId: string; localId: string | null; kind: 'created' | 'updated' | 'deleted'; idempotencyKey?: string | null },
): Promise<string | null> {
  if (isOwnWrite(event.idempotencyKey, conn.id)) return null;
  const local = await localIdForRemote(db, conn, event);
  if (!local || (event.kind === 'deleted' && local.remoteDeleted)) return null;
  return local.localId;
}

export type CustomerSyncRunRow = typeof customerSyncRuns.$inferSelect;

/** The reconciliation and backfill runs of a connection, newest first. */
export async function customerSyncRunsOf(db: Db, connectionId: string, limit = 20): Promise<CustomerSyncRunRow[]> {
  return db.select().from(customerSyncRuns).where(eq(customerSyncRuns.connectionId, connectionId)).orderBy(desc(customerSyncRuns.startedAt), desc(customerSyncRuns.id)).limit(limit);
}
