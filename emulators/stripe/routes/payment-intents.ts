import { Router } from 'express';
import { z } from 'zod';
import type { PaymentFlow } from '../payment-flow.js';
import { parsePaymentIntentQuery } from '../search-query.js';
import type { StripeEmulatorStore } from '../store.js';
import {
  formBool,
  formInt,
  formMetadata,
  listOf,
  listParams,
  searchParams,
  searchResultOf,
  stripeRoute,
} from '../stripe-route.js';

const createParams = z.object({
  amount: formInt,
  currency: z
    .string()
    .regex(/^[a-zA-Z]{3}$/, { error: (iss) => `Invalid currency: ${String(iss.input)}` })
    .transform((c) => c.toLowerCase()),
  payment_method: z.string().optional(),
  // automatic_async (newer API versions) behaves like automatic here.
  capture_method: z
    .enum(['automatic', 'automatic_async', 'manual'])
    .transform((m) => (m === 'manual' ? 'manual' : 'automatic'))
    .optional(),
  confirmation_method: z.enum(['automatic', 'manual']).optional(),
  confirm: formBool.optional(),
  customer: z.string().optional(),
  description: z.string().optional(),
  metadata: formMetadata,
  payment_method_types: z.array(z.string()).optional(),
  automatic_payment_methods: z
    .object({ enabled: formBool, allow_redirects: z.enum(['always', 'never']).optional() })
    .optional(),
  expand: z.array(z.string()).optional(),
});

const confirmParams = z.object({
  payment_method: z.string().optional(),
  expand: z.array(z.string()).optional(),
});
const captureParams = z.object({
  amount_to_capture: formInt.optional(),
  expand: z.array(z.string()).optional(),
});
const cancelParams = z.object({
  cancellation_reason: z.enum(['abandoned', 'duplicate', 'fraudulent', 'requested_by_customer']).optional(),
});
const noParams = z.object({});

const SEARCH_URL = '/v1/payment_intents/search';

export function paymentIntentsRouter(flow: PaymentFlow, store: StripeEmulatorStore): Router {
  const router = Router();

  router.post(
    '/v1/payment_intents',
    stripeRoute(createParams, (p, ctx) =>
      flow.create(ctx, {
        amount: p.amount,
        currency: p.currency,
        captureMethod: p.capture_method ?? 'automatic',
        confirmationMethod: p.confirmation_method ?? 'automatic',
        confirm: p.confirm ?? false,
        paymentMethod: p.payment_method ?? null,
        customer: p.customer ?? null,
        description: p.description ?? null,
        metadata: p.metadata,
        paymentMethodTypes: p.payment_method_types ?? ['card'],
        automaticPaymentMethods: p.automatic_payment_methods ?? null,
      }),
    ),
  );

  // Registered before /:id so that "search" is not taken for an id.
  router.get(
    SEARCH_URL,
    stripeRoute(searchParams, (p, ctx) => {
      const matches = parsePaymentIntentQuery(p.query);
      return searchResultOf(store.paymentIntents.list(ctx.account).filter(matches), SEARCH_URL, p.limit, p.page);
    }),
  );

  router.get(
    '/v1/payment_intents',
    stripeRoute(listParams, (p, ctx) =>
      listOf(store.paymentIntents.list(ctx.account), '/v1/payment_intents', p.limit, p.starting_after),
    ),
  );

  router.get(
    '/v1/payment_intents/:id',
    stripeRoute(noParams, (_p, ctx) => flow.retrieve(ctx, ctx.pathParams['id'] ?? '')),
  );

  router.post(
    '/v1/payment_intents/:id/confirm',
    stripeRoute(confirmParams, (p, ctx) =>
      flow.confirm(ctx, flow.retrieve(ctx, ctx.pathParams['id'] ?? ''), p.payment_method ?? null),
    ),
  );

  router.post(
    '/v1/payment_intents/:id/capture',
    stripeRoute(captureParams, (p, ctx) =>
      flow.capture(ctx, flow.retrieve(ctx, ctx.pathParams['id'] ?? ''), p.amount_to_capture),
    ),
  );

  router.post(
    '/v1/payment_intents/:id/cancel',
    stripeRoute(cancelParams, (p, ctx) =>
      flow.cancel(ctx, flow.retrieve(ctx, ctx.pathParams['id'] ?? ''), p.cancellation_reason),
    ),
  );

  return router;
}
