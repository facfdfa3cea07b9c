import { z } from 'zod';
import { listAuditEvents } from '../../stores/platform/audit-event-store.js';
import type { AppDeps } from '../deps.js';
import type { ResourceRouter } from '../endpoint.js';
import { pageOut } from '../common-schemas.js';

const cursor = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'a nextCursor value from a previous page')
  .meta({ description: 'The `nextCursor` of the previous page' });
const listQuery = z.strictObject({
  resourceType: z.enum(['tenant', 'api_key', 'connection', 'provider', 'routing_rules']).optional(),
  resourceId: z.string().min(1).max(200).optional(),
  since: z.iso.datetime({ offset: true }).optional().meta({ description: 'Only entries at or after this instant (ISO 8601)' }),
  cursor: cursor.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const auditEventOut = z.object({
  id: z.string(),
  object: z.literal('audit_event'),
  actor: z.object({ type: z.enum(['api_key', 'admin']), id: z.string().nullable() }),
  action: z.string(),
  resourceType: z.string(),
  resourceId: z.string(),
  changes: z.object({
    before: z.unknown().optional(),
    after: z.unknown().optional(),
    fields: z.array(z.string()).optional().meta({ description: 'Top-level fields that differ between before and after' }),
  }),
  createdAt: z.string(),
}).meta({
  id: 'AuditEvent',
  examples: [
    {
      id: 'aud_8k3m6q2x9v1t4n7p5r0w',
      object: 'audit_event',
      actor: { type: 'api_key', id: 'key_4n8k2m6q9x1v3t7p5r0w' },
      action: 'connection.updated',
      resourceType: 'connection',
      resourceId: 'con_7m4k2x9q1v8t3n6p5r0w',
      changes: { before: { name: 'Stripe EU' }, after: { name: 'Stripe EU (live)' }, fields: ['name'] },
      createdAt: '2026-12-07T10:15:30.000Z',
    },
  ],
});
const auditPageOut = pageOut(auditEventOut);

export function auditEventsRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  return r.endpoint(
    'get',
    '/v1/audit-events',
    {
      operationId: 'listAuditEvents',
      summary: 'Who changed what and when: tenants, API keys, connections, providers, routing rules (newest first)',
      query: listQuery,
      responses: { 200: { description: 'One page; pass nextCursor as cursor for the next', schema: auditPageOut } },
    },
    async ({ query, tenant, res }) => {
      const { rows, more } = await listAuditEvents(deps.database.db, tenant.id, {
        ...(query.resourceType ? { resourceType: query.resourceType } : {}),
        ...(query.resourceId ? { resourceId: query.resourceId } : {}),
        ...(query.since ? { since: new Date(query.since) } : {}),
        ...(query.cursor ? { beforeSeq: Number(query.cursor) } : {}),
        limit: query.limit,
      });
      res.json({
        data: rows.map((row) => ({
          id: row.id,
          object: 'audit_event',
          actor: { type: row.actorType, id: row.actorId },
          action: row.action,
          resourceType: row.resourceType,
          resourceId: row.resourceId,
          changes: row.changes,
          createdAt: row.createdAt.toISOString(),
        })),
        hasMore: more,
        nextCursor: more ? String(rows[rows.length - 1]!.seq) : null,
      });
    },
  );
}
