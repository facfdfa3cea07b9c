/**
 * Webhook deliveries: the rows the relay fans an event out to (one per matching endpoint), every
 * attempt with what the endpoint answered, what an answer does to the endpoint (a success clears its
 * failing clock, 410 or failing too long disables it and cancels what it was still owed), and the
 * recovery paths (redeliver one event, replay an endpoint since a time).
 */
import { and, asc, desc, eq, gte, inArray, lt, or, sql } from 'drizzle-orm';
import { rowsOf, type Db } from '../../db/client.js';
import { newId } from '../../db/ids.js';
import { events, webhookDeliveries, webhookDeliveryAttempts, webhookEndpoints } from '../../db/schema.js';
import { matchesAny } from '../../domain/events/event-types.js';
import { attemptVerdict, failingTooLong } from '../../domain/events/webhook-delivery-rules.js';
import type { DeliveryToSignal } from '../../shared/event-messages.js';
import type { EventRow } from './event-store.js';
import {
  disableWebhookEndpoint,
  findWebhookEndpoint,
  WebhookEndpointNotFoundError,
  type WebhookEndpointRow as EndpointRow,
} from './webhook-endpoint-store.js';

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookAttemptRow = typeof webhookDeliveryAttempts.$inferSelect;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

// ---------------------------------------------------------------------------------------------
// Fan-out (the relay)
// ---------------------------------------------------------------------------------------------

/** What one fan-out pass claimed: the events it may mark fanned out once their deliveries are signalled. */
export interface FanOutBatch {
  eventIds: string[];
  deliveries: DeliveryToSignal[];
  /** Events left for a later pass: an earlier event of their resource was still being fanned out. */
  deferred: number;
}

/**
 * Claims up to `limit` events not fanned out yet, oldest first, and makes sure each has a delivery
 * row for every enabled endpoint of its tenant whose patterns match. Rows already there (a pass that
 * crashed before marking its events) are kept, so a repeat signals the same delivery ids.
 *
 * Two relays split the work (FOR UPDATE SKIP LOCKED), which must not reorder a resource's events: an
 * event is claimed only if the one before it (sequence - 1) is fanned out, gone, or claimed in this
 * same pass ahead of it. So a resource's event N+1 is signalled only after event N's signal went out.
 */
export async function claimEventsToFanOut(db: Db, limit: number): Promise<FanOutBatch> {
  return db.transaction(async (tx) => {
    const claimed = rowsOf<{
      id: string;
      tenant_id: string;
      type: string;
      resource_type: string;
      resource_id: string;
      sequence: string | number;
      blocked: boolean;
    }>(
      await tx.execute(sql`
        with claimed as (
          select id, tenant_id, type, resource_type, resource_id, sequence, position from events
          where fanned_out_at is null
          order by position
          limit ${limit}
          for update skip locked
        )
        select c.id, c.tenant_id, c.type, c.resource_type, c.resource_id, c.sequence,
          exists (
            select 1 from events p
            where p.tenant_id = c.tenant_id and p.resource_type = c.resource_type and p.resource_id = c.resource_id
              and p.sequence = c.sequence - 1 and p.fanned_out_at is null
              and p.id not in (select id from claimed)
          ) as blocked
        from claimed c
        order by c.position`),
    );
    if (claimed.length === 0) return { eventIds: [], deliveries: [], deferred: 0 };

    // In position order a resource's events come in sequence order: one whose predecessor is held
    // elsewhere (or deferred here) is deferred too.
    const key = (tenant: string, type: string, id: string, seq: number) => `${tenant}\0${type}\0${id}\0${seq}`;
    const inPass = new Map<string, boolean>();
    const eligible: typeof claimed = [];
    for (const e of claimed) {
      const seq = Number(e.sequence);
      const before = inPass.get(key(e.tenant_id, e.resource_type, e.resource_id, seq - 1));
      const ok = !e.blocked && before !== false;
      inPass.set(key(e.tenant_id, e.resource_type, e.resource_id, seq), ok);
      if (ok) eligible.push(e);
    }
    if (eligible.length === 0) return { eventIds: [], deliveries: [], deferred: claimed.length };

    const tenantIds = [...new Set(eligible.map((e) => e.tenant_id))];
    const endpoints = await tx
      .select({ id: webhookEndpoints.id, tenantId: webhookEndpoints.tenantId, eventTypes: webhookEndpoints.eventTypes })
      .from(webhookEndpoints)
      .where(and(inArray(webhookEndpoints.tenantId, tenantIds), eq(webhookEndpoints.enabled, true)));
    const wanted = eligible.flatMap((e) =>
      endpoints.filter((ep) => ep.tenantId === e.tenant_id && matchesAny(ep.eventTypes, e.type)).map((ep) => ({ event: e, endpointId: ep.id })),
    );
    if (wanted.length > 0) {
      const values = sql.join(
        wanted.map((w) => sql`(${newId('wdl')}, ${w.event.tenant_id}, ${w.endpointId}, ${w.event.id})`),
        sql`, `,
      );
      await tx.execute(sql`
        insert into webhook_deliveries (id, tenant_id, endpoint_id, event_id)
        select v.id, v.tenant_id, v.endpoint_id, v.event_id from (values ${values}) as v(id, tenant_id, endpoint_id, event_id)
        where not exists (select 1 from webhook_deliveries d where d.event_id = v.event_id and d.endpoint_id = v.endpoint_id)`);
    }
    const eventIds = eligible.map((e) => e.id);
    const deliveries = await pendingDeliveriesOf(tx, eventIds);
    return { eventIds, deliveries, deferred: claimed.length - eligible.length };
  });
}

