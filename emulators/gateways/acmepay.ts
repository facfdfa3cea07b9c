/**
 * AcmePay emulator: a synchronous JSON card gateway. Amounts are decimal strings in major units on
 * payments and integer minor units (`amount_minor`) on captures and refunds; currencies upper case.
 *
 * Test tokens (the `source` field): tok_insufficient_funds → 402 insufficient_funds,
 * tok_invalid → 422 card_invalid, tok_declined → 201 with state DECLINED (do_not_honor);
 * anything else (e.g. tok_success) succeeds.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { readStateFile, stateFileWriter } from '../state-file.js';
import { createFaultInjector, headerOf, listenLocal, type FaultControls } from './faults.js';
import { objectRoutes } from './object-routes.js';

export interface AcmepayEmulatorOptions {
  port?: number;
  /** Accepted as `Authorization: Bearer <apiKey>` or as the Basic password with accountId as user. */
  apiKey?: string;
  accountId?: string;
  /** A JSON file payments and refunds are kept in across restarts; absent: in memory only. */
  stateFile?: string;
}

export type AcmeState = 'AUTHORIZED' | 'CAPTURED' | 'DECLINED' | 'CANCELED';

export interface AcmePayment {
  id: string;
  state: AcmeState;
  amount: string;
  captured_amount: string;
  refunded_amount: string;
  currency: string;
  merchant_reference: string;
  decline_reason: string | null;
  description: string | null;
  metadata: Record<string, string>;
  created_at: string;
}

interface AcmeRefund {
  id: string;
  payment_id: string;
  state: 'PENDING' | 'SUCCEEDED';
  amount_minor: number;
}

export interface AcmepayEmulator extends FaultControls {
  url: string;
  apiKey: string;
  accountId: string;
  close(): Promise<void>;
  /** Every payment created, oldest first. */
  payments(): AcmePayment[];
  /** Number of requests seen per path (after faults), e.g. for "was the API called" checks. */
  requestCount(): number;
  /** New refunds answer PENDING and settle (SUCCEEDED) after `ms`; 0 (default) settles at once. */
  setRefundDelay(ms: number): void;
}

const DEFAULT_API_KEY = 'acme_test_key';
const DEFAULT_ACCOUNT_ID = 'acct_demo';

function acmeError(code: string, message: string) {
  return { error: { code, message } };
}

function errorForStatus(status: number) {
  if (status === 429) return acmeError('rate_limited', 'Too many requests');
  if (status >= 500) return acmeError('internal', 'Internal error, try again later');
  return acmeError('invalid_request', 'Request refused');
}

const decimals = (currency: string) =>
  ['JPY', 'KRW'].includes(currency) ? 0 : ['BHD', 'KWD', 'JOD', 'OMR', 'TND'].includes(currency) ? 3 : 2;
const toMinor = (amount: string, currency: string) => Math.round(Number(amount) * 10 ** decimals(currency));
const toDecimal = (minor: number, currency: string) =>
  (minor / 10 ** decimals(currency)).toFixed(decimals(currency));

const createPaymentBody = z.object({
  amount: z.string().regex(/^\d+(\.\d{1,3})?$/, 'decimal string in major units'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'upper-case ISO 4217 code'),
  source: z.string().min(1),
  capture: z.boolean().default(true),
  merchant_reference: z.string().min(1),
  description: z.string().optional(),
  country: z.string().optional(),
  metadata: z.record(z.string(), z.string()).default({}),
});
const amountBody = z.object({ amount_minor: z.number().int().positive().optional() });

