/**
 * The catalog an ERP feeds: batched upserts that write only what changed, and cursor-paged reads.
 * One module owns what the catalog tables mean, for activities and routes alike.
 */
import { and, asc, eq, getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { EntityRecords, ErpEntity } from '../../domain/erp/entities.js';
import { naturalKey } from '../../domain/erp/entities.js';
import type { Db } from '../client.js';
import { catalogInventory, catalogOrders, catalogPrices, catalogProducts } from '../tables/erp.js';

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

interface EntityTable {
  table: PgTable;
  tenant: PgColumn;
  /** Natural key columns (after tenant), in cursor order. */
  key: PgColumn[];
  /** Columns an upsert may change; the row is written only when one of them differs. */
  values: PgColumn[];
  toRow(tenantId: string, integrationId: string | null, r: EntityRecords[ErpEntity]): Record<string, unknown>;
  present(row: Record<string, unknown>): Record<string, unknown>;
}

const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : d);

export const CATALOG: Record<ErpEntity, EntityTable> = {
  products: {
    table: catalogProducts,
    tenant: catalogProducts.tenantId,
    key: [catalogProducts.sku],
    values: [catalogProducts.name, catalogProducts.description, catalogProducts.active],
    toRow: (tenantId, integrationId, r) => ({ tenantId, integrationId, ...(r as EntityRecords['products']) }),
    present: (r) => ({ sku: r.sku, name: r.name, description: r.description, active: r.active, updatedAt: iso(r.updatedAt) }),
  },
  prices: {
    table: catalogPrices,
    tenant: catalogPrices.tenantId,
    key: [catalogPrices.sku, catalogPrices.priceList, catalogPrices.currency],
    values: [catalogPrices.amountMinor],
    toRow: (tenantId, integrationId, r) => ({ tenantId, integrationId, ...(r as EntityRecords['prices']) }),
    present: (r) => ({ sku: r.sku, priceList: r.priceList, currency: r.currency, amountMinor: r.amountMinor, updatedAt: iso(r.updatedAt) }),
  },
  inventory: {
    table: catalogInventory,
    tenant: catalogInventory.tenantId,
    key: [catalogInventory.sku, catalogInventory.warehouse],
    values: [catalogInventory.quantity],
    toRow: (tenantId, integrationId, r) => ({ tenantId, integrationId, ...(r as EntityRecords['inventory']) }),
    present: (r) => ({ sku: r.sku, warehouse: r.warehouse, quantity: r.quantity, updatedAt: iso(r.updatedAt) }),
  },
  orders: {
    table: catalogOrders,
    tenant: catalogOrders.tenantId,
    key: [catalogOrders.number],
    values: [catalogOrders.status, catalogOrders.currency, catalogOrders.totalMinor, catalogOrders.lines, catalogOrders.orderedAt],
    toRow: (tenantId, integrationId, r) => {
      const o = r as EntityRecords['orders'];
      return { tenantId, integrationId, ...o, orderedAt: o.orderedAt ? new Date(o.orderedAt) : null };
    },
    present: (r) => ({
      number: r.number,
      status: r.status,
      currency: r.currency,
      totalMinor: r.totalMinor,
      lines: r.lines,
      orderedAt: iso(r.orderedAt),
      updatedAt: iso(r.updatedAt),
    }),
  },
};

const column = (c: PgColumn) => sql.identifier(c.name);

/**
 * Upserts records in one statement: `INSERT … ON CONFLICT DO UPDATE … WHERE (values) IS DISTINCT FROM
 * excluded`, so an unchanged row is neither written nor given a new updated_at. Within a batch the
 * last record of a key wins (Postgres refuses to update one row twice in a statement).
 */
export async function upsertRecords<E extends ErpEntity>(
  db: Db | Tx,
  entity: E,
  tenantId: string,
  integrationId: string | null,
  records: EntityRecords[E][],
): Promise<{ upserted: number; unchanged: number }> {
  if (records.length === 0) return { upserted: 0, unchanged: 0 };
  const t = CATALOG[entity];
  const byKey = new Map<string, EntityRecords[E]>();
  for (const r of records) byKey.set(naturalKey(entity, r), r);
  // The batch travels as ONE jsonb parameter unpacked by jsonb_to_recordset: building a VALUES list
  // of thousands of parameters cost more CPU in the query builder than the whole write in Postgres.
  // In the table's column order, which is the column list drizzle writes for INSERT … SELECT.
  const tableColumns = Object.entries(getTableColumns(t.table)) as [string, PgColumn][];
  const stored = tableColumns.filter(([, c]) => c.name !== 'updated_at');
  const rows = [...byKey.values()].map((r) => {
    const row = t.toRow(tenantId, integrationId, r);
    return Object.fromEntries(stored.map(([prop, c]) => [c.name, row[prop] ?? null]));
  });
  const recordType = sql.join(
    stored.map(([, c]) => sql`${column(c)} ${sql.raw(c.getSQLType())}`),
    sql`, `,
  );
  const selected = sql.join(
    tableColumns.map(([, c]) => (c.name === 'updated_at' ? sql`now()` : sql`x.${column(c)}`)),
    sql`, `,
  );
  const set: Record<string, SQL> = { updatedAt: sql`now()`, integrationId: sql`excluded.integration_id` };
  for (const c of t.values) {
    const prop = tableColumns.find(([, v]) => v === c)![0];
    set[prop] = sql`excluded.${column(c)}`;
  }
  const current = sql.join(t.values.map((c) => sql`${t.table}.${column(c)}`), sql`, `);
  const incoming = sql.join(t.values.map((c) => sql`excluded.${column(c)}`), sql`, `);
  const written = await (db as Db)
    .insert(t.table)
    .select(sql`select ${selected} from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(${recordType})`)
    .onConflictDoUpdate({
      target: [t.tenant, ...t.key],
      set,
      setWhere: sql`(${current}) IS DISTINCT FROM (${incoming})`,
    })
    .returning({ one: sql<number>`1` });
  return { upserted: written.length, unchanged: records.length - written.length };
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
    if (!Array.isArray(values) || values.length !== t.key.length || !values.every((v) => typeof v === 'string')) {
      throw new InvalidCursorError();
    }
    // Row-value comparison: the keys after the cursor in (k1, k2, …) order.
    after = sql`(${sql.join(t.key.map((c) => sql`${t.table}.${column(c)}`), sql`, `)}) > (${sql.join(values.map((v) => sql`${v}`), sql`, `)})`;
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
