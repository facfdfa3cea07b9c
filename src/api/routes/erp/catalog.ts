/** Read endpoints of the catalog ERPs feed: GET /v1/catalog/{products,prices,inventory,orders}, cursor-paged. */
import { z } from 'zod';
import { InvalidCursorError, listCatalog } from '../../../stores/erp/catalog-store.js';
import { ERP_ENTITIES } from '../../../domain/erp/entities.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { ApiError } from '../../errors.js';
import { pageCursor, pageOut } from '../../common-schemas.js';

const query = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: pageCursor.optional(),
});
/** The fields every catalog row has; the rest are the entity's own (sku, name, priceList, quantity, …). */
const catalogRow = z
  .object({
    integrationId: z.string().nullable().meta({ description: 'The integration that wrote the row last' }),
    sourceChangedAt: z
      .string()
      .nullable()
      .meta({ description: "The source's own change time of the version written (the stream's incremental cursorField, in UTC); null when the writer did not know it (no incremental cursor, a webhook, a replay)" }),
    updatedAt: z.string().meta({ description: 'When Switchyard last changed the row' }),
  })
  .catchall(z.unknown());
const catalogPageOut = pageOut(catalogRow)
  .meta({
    id: 'CatalogPage',
    description: 'Records as the ERP mappings produced them, with a cursor to the next page',
    examples: [
      {
        data: [
          {
            tenantId: 'ten_2v7k4m9q1x8t3n6p5r0w',
            sku: 'SKU-1042',
            name: 'Espresso cup, 90 ml',
            description: null,
            active: true,
            integrationId: 'int_6p2m9k4x7q1v8t3n5r0w',
            sourceChangedAt: '2026-12-07T10:14:02.000Z',
            updatedAt: '2026-12-07T10:15:30.000Z',
          },
        ],
        hasMore: true,
        nextCursor: 'WyJTS1UtMTA0MiJd',
      },
    ],
  });

export function catalogRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  for (const entity of ERP_ENTITIES) {
    r.endpoint(
      'get',
      `/v1/catalog/${entity}`,
      {
        operationId: `listCatalog${entity[0]!.toUpperCase()}${entity.slice(1)}`,
        summary: `The tenant's ${entity}, ordered by natural key`,
        query,
        responses: { 200: { description: 'One page', schema: catalogPageOut } },
      },
      async ({ query: q, tenant, res }) => {
        try {
          const page = await listCatalog(deps.database.db, entity, tenant.id, q.limit, q.cursor);
          res.json({ data: page.data, hasMore: page.nextCursor !== null, nextCursor: page.nextCursor });
        } catch (err) {
          if (err instanceof InvalidCursorError) throw new ApiError(400, 'validation_failed', err.message, [{ path: 'query.cursor', message: err.message }]);
          throw err;
        }
      },
    );
  }
  return r;
}
