/**
 * One stream feeding several entities: `streams.products.alsoFeeds: [prices, inventory]` reads the
 * endpoint once and maps each record with the products, prices and inventory mappings, all written
 * with the page's checkpoint in one transaction. The fed entities have no stream (and no schedule)
 * of their own: their runs are the feeding stream's runs.
 */
import { z } from 'zod';
import { ERP_ENTITIES, type ErpEntity } from '../../domain/erp/entities.js';

export const alsoFeedsSchema = z
  .array(z.enum(ERP_ENTITIES))
  .min(1)
  .refine((list) => new Set(list).size === list.length, 'an entity is listed twice')
  .optional()
  .meta({ description: 'Other entities mapped from the same records (one read of the endpoint); they have no stream of their own.' });

type Streams = Partial<Record<ErpEntity, { alsoFeeds?: ErpEntity[] | undefined } | undefined>>;

/** A fed entity has no stream of its own, is fed by one stream only, and a stream does not feed itself. */
export function checkSharedStreams(streams: Streams, ctx: z.RefinementCtx): void {
  const fedBy = new Map<ErpEntity, ErpEntity>();
  for (const entity of ERP_ENTITIES) {
    streams[entity]?.alsoFeeds?.forEach((fed, i) => {
      const path = [entity, 'alsoFeeds', i];
      if (fed === entity) ctx.addIssue({ code: 'custom', path, message: `the ${entity} stream feeds ${entity} already` });
      else if (streams[fed]) ctx.addIssue({ code: 'custom', path, message: `${fed} has a stream of its own; remove one of the two` });
      else if (fedBy.has(fed)) ctx.addIssue({ code: 'custom', path, message: `${fed} is fed by the ${fedBy.get(fed)} stream already` });
      else fedBy.set(fed, entity);
    });
  }
}

/** The entities a run of `entity`'s stream writes: the entity itself, then those it also feeds. */
export function entitiesOfStream(streams: Streams, entity: ErpEntity): ErpEntity[] {
  return [entity, ...(streams[entity]?.alsoFeeds ?? [])];
}
