/**
 * Webhook deliveries as the merchant sees them, and recovery: every attempt of an endpoint's or an
 * event's deliveries (time, status, duration, the first bytes of the answer), redelivering one event,
 * and replaying everything an endpoint missed since a time.
 */
import { z } from 'zod';
import { findEvent } from '../../../stores/events/event-store.js';
import { listDeliveries, REPLAY_PAGE, redeliverEvent, replayToEndpoint, settleWebhookDelivery, WebhookEndpointDisabledError, type DeliveryWithAttempts } from '../../../stores/events/webhook-delivery-store.js';
import { type DeliveryToSignal } from '../../../shared/event-messages.js';
import { findWebhookEndpoint, WebhookEndpointNotFoundError } from '../../../stores/events/webhook-endpoint-store.js';
import { signalWebhookDeliveries } from '../../../temporal/events/signal-webhook-delivery.js';
import { decodeTimeCursor, encodeTimeCursor, pageCursor, pageOut } from '../../common-schemas.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { ApiError } from '../../errors.js';

const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'canceled'] as const;

const idParams = z.object({ id: z.string().min(1).max(100) });
const listQuery = z.strictObject({
  status: z.enum(DELIVERY_STATUSES).optional().meta({ description: 'Only deliveries in this state, e.g. `failed` after an outage' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: pageCursor.optional(),
});

const attemptOut = z.object({
  attemptedAt: z.string(),
  statusCode: z.number().int().nullable().meta({ description: 'The HTTP status; null when no answer came (timeout, refused connection, blocked destination)' }),
  durationMs: z.number().int(),
  error: z.string().nullable().meta({ description: 'Why no answer came, e.g. `timeout: no answer within 10000 ms`, `connection failed: ECONNREFUSED`' }),
  responseHead: z.string().nullable().meta({ description: 'The first 1 KiB of the answer body, as text' }),
});

const deliveryOut = z
  .object({
    id: z.string(),
    object: z.literal('webhook_delivery'),
    endpointId: z.string(),
    eventId: z.string().meta({ description: 'Also the `webhook-id` header of every attempt' }),
    eventType: z.string(),
    status: z.enum(DELIVERY_STATUSES).meta({
      description:
        '`pending` while being sent or retried; `delivered` (a 2xx); `failed` (the retry window ended, the endpoint answered 410, or it was disabled for failing); `canceled` (the endpoint was disabled before it was sent)',
    }),
    attemptCount: z.number().int(),
    attempts: z.array(attemptOut).meta({ description: 'Every attempt, oldest first' }),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .meta({
    id: 'WebhookDelivery',
    examples: [
      {
        id: 'wdl_8k2m6q9x1v3t7p5r0w4n',
        object: 'webhook_delivery',
        endpointId: 'we_3kq9x7m2v8t4n6p0r5wz',
        eventId: 'evt_5r0w4n8k2m6q9x1v3t7p',
        eventType: 'payment.succeeded',
        status: 'delivered',
        attemptCount: 2,
        attempts: [
          { attemptedAt: '2026-12-07T10:15:30.120Z', statusCode: 503, durationMs: 41, error: null, responseHead: 'upstream unavailable' },
          { attemptedAt: '2026-12-07T10:15:35.180Z', statusCode: 200, durationMs: 12, error: null, responseHead: '{"ok":true}' },
        ],
        createdAt: '2026-12-07T10:15:30.101Z',
        finishedAt: '2026-12-07T10:15:35.195Z',
      },
    ],
  });
const deliveryPageOut = pageOut(deliveryOut);

const redeliverBody = z
  .strictObject({
    endpointId: z.string().min(1).max(100).optional().meta({
      description: "Only to this endpoint (whatever its event types say). Default: every enabled endpoint whose event types match the event's",
    }),
  })
  .meta({ examples: [{ endpointId: 'we_3kq9x7m2v8t4n6p0r5wz' }] });

const replayBody = z
  .strictObject({
    since: z.iso.datetime({ offset: true }).meta({ description: 'Replay events created at or after this time (ISO 8601)' }),
    cursor: z
      .string()
      .regex(/^\d{1,18}$/, 'use nextCursor from the previous replay answer')
      .optional()
      .meta({ description: `nextCursor of the previous answer: a replay re-sends at most ${REPLAY_PAGE} events per call` }),
  })
  .meta({ examples: [{ since: '2026-12-07T08:00:00Z' }] });

const redeliveredOut = z.object({ data: z.array(deliveryOut) });
const replayOut = z.object({
  replayed: z.number().int().meta({ description: 'Deliveries made: the events of this call that the endpoint subscribes to' }),
  nextCursor: z.string().nullable().meta({ description: 'More events follow: call again with the same since and this cursor' }),
});

type DeliveryOut = z.infer<typeof deliveryOut>;

function toDeliveryOut(d: DeliveryWithAttempts): DeliveryOut {
  return {
    id: d.id,
    object: 'webhook_delivery',
    endpointId: d.endpointId,
    eventId: d.eventId,
    eventType: d.eventType,
    status: d.status,
    attemptCount: d.attempts,
    attempts: d.attemptLog.map((a) => ({
      attemptedAt: a.attemptedAt.toISOString(),
      statusCode: a.statusCode,
      durationMs: a.durationMs,
      error: a.error,
      responseHead: a.responseHead,
    })),
    createdAt: d.createdAt.toISOString(),
    finishedAt: d.finishedAt?.toISOString() ?? null,
  };
}

/** The delivery store's refusals as HTTP answers. */
function refusal(err: unknown): never {
  if (err instanceof WebhookEndpointNotFoundError) throw ApiError.notFound('webhook endpoint', err.endpointId);
  if (err instanceof WebhookEndpointDisabledError) throw new ApiError(409, 'conflict', err.message);
  throw err;
}

/** Deliveries just made, as the list shows them (no attempts yet). */
function madeNow(deliveries: DeliveryToSignal[], at: Date): DeliveryOut[] {
  return deliveries.map((d) => ({
    id: d.deliveryId,
    object: 'webhook_delivery',
    endpointId: d.endpointId,
    eventId: d.eventId,
    eventType: d.eventType,
    status: 'pending',
    attemptCount: 0,
    attempts: [],
    createdAt: at.toISOString(),
    finishedAt: null,
  }));
}

export function webhookDeliveriesRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;

  /** Hands new deliveries to their workflows; if Temporal cannot take them, they are canceled (nothing left half-made). */
  async function send(deliveries: DeliveryToSignal[]): Promise<void> {
    try {
      await signalWebhookDeliveries(deps.temporal, deps.taskQueues.events, deliveries);
    } catch (err) {
      await Promise.all(deliveries.map((d) => settleWebhookDelivery(db, d.deliveryId, 'canceled')));
      throw err;
    }
  }

  async function page(q: { tenantId: string; endpointId?: string; eventId?: string } & z.infer<typeof listQuery>) {
    const after = q.cursor ? decodeTimeCursor(q.cursor) : undefined;
    const { data, hasMore } = await listDeliveries(db, {
      tenantId: q.tenantId,
      ...(q.endpointId ? { endpointId: q.endpointId } : {}),
      ...(q.eventId ? { eventId: q.eventId } : {}),
      ...(q.status ? { status: q.status } : {}),
      ...(after ? { after } : {}),
      limit: q.limit,
    });
    const last = data[data.length - 1];
    return { data: data.map(toDeliveryOut), hasMore, nextCursor: hasMore && last ? encodeTimeCursor(last.createdAt, last.id) : null };
  }

  return r
    .endpoint(
      'get',
      '/v1/webhook-endpoints/:id/deliveries',
      {
        operationId: 'listWebhookEndpointDeliveries',
        summary: "List an endpoint's deliveries, newest first, each with every attempt",
        params: idParams,
        query: listQuery,
        responses: { 200: { description: 'One page; pass nextCursor as cursor for the next', schema: deliveryPageOut } },
      },
      async ({ params, query, tenant, res }) => {
        if (!(await findWebhookEndpoint(db, tenant.id, params.id))) throw ApiError.notFound('webhook endpoint', params.id);
        res.json(await page({ tenantId: tenant.id, endpointId: params.id, ...query }));
      },
    )
    .endpoint(
      'get',
      '/v1/events/:id/deliveries',
      {
        operationId: 'listEventDeliveries',
        summary: "List an event's deliveries (one per endpoint, and each redelivery), each with every attempt",
        params: idParams,
        query: listQuery,
        responses: { 200: { description: 'One page; pass nextCursor as cursor for the next', schema: deliveryPageOut } },
      },
      async ({ params, query, tenant, res }) => {
        if (!(await findEvent(db, tenant.id, params.id))) throw ApiError.notFound('event', params.id);
        res.json(await page({ tenantId: tenant.id, eventId: params.id, ...query }));
      },
    )
    .endpoint(
      'post',
      '/v1/events/:id/redeliver',
      {
        operationId: 'redeliverEvent',
        summary: 'Send an event again',
        description:
          'Makes a new delivery (with attempts and retries of its own) to the given endpoint, or to every enabled endpoint subscribed to the event. ' +
          "It goes after the deliveries of the same resource that are already in flight to that endpoint, and carries the event's id as `webhook-id`, so a receiver that has the event already can tell.",
        params: idParams,
        body: redeliverBody,
        responses: {
          202: { description: 'The new deliveries (empty when no enabled endpoint wants the event)', schema: redeliveredOut },
          409: { description: 'conflict: the endpoint is disabled' },
        },
      },
      async ({ params, body, tenant, res }) => {
        const event = await findEvent(db, tenant.id, params.id);
        if (!event) throw ApiError.notFound('event', params.id);
        const made = await redeliverEvent(db, event, body.endpointId).catch(refusal);
        await send(made);
        res.status(202).json({ data: madeNow(made, new Date()) });
      },
    )
    .endpoint(
      'post',
      '/v1/webhook-endpoints/:id/replay',
      {
        operationId: 'replayWebhookEndpoint',
        summary: 'Send an endpoint every event it subscribes to since a time, in order (recovery after an outage)',
        description:
          `New deliveries of every event created since \`since\` whose type the endpoint subscribes to, oldest first and in order per resource; at most ${REPLAY_PAGE} events per call, ` +
          'continue with `nextCursor`. Receivers drop what they already have by `webhook-id` (the event id).',
        params: idParams,
        body: replayBody,
        responses: {
          202: { description: 'Deliveries made', schema: replayOut },
          409: { description: 'conflict: the endpoint is disabled' },
        },
      },
      async ({ params, body, tenant, res }) => {
        const since = new Date(body.since);
        if (since.getTime() > Date.now()) {
          throw new ApiError(400, 'validation_failed', 'since is in the future', [{ path: 'body.since', message: 'must not be in the future' }]);
        }
        const replay = await replayToEndpoint(db, {
          tenantId: tenant.id,
          endpointId: params.id,
          since,
          ...(body.cursor ? { afterPosition: Number(body.cursor) } : {}),
        }).catch(refusal);
        await send(replay.deliveries);
        res.status(202).json({ replayed: replay.replayed, nextCursor: replay.nextPosition === null ? null : String(replay.nextPosition) });
      },
    );
}