/** The pending deliveries of these events, with what their workflows are keyed and ordered by. */
async function pendingDeliveriesOf(tx: Tx | Db, eventIds: string[], endpointId?: string): Promise<DeliveryToSignal[]> {
  if (eventIds.length === 0) return [];
  return tx
    .select({
      deliveryId: webhookDeliveries.id,
      tenantId: webhookDeliveries.tenantId,
      endpointId: webhookDeliveries.endpointId,
      eventId: webhookDeliveries.eventId,
      resourceType: events.resourceType,
      resourceId: events.resourceId,
      sequence: events.sequence,
      eventType: events.type,
    })
    .from(webhookDeliveries)
    .innerJoin(events, eq(events.id, webhookDeliveries.eventId))
    .where(
      and(
        inArray(webhookDeliveries.eventId, eventIds),
        eq(webhookDeliveries.status, 'pending'),
        endpointId ? eq(webhookDeliveries.endpointId, endpointId) : undefined,
      ),
    )
    .orderBy(asc(events.position), asc(webhookDeliveries.id));
}

/** Marks events fanned out (after their deliveries were signalled). */
export async function markFannedOut(db: Db, eventIds: string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await db.update(events).set({ fannedOutAt: new Date() }).where(inArray(events.id, eventIds));
}

// ---------------------------------------------------------------------------------------------
// Sending (the delivery activity)
// ---------------------------------------------------------------------------------------------

/** A delivery with its event and endpoint, as the activity sends it. */
export interface DeliveryToSend {
  delivery: WebhookDeliveryRow;
  event: EventRow;
  endpoint: EndpointRow;
}

export async function findDeliveryToSend(db: Db, deliveryId: string): Promise<DeliveryToSend | undefined> {
  const [row] = await db
    .select({ delivery: webhookDeliveries, event: events, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(events, eq(events.id, webhookDeliveries.eventId))
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, deliveryId));
  return row;
}

/** One HTTP attempt of a delivery, as it went. */
export interface AttemptRecord {
  deliveryId: string;
  endpointId: string;
  attemptedAt: Date;
  /** Null when no answer came (timeout, refused connection, blocked destination). */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseHead: string | null;
}

/**
 * What an attempt did: `delivered` (2xx); `retry` (try again later); `gone` (410: the endpoint is now
 * disabled); `disabled` (the endpoint had failed for too long and is now disabled); `finished` (the
 * delivery was settled meanwhile, e.g. canceled when another delivery disabled the endpoint).
 */
