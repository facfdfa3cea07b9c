/**
 * The catalog an ERP feeds: batched upserts that write only what changed, and cursor-paged reads.
 * One module owns what the catalog tables mean, for activities and routes alike.
 */
import { and, asc, eq, getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { EntityRecords, ErpEntity } from '../../domain/erp/entities.js';
import { naturalKey } from '../../domain/erp/entities.js';
import { rowsOf, tableRowOf, type Db } from '../../db/client.js';
import { catalogInventory, catalogOrders, catalogPrices, catalogProducts } from '../../db/tables/erp.js';
import { resourceTypeOf } from '../../domain/events/event-types.js';
import { recordEvents, type NewEvent } from '../events/event-store.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** The events the catalog announces its changes with. */
type CatalogEventType = 'product.updated' | 'price.updated' | 'inventory.changed' | 'order.created';

interface EntityTable {
  table: PgTable;
  tenant: PgColumn;
  /** Natural key columns (after tenant), in cursor order. */
  key: PgColumn[];
  /** Columns an upsert may change; the row is written only when one of them differs. */
  values: PgColumn[];
  /** A row as GET /v1/catalog/<entity> lists it and as its event carries it. */
  present(row: Record<string, unknown>): Record<string, unknown>;
  /**
   * The event a written row is announced with, and whether an updated row (not only an inserted one)
   * gets it: an order announces its arrival (order.created), the others every change.
   */
  event: { type: CatalogEventType; onUpdate: boolean };
}

const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : d);

export const CATALOG: Record<ErpEntity, EntityTable> = {
  products: {
    table: catalogProducts,
    tenant: catalogProducts.tenantId,
    key: [catalogProducts.sku],
    values: [catalogProducts.name, catalogProducts.description, catalogProducts.active],
    present: (r) => ({
      sku: r.sku,
      name: r.name,
      description: r.description,
      active: r.active,
      integrationId: r.integrationId,
      sourceChangedAt: iso(r.sourceChangedAt),
      updatedAt: iso(r.updatedAt),
    }),
    event: { type: 'product.updated', onUpdate: true },
  },
  prices: {
    table: catalogPrices,
    tenant: catalogPrices.tenantId,
    key: [catalogPrices.sku, catalogPrices.priceList, catalogPrices.currency],
    values: [catalogPrices.amountMinor],
    present: (r) => ({
      sku: r.sku,
      priceList: r.priceList,
      currency: r.currency,
      amountMinor: r.amountMinor,
      integrationId: r.integrationId,
      sourceChangedAt: iso(r.sourceChangedAt),
      updatedAt: iso(r.updatedAt),
    }),
    event: { type: 'price.updated', onUpdate: true },
  },
  inventory: {
    table: catalogInventory,
    tenant: catalogInventory.tenantId,
    key: [catalogInventory.sku, catalogInventory.warehouse],
    values: [catalogInventory.quantity],
    present: (r) => ({
      sku: r.sku,
      warehouse: r.warehouse,
      quantity: r.quantity,
      integrationId: r.integrationId,
      sourceChangedAt: iso(r.sourceChangedAt),
      updatedAt: iso(r.updatedAt),
    }),
    event: { type: 'inventory.changed', onUpdate: true },
  },
  orders: {
    table: catalogOrders,
    tenant: catalogOrders.tenantId,
    key: [catalogOrders.number],
    values: [
      catalogOrders.status,
      catalogOrders.currency,
      catalogOrders.totalMinor,
      catalogOrders.lines,
      catalogOrders.orderedAt,
    ],
    present: (r) => ({
      number: r.number,
      status: r.status,
      currency: r.currency,
      totalMinor: r.totalMinor,
      lines: r.lines,
      orderedAt: iso(r.orderedAt),
      integrationId: r.integrationId,
      sourceChangedAt: iso(r.sourceChangedAt),
      updatedAt: iso(r.updatedAt),
    }),
    event: { type: 'order.created', onUpdate: false },
  },
};

const column = (c: PgColumn) => sql.identifier(c.name);

/**
 * A Postgres array literal (`{"a","b",NULL}`) of one column's values: the whole batch travels as one
 * text parameter per column and `unnest` turns the arrays back into rows. Building thousands of bind
 * parameters (or one big jsonb) cost more CPU in the client than the write itself in Postgres.
 */
