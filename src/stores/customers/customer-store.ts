import { and, asc, eq, exists, gt, gte, isNull, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { connections, customerOutbox, customers, syncConflicts, syncMappings } from '../../db/schema.js';
import { normalizeFields, type CustomerFields } from '../../domain/customers/fields.js';
import type { FieldConflict } from '../../domain/customers/merge.js';
import { isOwnWrite } from '../../domain/customers/remote-write-key.js';
import { CUSTOMERS_CATALOG, customerSyncSettingsOf, type CustomerSyncSettings } from '../../domain/customers/sync-settings.js';
import { workflowId } from '../../shared/workflow-ids.js';
import { recordEvent, recordEvents, type EventWriter, type NewEvent } from '../events/event-store.js';

/**
 * The customer aggregate: what a row of `customers` means. Every local change goes through
 * {@link recordLocalChange}, which bumps the version and writes the outbox row in the caller's
 * transaction, so a committed change is always delivered to the sync workflow.
 */
export type CustomerRow = typeof customers.$inferSelect;

/** The customer is not the tenant's (or does not exist). */
export class CustomerNotFoundError extends Error {
  override readonly name = 'CustomerNotFoundError';
  constructor(readonly customerId: string) {
    super(`customer ${customerId} not found`);
  }
}

/** A conditional change named a version the customer is no longer at. */
export class CustomerVersionMismatchError extends Error {
  override readonly name = 'CustomerVersionMismatchError';
  constructor(
    readonly customerId: string,
    readonly version: number,
    readonly expected: number,
  ) {
    super(`customer ${customerId} is at version ${version}, not ${expected}; read it again and retry`);
  }
}

/** A field change to a deleted customer (a tombstone only ever syncs its deletion). */
export class CustomerDeletedError extends Error {
  override readonly name = 'CustomerDeletedError';
  constructor(readonly customerId: string) {
    super(`customer ${customerId} is deleted`);
  }
}

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

/** A customer as the API shows it (GET /v1/customers/:id) and as its events carry it. */
export type CustomerView = {
  id: string;
  object: 'customer';
  email: string | null;
  name: string | null;
  phone: string | null;
  address: { line1: string | null; line2: string | null; city: string | null; postal_code: string | null; state: string | null; country: string | null } | null;
  description: string | null;
  metadata: Record<string, string>;
  version: number;
  deleted: boolean;
  workflowId: string;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
};

export function customerView(row: CustomerRow): CustomerView {
  const f = fieldsOf(row);
  return {
    id: row.id,
    object: 'customer',
    email: f.email,
    name: f.name,
    phone: f.phone,
    address: f.address
      ? { line1: f.address.line1, line2: f.address.line2, city: f.address.city, postal_code: f.address.postalCode, state: f.address.state, country: f.address.country }
      : null,
    description: f.description,
    metadata: f.metadata,
    version: row.version,
    deleted: row.deletedAt !== null,
    workflowId: workflowId.customer(row.id),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    deletedAt: row.deletedAt?.toISOString() ?? null,
  };
}

type CustomerChangeType = 'customer.created' | 'customer.updated' | 'customer.deleted';

function customerEvent(type: CustomerChangeType, row: CustomerRow): NewEvent<CustomerChangeType> {
  return { tenantId: row.tenantId, type, resource: { type: 'customer', id: row.id }, data: customerView(row) };
}

/**
 * The events of customers created or changed by one statement (a bulk import), in the caller's
 * transaction: one statement for all of them.
 */
export async function recordCustomerChanges(tx: EventWriter, type: CustomerChangeType, rows: CustomerRow[]): Promise<void> {
  await recordEvents(
    tx,
    rows.map((row) => customerEvent(type, row)),
  );
}

/** The tenant's customer (deleted ones too), or undefined. */
export async function findCustomer(db: Db, tenantId: string, id: string): Promise<CustomerRow | undefined> {
  const [row] = await db.select().from(customers).where(and(eq(customers.id, id), eq(customers.tenantId, tenantId)));
  return row;
}

/** Whether the tenant has a customer with this id (deleted ones too). */
export async function customerExists(db: Db, tenantId: string, id: string): Promise<boolean> {
  const [row] = await db.select({ id: customers.id }).from(customers).where(and(eq(customers.id, id), eq(customers.tenantId, tenantId)));
  return row !== undefined;
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

/**
 * Writes new field values (and/or a tombstone) with version + 1, and records its event
 * (customer.updated, or customer.deleted for the tombstone) in the caller's transaction. Local
 * changes and merges from a connected system both come this way.
 */
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
  await recordEvent(tx, customerEvent(change.deleted && !row.deletedAt ? 'customer.deleted' : 'customer.updated', updated));
  return updated;
}

/**
 * A new customer at version 1 with its customer.created event, in the caller's transaction, without
 * an outbox row: the record born from a connected system's (its workflow pushes it on itself).
 */
export async function insertCustomer(tx: Db, input: { id: string; tenantId: string; fields: CustomerFields }): Promise<CustomerRow> {
  const [row] = await tx
    .insert(customers)
    .values({ id: input.id, tenantId: input.tenantId, ...input.fields })
    .returning();
  await recordEvent(tx, customerEvent('customer.created', row!));
  return row!;
}

/**
 * A new local customer at version 1 with its outbox row and its event, in the caller's transaction
 * (which may hold more of the request, e.g. its idempotency key).
 */
export async function createCustomer(tx: Db, input: { id: string; tenantId: string; fields: CustomerFields }): Promise<CustomerRow> {
  const row = await insertCustomer(tx, input);
  await recordLocalChange(tx, row);
  return row;
}

/**
 * Locks the customer, checks the version the caller last read (`expectedVersion`, absent: an
 * unconditional change) and runs `apply` in the same transaction.
 */
async function changeLocked(
  db: Db,
  tenantId: string,
  id: string,
  expectedVersion: number | undefined,
  apply: (tx: Db, row: CustomerRow) => Promise<CustomerRow>,
): Promise<CustomerRow> {
  return db.transaction(async (tx) => {
    const row = await lockCustomer(tx, tenantId, id);
    if (!row) throw new CustomerNotFoundError(id);
    if (expectedVersion !== undefined && expectedVersion !== row.version) throw new CustomerVersionMismatchError(id, row.version, expectedVersion);
    return apply(tx, row);
  });
}

/**
 * A local change of fields: `change` gets the current fields and returns the new ones. Bumps the
 * version and commits its outbox row; refused for a deleted customer.
 */
export async function editCustomer(
  db: Db,
  tenantId: string,
  id: string,
  expectedVersion: number | undefined,
  change: (current: CustomerFields) => CustomerFields,
): Promise<CustomerRow> {
  return changeLocked(db, tenantId, id, expectedVersion, async (tx, current) => {
    if (current.deletedAt) throw new CustomerDeletedError(current.id);
    const updated = await updateCustomer(tx, current, { fields: change(fieldsOf(current)) });
    await recordLocalChange(tx, updated);
    return updated;
  });
}

/** Deletes the customer (a tombstone that syncs, with its outbox row); deleting again changes nothing. */
export async function deleteCustomer(db: Db, tenantId: string, id: string, expectedVersion: number | undefined): Promise<CustomerRow> {
  return changeLocked(db, tenantId, id, expectedVersion, async (tx, current) => {
    if (current.deletedAt) return current;
    const updated = await updateCustomer(tx, current, { deleted: true });
    await recordLocalChange(tx, updated);
    return updated;
  });
}

export type CustomerSyncState = (typeof syncMappings.$inferSelect)['state'];

export interface CustomerListQuery {
  email?: string;
  /** Only customers changed at or after this instant. */
  updatedSince?: Date;
  /** Only customers with a connected system in this state. */
  syncState?: CustomerSyncState;
  includeDeleted: boolean;
  /** Where the previous page ended (its last row's change time and id). */
  after?: { at: Date; id: string };
  limit: number;
}

/** One page of the tenant's customers, least recently changed first; `more` when another page follows. */
export async function listCustomers(db: Db, tenantId: string, q: CustomerListQuery): Promise<{ rows: CustomerRow[]; more: boolean }> {
  // Postgres keeps microseconds, a cursor milliseconds: page on the truncated time so a page never repeats.
  const changedAt = sql`date_trunc('milliseconds', ${customers.updatedAt})`;
  const after = q.after;
  const rows = await db
    .select()
    .from(customers)
    .where(
      and(
        eq(customers.tenantId, tenantId),
        q.includeDeleted ? undefined : isNull(customers.deletedAt),
        q.email ? eq(customers.email, q.email) : undefined,
        q.updatedSince ? gte(customers.updatedAt, q.updatedSince) : undefined,
        q.syncState
          ? exists(
              db
                .select({ one: syncMappings.id })
                .from(syncMappings)
                .where(
                  and(
                    eq(syncMappings.tenantId, tenantId),
                    eq(syncMappings.catalog, CUSTOMERS_CATALOG),
                    eq(syncMappings.localId, customers.id),
                    eq(syncMappings.state, q.syncState),
                  ),
                ),
            )
          : undefined,
        after ? or(gt(changedAt, sql`${after.at.toISOString()}::timestamptz`), and(eq(changedAt, sql`${after.at.toISOString()}::timestamptz`), gt(customers.id, after.id))) : undefined,
      ),
    )
    .orderBy(asc(changedAt), asc(customers.id))
    .limit(q.limit + 1);
  return { rows: rows.slice(0, q.limit), more: rows.length > q.limit };
}

/** Where a customer stands with one connected system. */
export interface CustomerSystemState {
  connectionId: string;
  remoteSystem: string;
  remoteId: string | null;
  state: CustomerSyncState;
  failureReason: string | null;
  lastSyncedVersion: number;
  lastSyncedAt: Date | null;
}

export type CustomerConflictRow = typeof syncConflicts.$inferSelect;

/** A same-field conflict of a merge, as its customer.sync_conflict event carries it. */
export type CustomerConflictView = {
  customerId: string;
  connectionId: string;
  field: string;
  baseValue: unknown;
  localValue: unknown;
  remoteValue: unknown;
  policy: string;
  decision: 'local' | 'remote';
  at: string;
};

export function customerConflictView(row: CustomerConflictRow): CustomerConflictView {
  return {
    customerId: row.localId,
    connectionId: row.connectionId,
    field: row.field,
    baseValue: row.baseValue,
    localValue: row.localValue,
    remoteValue: row.remoteValue,
    policy: row.policy,
    decision: row.decision,
    at: row.createdAt.toISOString(),
  };
}

/**
 * Records the same-field conflicts of one merge of a customer with a connected system, each with its
 * customer.sync_conflict event, in the caller's transaction (the merge's).
 */
export async function recordMergeConflicts(
  tx: Db,
  customer: Pick<CustomerRow, 'id' | 'tenantId'>,
  connectionId: string,
  conflicts: readonly FieldConflict[],
): Promise<CustomerConflictRow[]> {
  if (conflicts.length === 0) return [];
  const rows = await tx
    .insert(syncConflicts)
    .values(
      conflicts.map((c) => ({
        tenantId: customer.tenantId,
        catalog: CUSTOMERS_CATALOG,
        localId: customer.id,
        connectionId,
        field: c.field,
        baseValue: c.base,
        localValue: c.local,
        remoteValue: c.remote,
        policy: c.policy,
        decision: c.decision,
      })),
    )
    .returning();
  rows.sort((a, b) => a.id - b.id);
  await recordEvents(
    tx,
    rows.map((row) => ({ tenantId: row.tenantId, type: 'customer.sync_conflict' as const, resource: { type: 'customer' as const, id: row.localId }, data: customerConflictView(row) })),
  );
  return rows;
}

/** A push to a connected system given up for good (the system refused it), as customer.sync_failed carries it. */
export type CustomerSyncFailureView = {
  customerId: string;
  version: number;
  connectionId: string;
  remoteSystem: string;
  failureReason: string;
  at: string;
};

/** Records that a version of the customer could not be synced to a connection, in the caller's transaction. */
export async function recordCustomerSyncFailure(tx: EventWriter, tenantId: string, failure: Omit<CustomerSyncFailureView, 'at'> & { at: Date }): Promise<void> {
  await recordEvent(tx, {
    tenantId,
    type: 'customer.sync_failed',
    resource: { type: 'customer', id: failure.customerId },
    data: { ...failure, at: failure.at.toISOString() } satisfies CustomerSyncFailureView,
  });
}

/**
 * A customer's state with every connected system (those it has not reached yet as pending) and the
 * conflicts its merges recorded, oldest first.
 */
export async function customerSyncStateOf(
  db: Db,
  customer: Pick<CustomerRow, 'id' | 'tenantId'>,
): Promise<{ systems: CustomerSystemState[]; conflicts: CustomerConflictRow[] }> {
  const mappings = await db
    .select()
    .from(syncMappings)
    .where(and(eq(syncMappings.tenantId, customer.tenantId), eq(syncMappings.catalog, CUSTOMERS_CATALOG), eq(syncMappings.localId, customer.id)));
  const targets = await customerSyncConnections(db, customer.tenantId);
  const conflicts = await db
    .select()
    .from(syncConflicts)
    .where(and(eq(syncConflicts.tenantId, customer.tenantId), eq(syncConflicts.catalog, CUSTOMERS_CATALOG), eq(syncConflicts.localId, customer.id)))
    .orderBy(asc(syncConflicts.id));
  const systems: CustomerSystemState[] = [
    ...mappings.map((m) => ({
      connectionId: m.connectionId,
      remoteSystem: m.remoteSystem,
      remoteId: m.remoteId,
      state: m.state,
      failureReason: m.failureReason,
      lastSyncedVersion: m.lastSyncedVersion,
      lastSyncedAt: m.lastSyncedAt,
    })),
    // Connected systems this customer has not reached yet.
    ...targets
      .filter((t) => !mappings.some((m) => m.connectionId === t.id))
      .map((t) => ({ connectionId: t.id, remoteSystem: t.provider, remoteId: null, state: 'pending' as const, failureReason: null, lastSyncedVersion: 0, lastSyncedAt: null })),
  ];
  return { systems, conflicts };
}

export interface SyncConnection {
  id: string;
  provider: string;
  settings: CustomerSyncSettings;
}

/** A connection takes part in customer sync while it is active and its settings turn sync on. */
export function syncsCustomers(conn: { status: string; settings: Record<string, unknown> }): boolean {
  return conn.status === 'active' && customerSyncSettingsOf(conn.settings) !== null;
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
  if (event.localId && (await customerExists(db, conn.tenantId, event.localId))) return { localId: event.localId, remoteDeleted: false };
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
