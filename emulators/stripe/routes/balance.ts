import { Router } from 'express';
import { z } from 'zod';
import type { PaymentFlow } from '../payment-flow.js';
import { stripeRoute } from '../stripe-route.js';

export function balanceRouter(flow: PaymentFlow): Router {
  const router = Router();
  router.get(
    '/v1/balance',
    stripeRoute(z.object({}), (_p, ctx) => flow.balance(ctx)),
  );
  return router;
}