export function arrayLiteral(values: unknown[]): string {
  // Elements joined once: appending to one string made four rope nodes per value (a fifth of the
  // sync's allocations for a products page).
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (typeof v === 'boolean') parts[i] = v ? 't' : 'f';
    else if (typeof v === 'number') parts[i] = String(v);
    else {
      const text = typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : JSON.stringify(v);
      parts[i] = `"${/["\\]/.test(text) ? text.replace(/["\\]/g, '\\$&') : text}"`;
    }
  }
  return `{${parts.join(',')}}`;
}

/** Per entity, built once: the columns an upsert sends and the statement around them. */
interface UpsertPlan {
  /** Record property and SQL array type of each sent column (natural key, then values). */
  columns: { prop: string; arrayType: string }[];
  statement(tenantId: string, integrationId: string | null, arrays: string[]): SQL;
}

function upsertPlan(t: EntityTable): UpsertPlan {
  const tableColumns = Object.entries(getTableColumns(t.table)) as [string, PgColumn][];
  const propOf = (c: PgColumn) => tableColumns.find(([, v]) => v === c)![0];
  const changedAt = getTableColumns(t.table)['sourceChangedAt'] as PgColumn;
  // The source's change time travels with the row but does not make it "changed" on its own.
  const sent = [...t.key, ...t.values, changedAt];
  const columns = sent.map((c) => ({ prop: propOf(c), arrayType: `${c.getSQLType()}[]` }));
  const names = sql.join(sent.map(column), sql`, `);
  const current = sql.join(
    t.values.map((c) => sql`${t.table}.${column(c)}`),
    sql`, `,
  );
  const incoming = sql.join(
    t.values.map((c) => sql`excluded.${column(c)}`),
    sql`, `,
  );
  const set = sql.join(
    [
      ...t.values.map((c) => sql`${column(c)} = excluded.${column(c)}`),
      sql`source_changed_at = excluded.source_changed_at`,
      sql`integration_id = excluded.integration_id`,
      sql`updated_at = now()`,
    ],
    sql`, `,
  );
  const conflict = sql.join([t.tenant, ...t.key].map(column), sql`, `);
  return {
    columns,
    statement: (tenantId, integrationId, arrays) => {
      const unnest = sql.join(
        arrays.map((a, i) => sql`${a}::${sql.raw(columns[i]!.arrayType)}`),
        sql`, `,
      );
      // Only rows whose values differ are written (and get a new updated_at), and only they come
      // back, marked inserted (xmax = 0) or updated: what the page's events announce.
      return sql`insert into ${t.table} (tenant_id, integration_id, updated_at, ${names})
        select ${tenantId}, ${integrationId}, now(), x.* from unnest(${unnest}) as x(${names})
        on conflict (${conflict}) do update set ${set}
        where (${current}) is distinct from (${incoming})
        returning ${t.table}.*, (xmax = 0) as inserted`;
    },
  };
}

const PLANS = new Map<ErpEntity, UpsertPlan>();

/**
 * A batch of records turned into what its upsert sends (one array literal per column), deduplicated
 * by natural key: pure CPU, so a page can be prepared while the one before it commits, and what waits
 * for the commit is a few strings rather than thousands of record objects (which would outlive young
 * collections and be promoted to the old generation, to wait there for the next full collection).
 */
export interface PreparedUpsert<E extends ErpEntity = ErpEntity> {
  entity: E;
  /** Records given (before deduplication): `unchanged` is counted against this. */
  records: number;
  /** Array literals, one per column of the entity's upsert plan; empty for no records. */
  arrays: string[];
  /** The batch's natural keys as one array literal (what closes the open dead letters of those keys); '{}' for none. */
  keys: string;
}

function planOf(entity: ErpEntity): UpsertPlan {
  let plan = PLANS.get(entity);
  if (!plan) PLANS.set(entity, (plan = upsertPlan(CATALOG[entity])));
  return plan;
}

/**
 * Within a batch the last record of a key wins (Postgres refuses to update one row twice in a
 * statement). `sourceChangedAt[i]` is record i's change time at the source (UTC ISO), when known.
 */
