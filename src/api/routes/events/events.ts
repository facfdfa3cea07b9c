/** GET /v1/events and GET /v1/events/:id: the tenant's events of the retention period. */
import { z } from 'zod';
import { EVENT_RESOURCE_TYPES, patternProblem, typesMatching } from '../../../domain/events/event-types.js';
import { eventBody, findEvent, listEvents } from '../../../stores/events/event-store.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { ApiError } from '../../errors.js';
import { pageCursor, pageOut } from '../../common-schemas.js';
import { eventOut } from './event-payloads.js';

const ORDERS = ['desc', 'asc'] as const;
type Order = (typeof ORDERS)[number];

const typeFilter = z
  .string()
  .max(2000)
  .transform((value, ctx) => {
    const patterns = value.split(',').map((p) => p.trim());
    for (const pattern of patterns) {
      const problem = patternProblem(pattern);
      if (problem) ctx.addIssue({ code: 'custom', message: `event type pattern ${problem}` });
    }
    return patterns;
  })
  .meta({ description: 'Event types or patterns, comma-separated: `payment.succeeded`, `payment.*,refund.*`, `*`' });

const listQuery = z.strictObject({
  type: typeFilter.optional(),
  resourceType: z.enum(EVENT_RESOURCE_TYPES).optional(),
  resourceId: z.string().min(1).max(255).optional().meta({ description: "Only this resource's events (with resourceType, one resource; ids are prefixed by kind, ERP records by natural key)" }),
  order: z.enum(ORDERS).default('desc').meta({ description: '`desc`: newest first; `asc`: oldest first (to catch up from a cursor)' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: pageCursor.optional(),
});
const idParams = z.object({ id: z.string().min(1).max(64) });

const eventPageOut = pageOut(eventOut);

/** A cursor is the order it was made for and the position of the page's last event. */
function encodeCursor(order: Order, position: number): string {
  return Buffer.from(`${order}:${position}`).toString('base64url');
}

function decodeCursor(cursor: string, order: Order): number {
  const m = /^(desc|asc):([1-9][0-9]{0,17})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new ApiError(400, 'validation_failed', 'cursor is not valid', [{ path: 'query.cursor', message: 'use nextCursor from a previous page' }]);
  if (m[1] !== order) {
    throw new ApiError(400, 'validation_failed', `cursor was made for order=${m[1]}`, [{ path: 'query.cursor', message: `send order=${m[1]} with this cursor, or start again without one` }]);
  }
  return Number(m[2]);
}

export function eventsRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  return r
    .endpoint(
      'get',
      '/v1/events',
      {
        operationId: 'listEvents',
        summary: "List the tenant's events (kept EVENTS_RETENTION_DAYS, 30 by default)",
        description:
          'Newest first unless `order=asc`. Filter by type (patterns allowed) and by resource. Every page says whether another follows (`hasMore`) and how to fetch it (`nextCursor`); nothing is cut off silently. Within one resource, `sequence` gives the order of its events.',
        query: listQuery,
        responses: { 200: { description: 'A page', schema: eventPageOut } },
      },
      async ({ query, tenant, res }) => {
        const { rows, hasMore } = await listEvents(db, tenant.id, {
          ...(query.type ? { types: typesMatching(query.type) } : {}),
          ...(query.resourceType ? { resourceType: query.resourceType } : {}),
          ...(query.resourceId ? { resourceId: query.resourceId } : {}),
          ...(query.cursor ? { afterPosition: decodeCursor(query.cursor, query.order) } : {}),
          order: query.order,
          limit: query.limit,
        });
        const last = rows[rows.length - 1];
        res.json({ data: rows.map((row) => eventBody(row)), hasMore, nextCursor: hasMore && last ? encodeCursor(query.order, last.position) : null });
      },
    )
    .endpoint(
      'get',
      '/v1/events/:id',
      { operationId: 'getEvent', summary: 'Get an event', params: idParams, responses: { 200: { description: 'The event', schema: eventOut } } },
      async ({ params, tenant, res }) => {
        const row = await findEvent(db, tenant.id, params.id);
        if (!row) throw ApiError.notFound('event', params.id);
        res.json(eventBody(row));
      },
    );
}