export async function startAcmepayEmulator(opts: AcmepayEmulatorOptions = {}): Promise<AcmepayEmulator> {
  const apiKey = opts.apiKey ?? DEFAULT_API_KEY;
  const accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
  const faults = createFaultInjector(errorForStatus);
  const payments = new Map<string, AcmePayment>();
  const refunds = new Map<string, AcmeRefund>();
  const kept = opts.stateFile ? readStateFile<{ payments: AcmePayment[]; refunds: AcmeRefund[] }>(opts.stateFile) : undefined;
  for (const payment of kept?.payments ?? []) payments.set(payment.id, payment);
  for (const refund of kept?.refunds ?? []) refunds.set(refund.id, refund);
  const saved = opts.stateFile
    ? stateFileWriter(opts.stateFile, () => ({ payments: [...payments.values()], refunds: [...refunds.values()] }))
    : undefined;
  let refundDelayMs = 0;
  let requests = 0;

  const app = express();
  app.use('/_emulator', faults.router);
  app.use(faults.middleware);
  app.use(express.json());
  app.use((req, res, next) => {
    requests += 1;
    // Every change is made by a request (or the refund timer below).
    if (saved && req.method !== 'GET') res.once('finish', saved.changed);
    next();
  });

  app.get('/health', (_req, res) => void res.json({ status: 'ok' }));

  const authorized = (req: Request): boolean => {
    const header = headerOf(req, 'authorization') ?? '';
    if (header === `Bearer ${apiKey}`) return true;
    const basic = /^Basic (.+)$/.exec(header)?.[1];
    return basic !== undefined && Buffer.from(basic, 'base64').toString('utf8') === `${accountId}:${apiKey}`;
  };
  app.use((req, res, next) => {
    if (authorized(req)) return next();
    res.status(401).json(acmeError('unauthorized', 'Invalid API key'));
  });

  const invalid = (res: Response, issues: z.core.$ZodIssue[]) =>
    void res
      .status(422)
      .json(acmeError('invalid_request', issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')));

  app.get(
    '/v1/account',
    (_req, res) => void res.json({ account: { id: accountId, name: 'AcmePay demo merchant' } }),
  );

  const routes = objectRoutes({
    app,
    objects: payments,
    param: 'id',
    key: 'payment',
    idempotencyHeader: 'idempotency-key',
    invalid,
    notFound: acmeError('not_found', 'No such payment'),
    mismatch: acmeError('idempotency_mismatch', 'Idempotency-Key reused with a different request'),
  });

  routes.create('/v1/payments', createPaymentBody, (p) => {
    if (p.source === 'tok_insufficient_funds')
      return { status: 402, body: acmeError('insufficient_funds', 'Insufficient funds') };
    if (p.source === 'tok_invalid') return { status: 422, body: acmeError('card_invalid', 'The card token is invalid') };
    const declined = p.source === 'tok_declined';
    const payment: AcmePayment = {
      id: `acme_${randomBytes(8).toString('hex')}`,
      state: declined ? 'DECLINED' : p.capture ? 'CAPTURED' : 'AUTHORIZED',
      amount: p.amount,
      captured_amount: !declined && p.capture ? p.amount : toDecimal(0, p.currency),
      refunded_amount: toDecimal(0, p.currency),
      currency: p.currency,
      merchant_reference: p.merchant_reference,
      decline_reason: declined ? 'do_not_honor' : null,
      description: p.description ?? null,
      metadata: p.metadata,
      created_at: new Date().toISOString(),
    };
    payments.set(payment.id, payment);
    faults.recordCharge(p.merchant_reference);
    return { status: 201, body: { payment } };
  });

  routes.search('/v1/payments', 'merchant_reference', (p) => p.merchant_reference, 'data');
  routes.lookup('/v1/payments/:id');

  routes.action('/v1/payments/:id/capture', amountBody, (req, id) => ({ ...req.body, id }), (payment, body) => {
    if (payment.state !== 'AUTHORIZED') return { status: 409, body: acmeError('invalid_state', `Payment is ${payment.state}`) };
    const authorizedMinor = toMinor(payment.amount, payment.currency);
    const minor = body?.amount_minor ?? authorizedMinor;
    if (minor > authorizedMinor) return { status: 422, body: acmeError('amount_too_large', 'Capture exceeds the authorization') };
    payment.state = 'CAPTURED';
    payment.captured_amount = toDecimal(minor, payment.currency);
    return { status: 200, body: { payment } };
  });

  routes.action('/v1/payments/:id/cancel', null, (_req, id) => ({ cancel: id }), (payment) => {
    if (payment.state !== 'AUTHORIZED' && payment.state !== 'CANCELED') {
      return { status: 409, body: acmeError('invalid_state', `Payment is ${payment.state}`) };
    }
    payment.state = 'CANCELED';
    return { status: 200, body: { payment } };
  });

  routes.action('/v1/payments/:id/refunds', amountBody, (req, id) => ({ ...req.body, id }), (payment, body) => {
    const captured = toMinor(payment.captured_amount, payment.currency);
    const refunded = toMinor(payment.refunded_amount, payment.currency);
    const minor = body?.amount_minor ?? captured - refunded;
    if (payment.state !== 'CAPTURED' || minor <= 0 || minor > captured - refunded) {
      return { status: 422, body: acmeError('refund_not_possible', 'Nothing left to refund') };
    }
    payment.refunded_amount = toDecimal(refunded + minor, payment.currency);
    const refund = {
      id: `re_${randomBytes(8).toString('hex')}`,
      payment_id: payment.id,
      state: refundDelayMs > 0 ? ('PENDING' as const) : ('SUCCEEDED' as const),
      amount_minor: minor,
    };
    refunds.set(refund.id, refund);
    if (refundDelayMs > 0) {
      setTimeout(() => {
        refund.state = 'SUCCEEDED';
        saved?.changed();
      }, refundDelayMs).unref();
    }
    return { status: 201, body: { refund: { ...refund } } };
  });

  app.get('/v1/refunds/:id', (req, res) => {
    const refund = refunds.get(String(req.params['id']));
    if (!refund) return void res.status(404).json(acmeError('not_found', 'No such refund'));
    res.json({ refund });
  });

  const server = await listenLocal(app, opts.port);
  return {
    ...faults.controls,
    url: server.url,
    apiKey,
    accountId,
    close: async () => {
      await server.close();
      saved?.flush();
    },
    payments: () => [...payments.values()],
    requestCount: () => requests,
    setRefundDelay: (ms) => {
      refundDelayMs = ms;
    },
  };
}