export function prepareUpsert<E extends ErpEntity>(
  entity: E,
  records: EntityRecords[E][],
  sourceChangedAt?: (string | undefined)[],
): PreparedUpsert<E> {
  if (records.length === 0) return { entity, records: 0, arrays: [], keys: '{}' };
  const byKey = new Map<string, number>();
  records.forEach((r, i) => byKey.set(naturalKey(entity, r), i));
  const unique = [...byKey.values()];
  const rows = records as unknown as Record<string, unknown>[];
  return {
    entity,
    records: records.length,
    arrays: planOf(entity).columns.map(({ prop }) =>
      arrayLiteral(prop === 'sourceChangedAt' ? unique.map((i) => sourceChangedAt?.[i]) : unique.map((i) => rows[i]![prop])),
    ),
    keys: arrayLiteral([...byKey.keys()]),
  };
}

/**
 * Writes a prepared batch in the caller's transaction: one statement `INSERT … SELECT FROM
 * unnest(arrays) ON CONFLICT DO UPDATE … WHERE (values) IS DISTINCT FROM excluded`, so an unchanged
 * row is neither written nor given a new updated_at, then one statement for the events of the rows
 * it wrote (product.updated, price.updated, inventory.changed; order.created for new orders only),
 * each carrying the row as GET /v1/catalog lists it. A batch that changes nothing records nothing.
 */
export async function writeUpsert(
  tx: Tx,
  prepared: PreparedUpsert,
  tenantId: string,
  integrationId: string | null,
): Promise<{ upserted: number; unchanged: number }> {
  if (prepared.records === 0) return { upserted: 0, unchanged: 0 };
  const statement = planOf(prepared.entity).statement(tenantId, integrationId, prepared.arrays);
  const written = rowsOf<Record<string, unknown>>(await tx.execute(statement));
  const t = CATALOG[prepared.entity];
  const resource = resourceTypeOf(t.event.type);
  const events: NewEvent[] = [];
  for (const raw of written) {
    if (!t.event.onUpdate && raw.inserted !== true) continue;
    const row = tableRowOf(t.table, raw) as Record<string, unknown>;
    events.push({
      tenantId,
      type: t.event.type,
      resource: { type: resource, id: naturalKey(prepared.entity, row as unknown as EntityRecords[ErpEntity]) },
      data: t.present(row),
    });
  }
  await recordEvents(tx, events);
  return { upserted: written.length, unchanged: prepared.records - written.length };
}

/** Upserts records and records their events in the caller's transaction (prepareUpsert, then writeUpsert). */
export async function upsertRecords<E extends ErpEntity>(
  tx: Tx,
  entity: E,
  tenantId: string,
  integrationId: string | null,
  records: EntityRecords[E][],
): Promise<{ upserted: number; unchanged: number }> {
  return writeUpsert(tx, prepareUpsert(entity, records), tenantId, integrationId);
}

/** One page of an entity's catalog, ordered by natural key; `cursor` is the last key of the previous page. */
export async function listCatalog(
  db: Db,
  entity: ErpEntity,
  tenantId: string,
  limit: number,
  cursor: string | undefined,
): Promise<{ data: Record<string, unknown>[]; nextCursor: string | null }> {
  const t = CATALOG[entity];
  let after: SQL | undefined;
  if (cursor) {
    let values: unknown;
    try {
      values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      throw new InvalidCursorError();
    }
    if (
      !Array.isArray(values) ||
      values.length !== t.key.length ||
      !values.every((v) => typeof v === 'string')
    ) {
      throw new InvalidCursorError();
    }
    // Row-value comparison: the keys after the cursor in (k1, k2, …) order.
    after = sql`(${sql.join(
      t.key.map((c) => sql`${t.table}.${column(c)}`),
      sql`, `,
    )}) > (${sql.join(
      values.map((v) => sql`${v}`),
      sql`, `,
    )})`;
  }
  const rows = (await db
    .select()
    .from(t.table)
    .where(and(eq(t.tenant, tenantId), after))
    .orderBy(...t.key.map((c) => asc(c)))
    .limit(limit + 1)) as Record<string, unknown>[];
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const tableColumns = Object.entries(t.table as unknown as Record<string, unknown>);
  const keyProps = t.key.map((c) => tableColumns.find(([, v]) => v === c)![0]);
  const nextCursor =
    rows.length > limit && last
      ? Buffer.from(JSON.stringify(keyProps.map((p) => String(last[p])))).toString('base64url')
      : null;
  return { data: page.map(t.present), nextCursor };
}

export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  constructor() {
    super('cursor is not one this endpoint handed out');
  }
}

export type { Tx as DbTransaction };
