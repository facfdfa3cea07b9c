import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { CustomerObject, CustomerSeed } from '../customer-object.js';
import type { DropNextOptions, FailNextOptions, FailureRateOptions, FaultState } from '../fault-injection.js';
import type { EventObject, PaymentIntentObject } from '../objects.js';
import type { RequestRecord } from '../request-context.js';
import type { DeliveryRecord } from '../webhook-delivery.js';

/** What tests and the demo can do to and read from a running emulator. */
export interface StripeEmulatorControls {
  /** Fails the next matching request(s) with a Stripe error body (default: one request, 503). */
  failNext(options?: FailNextOptions): void;
  /** Processes the next matching request(s), then destroys the connection without answering. */
  dropNext(options?: DropNextOptions): void;
  /** Fails this fraction (0..1) of matching requests at random; 0 turns it off. */
  setFailureRate(rate: number, options?: FailureRateOptions): void;
  clearFaults(): void;
  faults(): FaultState;
  pauseWebhooks(): void;
  resumeWebhooks(): void;
  /** Resolves when no webhook delivery is pending. */
  webhooksIdle(): Promise<void>;
  deliveries(): DeliveryRecord[];
  /** Successful charges (authorisations included) for a `metadata.payment_id`. */
  chargeCount(paymentId: string): number;
  chargeCounts(): Record<string, number>;
  requests(): RequestRecord[];
  /** Every event emitted, all accounts, oldest first. */
  events(): EventObject[];
  /** Every PaymentIntent, all accounts, oldest first. */
  paymentIntents(): PaymentIntentObject[];
  /** Every live (not deleted) Customer, all accounts, oldest first. */
  customers(): CustomerObject[];
  /**
   * Creates customers in `account` (its secret key) at once, as `POST /v1/customers` would store
   * them, but emitting no events and logging no requests: a bulk fixture (a bench's 100,000
   * customers) in milliseconds instead of minutes. Returns how many were created.
   */
  seedCustomers(account: string, customers: CustomerSeed[]): number;
  /** Forgets all objects, idempotency keys, requests, deliveries and faults. */
  reset(): void;
}


const match = { pathPrefix: z.string().startsWith('/').optional(), method: z.string().optional() };
const failBody = z.object({
  ...match,
  times: z.number().int().min(1).optional(),
  status: z.number().int().min(400).max(599).optional(),
  afterProcessing: z.boolean().optional(),
  retryAfter: z.string().optional(),
});
const dropBody = z.object({ ...match, times: z.number().int().min(1).optional() });
const nullableText = z.string().nullable().optional();
const seedBody = z.object({
  account: z.string().startsWith('sk_'),
  customers: z
    .array(
      z.object({
        email: nullableText,
        name: nullableText,
        phone: nullableText,
        description: nullableText,
        address: z
          .object({ city: nullableText, country: nullableText, line1: nullableText, line2: nullableText, postal_code: nullableText, state: nullableText })
          .transform((a) => ({ city: a.city ?? null, country: a.country ?? null, line1: a.line1 ?? null, line2: a.line2 ?? null, postal_code: a.postal_code ?? null, state: a.state ?? null }))
          .nullable()
          .optional(),
        metadata: z.record(z.string(), z.string()).optional(),
      }),
    )
    .max(100_000),
});
const rateBody = z.object({
  ...match,
  rate: z.number().min(0).max(1),
  status: z.number().int().min(400).max(599).optional(),
});

/** Parses the JSON body with `schema`; a 400 names the offending fields. */
function withBody<S extends z.ZodType>(schema: S, handler: (body: z.output<S>) => unknown): RequestHandler {
  return (req, res) => {
    const parsed = schema.safeParse(req.body ?? {});
    if (!parsed.success) {
      res.status(400).json({ error: { message: z.prettifyError(parsed.error) } });
      return;
    }
    res.json(handler(parsed.data) ?? { ok: true });
  };
}

/**
 * `/_emulator/*`: lets another process (the demo, an end-to-end test) script failures and read the
 * emulator's counters. Not part of Stripe's API; no authentication.
 */
export function controlRouter(controls: StripeEmulatorControls): Router {
  const router = Router();
  // Bulk seeding sends up to 100,000 customers in one body.
  router.use(express.json({ limit: '100mb' }));

  router.post(
    '/_emulator/faults/fail',
    withBody(failBody, (b) => controls.failNext(b)),
  );
  router.post(
    '/_emulator/faults/drop',
    withBody(dropBody, (b) => controls.dropNext(b)),
  );
  router.post(
    '/_emulator/faults/failure-rate',
    withBody(rateBody, ({ rate, ...options }) => controls.setFailureRate(rate, options)),
  );
  router.delete('/_emulator/faults', (_req, res) => {
    controls.clearFaults();
    res.json({ ok: true });
  });
  router.get('/_emulator/faults', (_req, res) => {
    res.json(controls.faults());
  });

  router.post('/_emulator/webhooks/pause', (_req, res) => {
    controls.pauseWebhooks();
    res.json({ ok: true });
  });
  router.post('/_emulator/webhooks/resume', (_req, res) => {
    controls.resumeWebhooks();
    res.json({ ok: true });
  });
  router.get('/_emulator/webhooks/deliveries', (_req, res) => {
    res.json({ data: controls.deliveries() });
  });

  router.get('/_emulator/charges', (_req, res) => {
    res.json({ byPaymentId: controls.chargeCounts() });
  });
  router.get('/_emulator/charges/:paymentId', (req, res) => {
    res.json({ paymentId: req.params.paymentId, count: controls.chargeCount(req.params.paymentId) });
  });
  router.get('/_emulator/requests', (_req, res) => {
    res.json({ data: controls.requests() });
  });
  router.get('/_emulator/events', (_req, res) => {
    res.json({ data: controls.events() });
  });
  router.post(
    '/_emulator/customers/seed',
    withBody(seedBody, ({ account, customers }) => ({ created: controls.seedCustomers(account, customers) })),
  );
  router.post('/_emulator/reset', (_req, res) => {
    controls.reset();
    res.json({ ok: true });
  });

  return router;
}
