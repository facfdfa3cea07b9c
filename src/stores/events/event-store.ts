/**
 * Events: written in the transaction of the change they describe (so a change that rolls back leaves
 * no event, and a committed change always has one), numbered per resource, listed by position and
 * deleted after the retention period. The relay that fans them out to webhook endpoints wakes on
 * {@link EVENTS_CHANNEL}.
 */
import { and, asc, desc, eq, gt, inArray, lt, sql } from 'drizzle-orm';
import { rowsOf, tableRowOf, type Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { events } from '../../db/schema.js';
import { resourceTypeOf, type EventResourceOf, type EventResourceType, type EventType } from '../../domain/events/event-types.js';

export type EventRow = typeof events.$inferSelect;

/** The NOTIFY channel a committed event is announced on (the payload is empty: listeners read the table). */
export const EVENTS_CHANNEL = 'switchyard_events';

/** Days events are kept unless EVENTS_RETENTION_DAYS says otherwise. */
export const DEFAULT_EVENTS_RETENTION_DAYS = 30;

/** A transaction (or, for a change of its own, the database) that an event is written in. */
export type EventWriter = Pick<Db, 'execute'>;

/** What a change says about itself; `data` is the resource's new state as the API shows it. */
export interface NewEvent<T extends EventType = EventType> {
  tenantId: string;
  type: T;
  resource: { type: EventResourceOf<T>; id: string };
  data: Record<string, unknown>;
}

/** The event type belongs to another kind of resource (a programming error in the caller). */
export class EventResourceMismatchError extends Error {
  override readonly name = 'EventResourceMismatchError';
}

/**
 * Records an event inside the caller's transaction. The resource's next sequence number comes from an
 * upsert on event_sequences, whose row lock holds the resource's other writers until this transaction
 * ends: a resource's events are numbered 1, 2, 3... in commit order, with no gap (a rollback takes its
 * number back) and no duplicate. The NOTIFY is delivered at commit, and not at all on rollback.
 */
export async function recordEvent<T extends EventType>(tx: EventWriter, event: NewEvent<T>): Promise<EventRow> {
  const expected = resourceTypeOf(event.type);
  if (event.resource.type !== expected) {
    throw new EventResourceMismatchError(`${event.type} describes a ${expected}, not a ${event.resource.type}`);
  }
  const [raw] = rowsOf<Record<string, unknown>>(
    await tx.execute(sql`
      with next as (
        insert into event_sequences (tenant_id, resource_type, resource_id, last_sequence)
        values (${event.tenantId}, ${event.resource.type}, ${event.resource.id}, 1)
        on conflict (tenant_id, resource_type, resource_id)
          do update set last_sequence = event_sequences.last_sequence + 1
        returning last_sequence
      )
      insert into events (id, tenant_id, type, resource_type, resource_id, sequence, data)
      select ${newId('evt')}, ${event.tenantId}, ${event.type}, ${event.resource.type}, ${event.resource.id}, next.last_sequence, ${JSON.stringify(event.data)}::jsonb
      from next
      returning *`),
  );
  await tx.execute(sql`select pg_notify(${EVENTS_CHANNEL}, '')`);
  return tableRowOf(events, raw!);
}

/**
 * Records many events inside the caller's transaction in ONE statement (a page of ERP records, a
 * batch of imported customers): the events travel as one JSON parameter, every resource's counter
 * moves by its number of events in one upsert on event_sequences (rows taken in key order, so two
 * batches touching the same resources wait for each other rather than deadlock), the events are
 * inserted in the order given (a resource with several events gets consecutive numbers in that
 * order) and the NOTIFY is sent at commit. Resolves with the number recorded.
 */
export async function recordEvents(tx: EventWriter, batch: readonly NewEvent[]): Promise<number> {
  if (batch.length === 0) return 0;
  const rows = batch.map((event, ord) => {
    const expected = resourceTypeOf(event.type);
    if (event.resource.type !== expected) {
      throw new EventResourceMismatchError(`${event.type} describes a ${expected}, not a ${event.resource.type}`);
    }
    return { id: newId('evt'), ord, tenant_id: event.tenantId, type: event.type, resource_type: event.resource.type, resource_id: event.resource.id, data: event.data };
  });
  await tx.execute(sql`
    with batch as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        as b(id text, ord int, tenant_id text, type text, resource_type text, resource_id text, data jsonb)
    ),
    counted as (
      select tenant_id, resource_type, resource_id, count(*)::bigint as n from batch group by tenant_id, resource_type, resource_id
    ),
    next as (
      insert into event_sequences (tenant_id, resource_type, resource_id, last_sequence)
      select tenant_id, resource_type, resource_id, n from counted order by tenant_id, resource_type, resource_id
      on conflict (tenant_id, resource_type, resource_id)
        do update set last_sequence = event_sequences.last_sequence + excluded.last_sequence
      returning tenant_id, resource_type, resource_id, last_sequence
    ),
    inserted as (
      insert into events (id, tenant_id, type, resource_type, resource_id, sequence, data)
      select b.id, b.tenant_id, b.type, b.resource_type, b.resource_id,
        next.last_sequence - c.n + row_number() over (partition by b.tenant_id, b.resource_type, b.resource_id order by b.ord),
        b.data
      from batch b
      join counted c using (tenant_id, resource_type, resource_id)
      join next using (tenant_id, resource_type, resource_id)
      order by b.ord
      returning 1
    )
    select pg_notify(${EVENTS_CHANNEL}, '') from (select 1 from inserted limit 1) as any_inserted`);
  return rows.length;
}

/** How a webhook endpoint receives events: `full` with the resource's state, `thin` without it. */
export type PayloadStyle = 'full' | 'thin';

/** An event as the API shows it and as it is delivered (a `thin` body has no `data`). */
export interface EventBody {
  id: string;
  type: string;
  created_at: string;
  sequence: number;
  resource: { type: string; id: string };
  data?: Record<string, unknown>;
}

/** The body of an event: what GET /v1/events returns and what webhooks POST. */
export function eventBody(row: EventRow, style: PayloadStyle = 'full'): EventBody {
  return {
    id: row.id,
    type: row.type,
    created_at: row.createdAt.toISOString(),
    sequence: row.sequence,
    resource: { type: row.resourceType, id: row.resourceId },
    ...(style === 'full' ? { data: row.data } : {}),
  };
}

/** The tenant's event, or undefined (another tenant's is indistinguishable from a missing one). */
export async function findEvent(db: Db, tenantId: string, id: string): Promise<EventRow | undefined> {
  const [row] = await db
    .select()
    .from(events)
    .where(and(eq(events.tenantId, tenantId), eq(events.id, id)));
  return row;
}

export interface EventQuery {
  /** Only these types (patterns already expanded to exact types); an empty list matches nothing. */
  types?: readonly EventType[];
  resourceType?: EventResourceType;
  resourceId?: string;
  /** `desc`: newest first (default); `asc`: oldest first, to catch up from a point. */
  order?: 'asc' | 'desc';
  /** Only events past this position in the order (the cursor of the previous page). */
  afterPosition?: number;
  limit: number;
}

/** One page of the tenant's events by position, and whether more follow it. */
export async function listEvents(db: Db, tenantId: string, q: EventQuery): Promise<{ rows: EventRow[]; hasMore: boolean }> {
  if (q.types && q.types.length === 0) return { rows: [], hasMore: false };
  const ascending = q.order === 'asc';
  const rows = await db
    .select()
    .from(events)
    .where(
      and(
        eq(events.tenantId, tenantId),
        q.types ? inArray(events.type, [...q.types]) : undefined,
        q.resourceType ? eq(events.resourceType, q.resourceType) : undefined,
        q.resourceId ? eq(events.resourceId, q.resourceId) : undefined,
        q.afterPosition === undefined ? undefined : ascending ? gt(events.position, q.afterPosition) : lt(events.position, q.afterPosition),
      ),
    )
    .orderBy(ascending ? asc(events.position) : desc(events.position))
    .limit(q.limit + 1);
  return { rows: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

/**
 * Deletes events created more than `days` days ago (their deliveries and attempts go with them), in
 * batches so one sweep never holds a long lock; resolves with the number deleted. The per-resource
 * counters stay: a resource's next event continues its sequence rather than starting again at 1.
 */
export async function deleteEventsOlderThan(
  db: Db,
  days: number,
  opts: { batchSize?: number; onBatch?: (deletedSoFar: number) => void } = {},
): Promise<number> {
  if (!Number.isFinite(days) || days <= 0) throw new RangeError(`retention must be a positive number of days, got ${days}`);
  const batchSize = opts.batchSize ?? 5_000;
  let deleted = 0;
  for (;;) {
    const removed = rowsOf<{ id: string }>(
      await db.execute(sql`
        delete from events where id in (
          select id from events where created_at < now() - make_interval(secs => ${days * 86_400})
          order by created_at limit ${batchSize}
        )
        returning id`),
    ).length;
    deleted += removed;
    opts.onBatch?.(deleted);
    if (removed < batchSize) return deleted;
  }
}