export type AttemptResult =
  | { result: 'delivered' }
  | { result: 'retry'; failingSince: Date }
  | { result: 'gone' }
  | { result: 'disabled'; failingSince: Date }
  | { result: 'finished'; status: WebhookDeliveryRow['status'] };

export interface AttemptRules {
  /** WEBHOOK_DISABLE_AFTER_HOURS in ms: how long an endpoint may fail before it is disabled. */
  disableAfterMs: number;
  now?: () => Date;
}

/**
 * Records an attempt and its consequences in one transaction: the attempt row, the delivery's count
 * and status, and the endpoint's failing clock. A 410, or a failure while the endpoint has failed
 * for `disableAfterMs`, disables the endpoint, cancels every other delivery it was still owed and
 * records a `webhook_endpoint.disabled` event (delivered to the tenant's other endpoints). The
 * endpoint row is locked first, so the attempts of its many delivery workflows disable it once.
 */
export async function recordWebhookAttempt(db: Db, attempt: AttemptRecord, rules: AttemptRules): Promise<AttemptResult> {
  const now = rules.now?.() ?? new Date();
  return db.transaction(async (tx) => {
    // The endpoint first, then the delivery: the order a disable locks them in.
    const [endpoint] = await tx.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, attempt.endpointId)).for('update');
    const [locked] = await tx.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, attempt.deliveryId)).for('update');
    if (!endpoint || !locked) return { result: 'finished', status: 'canceled' };
    await tx.insert(webhookDeliveryAttempts).values({
      deliveryId: locked.id,
      tenantId: locked.tenantId,
      endpointId: locked.endpointId,
      eventId: locked.eventId,
      attemptedAt: attempt.attemptedAt,
      statusCode: attempt.statusCode,
      error: attempt.error,
      durationMs: attempt.durationMs,
      responseHead: attempt.responseHead,
    });
    const verdict = attemptVerdict(attempt.statusCode);
    const settle = async (status: 'delivered' | 'failed') =>
      tx
        .update(webhookDeliveries)
        .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, status, finishedAt: now })
        .where(eq(webhookDeliveries.id, locked.id));
    if (locked.status !== 'pending') {
      // Settled meanwhile (canceled by a disable, delivered by a duplicate attempt): count the attempt only.
      await tx.update(webhookDeliveries).set({ attempts: sql`${webhookDeliveries.attempts} + 1` }).where(eq(webhookDeliveries.id, locked.id));
      return { result: 'finished', status: locked.status };
    }
    if (verdict === 'delivered') {
      await settle('delivered');
      if (endpoint.failingSince) await tx.update(webhookEndpoints).set({ failingSince: null }).where(eq(webhookEndpoints.id, endpoint.id));
      return { result: 'delivered' };
    }
    if (verdict === 'gone') {
      await settle('failed');
      if (endpoint.enabled) await disableEndpoint(tx, endpoint, 'gone', now);
      return { result: 'gone' };
    }
    const failingSince = endpoint.failingSince ?? attempt.attemptedAt;
    if (!endpoint.failingSince) await tx.update(webhookEndpoints).set({ failingSince }).where(eq(webhookEndpoints.id, endpoint.id));
    if (endpoint.enabled && failingTooLong(failingSince, now, rules.disableAfterMs)) {
      await settle('failed');
      await disableEndpoint(tx, endpoint, 'failing', now);
      return { result: 'disabled', failingSince };
    }
    await tx.update(webhookDeliveries).set({ attempts: sql`${webhookDeliveries.attempts} + 1` }).where(eq(webhookDeliveries.id, locked.id));
    return { result: 'retry', failingSince };
  });
}

/** Disables an endpoint (recording `webhook_endpoint.disabled`) and cancels what it is still owed. */
async function disableEndpoint(tx: Tx, endpoint: EndpointRow, reason: 'gone' | 'failing', now: Date): Promise<void> {
  if (await disableWebhookEndpoint(tx, endpoint, reason, now)) await cancelPendingDeliveries(tx, endpoint.id, now);
}

/** Cancels every delivery an endpoint is still owed (it was disabled or deleted). */
export async function cancelPendingDeliveries(tx: Tx | Db, endpointId: string, now = new Date()): Promise<number> {
  const canceled = await tx
    .update(webhookDeliveries)
    .set({ status: 'canceled', finishedAt: now })
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'pending')))
    .returning({ id: webhookDeliveries.id });
  return canceled.length;
}

