import { Router } from 'express';
import { z } from 'zod';
import { buildWebhookEndpoint, type WebhookEndpointObject } from '../objects.js';
import type { StripeEmulatorStore } from '../store.js';
import { resourceMissing } from '../stripe-errors.js';
import { formMetadata, listOf, listParams, stripeRoute } from '../stripe-route.js';

const createParams = z.object({
  url: z.url({ error: (iss) => `Invalid URL: ${String(iss.input)}` }),
  enabled_events: z.array(z.string()).min(1),
  description: z.string().optional(),
  metadata: formMetadata,
  api_version: z.string().optional(),
});

/** The secret is shown only when the endpoint is created, as at Stripe. */
function withoutSecret(endpoint: WebhookEndpointObject): WebhookEndpointObject {
  const copy = { ...endpoint };
  delete copy.secret;
  return copy;
}

export function webhookEndpointsRouter(store: StripeEmulatorStore): Router {
  const router = Router();

  router.post(
    '/v1/webhook_endpoints',
    stripeRoute(createParams, (p, ctx) => {
      const endpoint = buildWebhookEndpoint({
        url: p.url,
        enabledEvents: p.enabled_events,
        description: p.description ?? null,
        metadata: p.metadata,
        apiVersion: p.api_version ?? null,
      });
      store.webhookEndpoints.set(ctx.account, endpoint.id, endpoint);
      return endpoint;
    }),
  );

  router.get(
    '/v1/webhook_endpoints',
    stripeRoute(listParams, (p, ctx) => {
      const list = listOf(
        store.webhookEndpoints.list(ctx.account),
        '/v1/webhook_endpoints',
        p.limit,
        p.starting_after,
      );
      return { ...list, data: list.data.map(withoutSecret) };
    }),
  );

  router.get(
    '/v1/webhook_endpoints/:id',
    stripeRoute(z.object({}), (_p, ctx) => {
      const id = ctx.pathParams['id'] ?? '';
      const endpoint = store.webhookEndpoints.get(ctx.account, id);
      if (!endpoint) throw resourceMissing('webhook_endpoint', id);
      return withoutSecret(endpoint);
    }),
  );

  router.delete(
    '/v1/webhook_endpoints/:id',
    stripeRoute(z.object({}), (_p, ctx) => {
      const id = ctx.pathParams['id'] ?? '';
      if (!store.webhookEndpoints.delete(ctx.account, id)) throw resourceMissing('webhook_endpoint', id);
      return { id, object: 'webhook_endpoint', deleted: true };
    }),
  );

  return router;
}
