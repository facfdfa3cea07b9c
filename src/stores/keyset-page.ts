/**
 * One page of a list, read by keyset: the rows after the previous page's last row in a fixed order
 * (a time column and the id, or the id alone), one more row than asked for to know whether another
 * page follows. The cursor names that last row by id; its sort key is read from the table, so the
 * order keeps the column's full precision (a cursor carrying a JS Date would cut microseconds and skip
 * or repeat rows that share a millisecond) and the list's index serves the query.
 */
import { and, asc, desc, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db } from '../db/client.js';

/** A page of rows and the cursor of the next one (null on the last page). */
export interface Page<T> {
  rows: T[];
  hasMore: boolean;
  nextCursor: string | null;
}

/** The cursor does not name a row of this list (forged, or from another list). */
export class PageCursorError extends Error {
  override readonly name = 'PageCursorError';
}

export interface KeysetList {
  table: PgTable;
  /** Sort columns, the unique id last (e.g. [createdAt, id], or [id] for a serial id). */
  orderBy: [...PgColumn[], PgColumn];
  order: 'asc' | 'desc';
  /** Whose list it is (tenant, parent resource): the row a cursor names must be in it. */
  scope: SQL | undefined;
  /** Which of its rows are listed (a status...): a cursor stays good after its row left the filter. */
  filter?: SQL | undefined;
}

export function encodePageCursor(id: string | number): string {
  return Buffer.from(String(id)).toString('base64url');
}

/**
 * Reads one page of `list`: `limit` rows after the row `cursor` names (from the start without one).
 * Throws PageCursorError when the cursor names no row of the list.
 */
export async function keysetPage<T extends { id: string | number }>(
  db: Db,
  list: KeysetList,
  page: { cursor?: string | undefined; limit: number },
): Promise<Page<T>> {
  const id = list.orderBy[list.orderBy.length - 1]!;
  const after = page.cursor === undefined ? undefined : await afterAnchor(db, list, id, Buffer.from(page.cursor, 'base64url').toString('utf8'));
  const direction = list.order === 'asc' ? asc : desc;
  const rows = (await db
    .select()
    .from(list.table)
    .where(and(list.scope, list.filter, after))
    .orderBy(...list.orderBy.map((c) => direction(c)))
    .limit(page.limit + 1)) as unknown as T[];
  const shown = rows.slice(0, page.limit);
  const hasMore = rows.length > page.limit;
  const last = shown[shown.length - 1];
  return { rows: shown, hasMore, nextCursor: hasMore && last ? encodePageCursor(last.id) : null };
}

/**
 * The condition "after the anchor row in the list's order". The anchor's sort key is read as text and
 * cast back to each column's type in the condition, so a timestamp keeps its microseconds.
 */
async function afterAnchor(db: Db, list: KeysetList, id: PgColumn, anchorId: string): Promise<SQL> {
  const [anchor] = (await db
    .select(Object.fromEntries(list.orderBy.map((c, i) => [`k${i}`, sql<string>`${c}::text`])))
    .from(list.table)
    .where(and(list.scope, sql`${id}::text = ${anchorId}`))) as Record<string, string>[];
  if (!anchor) throw new PageCursorError('the cursor does not name a row of this list');
  const values = list.orderBy.map((c, i) => sql`${anchor[`k${i}`]}::${sql.raw(castType(c))}`);
  return sql`(${sql.join(list.orderBy, sql`, `)}) ${sql.raw(list.order === 'asc' ? '>' : '<')} (${sql.join(values, sql`, `)})`;
}

/** The type a column's value is cast to: a serial column's values are of its integer type. */
function castType(column: PgColumn): string {
  const type = column.getSQLType();
  return SERIAL_TYPES[type] ?? type;
}

const SERIAL_TYPES: Record<string, string> = { smallserial: 'smallint', serial: 'integer', bigserial: 'bigint' };