/** Settles a pending delivery without an attempt: `canceled` (endpoint disabled) or `failed` (retry window over). */
export async function settleWebhookDelivery(db: Db, deliveryId: string, status: 'canceled' | 'failed'): Promise<boolean> {
  const settled = await db
    .update(webhookDeliveries)
    .set({ status, finishedAt: new Date() })
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, 'pending')))
    .returning({ id: webhookDeliveries.id });
  return settled.length > 0;
}

// ---------------------------------------------------------------------------------------------
// Reading (the API)
// ---------------------------------------------------------------------------------------------

/** A delivery with every attempt, oldest attempt first. */
export interface DeliveryWithAttempts extends WebhookDeliveryRow {
  eventType: string;
  attemptLog: WebhookAttemptRow[];
}

async function withAttempts(db: Db, rows: (WebhookDeliveryRow & { eventType: string })[]): Promise<DeliveryWithAttempts[]> {
  if (rows.length === 0) return [];
  const attempts = await db
    .select()
    .from(webhookDeliveryAttempts)
    .where(inArray(webhookDeliveryAttempts.deliveryId, rows.map((r) => r.id)))
    .orderBy(asc(webhookDeliveryAttempts.id));
  const byDelivery = new Map<string, WebhookAttemptRow[]>();
  for (const a of attempts) byDelivery.set(a.deliveryId, [...(byDelivery.get(a.deliveryId) ?? []), a]);
  return rows.map((r) => ({ ...r, attemptLog: byDelivery.get(r.id) ?? [] }));
}

export interface DeliveryPage {
  data: DeliveryWithAttempts[];
  hasMore: boolean;
}

/**
 * One page of deliveries, newest first, each with its attempts. `after` is the (created_at, id) of
 * the last delivery of the previous page; `status` filters (e.g. `failed` after an outage).
 */
export async function listDeliveries(
  db: Db,
  q: {
    tenantId: string;
    endpointId?: string;
    eventId?: string;
    status?: WebhookDeliveryRow['status'];
    after?: { at: Date; id: string };
    limit: number;
  },
): Promise<DeliveryPage> {
  const d = webhookDeliveries;
  // Postgres keeps microseconds, a cursor milliseconds: page on the truncated time so a page never repeats.
  const createdAt = sql`date_trunc('milliseconds', ${d.createdAt})`;
  const rows = await db
    .select({ ...deliveryColumns(), eventType: events.type })
    .from(d)
    .innerJoin(events, eq(events.id, d.eventId))
    .where(
      and(
        eq(d.tenantId, q.tenantId),
        q.endpointId ? eq(d.endpointId, q.endpointId) : undefined,
        q.eventId ? eq(d.eventId, q.eventId) : undefined,
        q.status ? eq(d.status, q.status) : undefined,
        q.after ? or(lt(createdAt, sql`${q.after.at.toISOString()}::timestamptz`), and(eq(createdAt, sql`${q.after.at.toISOString()}::timestamptz`), lt(d.id, q.after.id))) : undefined,
      ),
    )
    .orderBy(desc(createdAt), desc(d.id))
    .limit(q.limit + 1);
  return { data: await withAttempts(db, rows.slice(0, q.limit)), hasMore: rows.length > q.limit };
}

function deliveryColumns() {
  const d = webhookDeliveries;
  return {
    id: d.id,
    tenantId: d.tenantId,
    endpointId: d.endpointId,
    eventId: d.eventId,
    status: d.status,
    attempts: d.attempts,
    createdAt: d.createdAt,
    finishedAt: d.finishedAt,
  };
}

// ---------------------------------------------------------------------------------------------
// Recovery (the API)
// ---------------------------------------------------------------------------------------------

/** The endpoint is disabled: nothing can be sent to it until it is enabled again. */
export class WebhookEndpointDisabledError extends Error {
  override readonly name = 'WebhookEndpointDisabledError';
  constructor(readonly endpointId: string) {
    super(`webhook endpoint ${endpointId} is disabled; enable it (PATCH /v1/webhook-endpoints/${endpointId} {"enabled": true}) first`);
  }
}

