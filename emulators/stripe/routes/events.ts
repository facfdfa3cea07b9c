import { Router } from 'express';
import { z } from 'zod';
import type { StripeEmulatorStore } from '../store.js';
import { resourceMissing } from '../stripe-errors.js';
import { inRange, listOf, listParams, rangeFilter, stripeRoute } from '../stripe-route.js';

export function eventsRouter(store: StripeEmulatorStore): Router {
  const router = Router();

  router.get(
    '/v1/events',
    stripeRoute(listParams.extend({ type: z.string().optional(), types: z.array(z.string()).optional(), created: rangeFilter }), (p, ctx) => {
      const events = store.events
        .list(ctx.account)
        .filter((e) => (!p.type || e.type === p.type) && (!p.types || p.types.includes(e.type)) && inRange(e.created, p.created));
      return listOf(events, '/v1/events', p.limit, p.starting_after);
    }),
  );

  router.get(
    '/v1/events/:id',
    stripeRoute(z.object({}), (_p, ctx) => {
      const id = ctx.pathParams['id'] ?? '';
      const event = store.events.get(ctx.account, id);
      if (!event) throw resourceMissing('event', id);
      return event;
    }),
  );

  return router;
}
