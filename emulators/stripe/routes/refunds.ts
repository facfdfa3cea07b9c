import { Router } from 'express';
import { z } from 'zod';
import type { PaymentFlow } from '../payment-flow.js';
import type { StripeEmulatorStore } from '../store.js';
import { resourceMissing } from '../stripe-errors.js';
import { formInt, formMetadata, listOf, listParams, stripeRoute } from '../stripe-route.js';

const createParams = z.object({
  payment_intent: z.string().optional(),
  charge: z.string().optional(),
  amount: formInt.optional(),
  reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
  metadata: formMetadata,
});

export function refundsRouter(flow: PaymentFlow, store: StripeEmulatorStore): Router {
  const router = Router();

  router.post(
    '/v1/refunds',
    stripeRoute(createParams, (p, ctx) =>
      flow.refund(ctx, {
        paymentIntent: p.payment_intent,
        charge: p.charge,
        amount: p.amount,
        reason: p.reason ?? null,
        metadata: p.metadata,
      }),
    ),
  );

  router.get(
    '/v1/refunds',
    stripeRoute(listParams, (p, ctx) =>
      listOf(store.refunds.list(ctx.account), '/v1/refunds', p.limit, p.starting_after),
    ),
  );

  router.get(
    '/v1/refunds/:id',
    stripeRoute(z.object({}), (_p, ctx) => {
      const id = ctx.pathParams['id'] ?? '';
      const refund = store.refunds.get(ctx.account, id);
      if (!refund) throw resourceMissing('refund', id);
      return refund;
    }),
  );

  return router;
}