async function enabledEndpoint(db: Db, tenantId: string, endpointId: string): Promise<EndpointRow> {
  const endpoint = await findWebhookEndpoint(db, tenantId, endpointId);
  if (!endpoint) throw new WebhookEndpointNotFoundError(endpointId);
  if (!endpoint.enabled) throw new WebhookEndpointDisabledError(endpointId);
  return endpoint;
}

/**
 * New deliveries of one event: to `endpointId` (any enabled endpoint of the tenant, whatever its
 * patterns say: the tenant asked for it), else to every enabled endpoint whose patterns match. Each
 * is a new row with attempts of its own; the body carries the event's id, so a receiver that
 * already has it can tell.
 */
export async function redeliverEvent(db: Db, event: EventRow, endpointId?: string): Promise<DeliveryToSignal[]> {
  const targets = endpointId
    ? [await enabledEndpoint(db, event.tenantId, endpointId)]
    : (
        await db
          .select()
          .from(webhookEndpoints)
          .where(and(eq(webhookEndpoints.tenantId, event.tenantId), eq(webhookEndpoints.enabled, true)))
      ).filter((ep) => matchesAny(ep.eventTypes, event.type));
  if (targets.length === 0) return [];
  const rows = await db
    .insert(webhookDeliveries)
    .values(targets.map((ep) => ({ id: newId('wdl'), tenantId: event.tenantId, endpointId: ep.id, eventId: event.id })))
    .returning();
  return rows.map((r) => ({
    deliveryId: r.id,
    tenantId: r.tenantId,
    endpointId: r.endpointId,
    eventId: r.eventId,
    resourceType: event.resourceType,
    resourceId: event.resourceId,
    sequence: event.sequence,
    eventType: event.type,
  }));
}

/** Most events one replay call re-sends; the answer's cursor continues from there. */
export const REPLAY_PAGE = 1_000;

export interface ReplayPage {
  deliveries: DeliveryToSignal[];
  /** Deliveries made (the events of the page that the endpoint's patterns match). */
  replayed: number;
  /** The position to continue after, when more events follow. */
  nextPosition: number | null;
}

/**
 * New deliveries to one endpoint of every event of its tenant created at or after `since` that its
 * patterns match, oldest first, at most REPLAY_PAGE events per call (`afterPosition` continues).
 */
export async function replayToEndpoint(
  db: Db,
  q: { tenantId: string; endpointId: string; since: Date; afterPosition?: number },
): Promise<ReplayPage> {
  const endpoint = await enabledEndpoint(db, q.tenantId, q.endpointId);
  const page = await db
    .select()
    .from(events)
    .where(
      and(
        eq(events.tenantId, q.tenantId),
        gte(events.createdAt, q.since),
        q.afterPosition === undefined ? undefined : sql`${events.position} > ${q.afterPosition}`,
      ),
    )
    .orderBy(asc(events.position))
    .limit(REPLAY_PAGE + 1);
  const more = page.length > REPLAY_PAGE;
  const looked = page.slice(0, REPLAY_PAGE);
  const matching = looked.filter((e) => matchesAny(endpoint.eventTypes, e.type));
  const rows =
    matching.length === 0
      ? []
      : await db
          .insert(webhookDeliveries)
          .values(matching.map((e) => ({ id: newId('wdl'), tenantId: q.tenantId, endpointId: endpoint.id, eventId: e.id })))
          .returning();
  const eventOf = new Map(matching.map((e) => [e.id, e]));
  return {
    deliveries: rows.map((r) => {
      const e = eventOf.get(r.eventId)!;
      return {
        deliveryId: r.id,
        tenantId: r.tenantId,
        endpointId: r.endpointId,
        eventId: r.eventId,
        resourceType: e.resourceType,
        resourceId: e.resourceId,
        sequence: e.sequence,
        eventType: e.type,
      };
    }),
    replayed: rows.length,
    nextPosition: more ? looked[looked.length - 1]!.position : null,
  };
}
