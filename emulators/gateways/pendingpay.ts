/**
 * PendingPay emulator: an asynchronous gateway. OAuth2 client credentials at /oauth/token,
 * form-encoded requests, amounts in minor units, lower-case currencies. A transaction answers 202
 * `pending`; after `callbackDelayMs` it settles (or is rejected) and a signed callback is POSTed to
 * the callback URL: HMAC-SHA256 over `${timestamp}.${body}`, hex, in X-Pending-Signature, with
 * X-Pending-Timestamp (seconds).
 *
 * Test tokens (the `source` field): tok_insufficient_funds, tok_invalid and tok_declined end
 * `rejected` (reason = the token's name without tok_); anything else ends `settled`, or
 * `authorized` with capture_method=manual.
 */
import { createHmac, randomBytes } from 'node:crypto';
import express, { type Response } from 'express';
import { z } from 'zod';
import { readStateFile, stateFileWriter } from '../state-file.js';
import { createFaultInjector, headerOf, listenLocal, type FaultControls } from './faults.js';
import { objectRoutes } from './object-routes.js';

export interface PendingpayEmulatorOptions {
  port?: number;
  clientId?: string;
  clientSecret?: string;
  /** Lifetime of issued access tokens (expires_in). */
  tokenTtlSeconds?: number;
  /** Where callbacks go; also settable later (setCallback or POST /_emulator/callback). */
  callbackUrl?: string;
  callbackSecret?: string;
  callbackDelayMs?: number;
  /**
   * A JSON file transactions are kept in across restarts (one still pending settles after the
   * restart, with its callback); absent: in memory only. Access tokens are not kept (clients fetch a
   * new one on the 401).
   */
  stateFile?: string;
}

export type PendingStatus = 'pending' | 'authorized' | 'settled' | 'rejected' | 'voided';

export interface PendingTxn {
  ref: string;
  status: PendingStatus;
  amount: number;
  captured_amount: number;
  refunded_amount: number;
  currency: string;
  merchant_ref: string;
  capture_method: 'automatic' | 'manual';
  reason: string | null;
  metadata: Record<string, string>;
}

export interface CallbackDelivery {
  url: string;
  eventId: string;
  status?: number;
  error?: string;
}

export interface PendingpayEmulator extends FaultControls {
  url: string;
  clientId: string;
  clientSecret: string;
  callbackSecret: string;
  close(): Promise<void>;
  setCallback(url: string | undefined, secret?: string): void;
  /** Access tokens issued so far. */
  tokensIssued(): number;
  /** Invalidates every issued token: the next API call answers 401. */
  revokeTokens(): void;
  txns(): PendingTxn[];
  deliveries(): CallbackDelivery[];
  /** Resolves when every scheduled settlement and callback has finished. */
  whenIdle(): Promise<void>;
}

const pendingError = (code: string, message: string) => ({ error: { code, message } });

function errorForStatus(status: number) {
  if (status === 429) return pendingError('too_many_requests', 'Slow down');
  if (status >= 500) return pendingError('unavailable', 'Service unavailable');
  return pendingError('invalid_request', 'Request refused');
}

const createTxnBody = z.object({
  amount: z.coerce.number().int().positive(),
  currency: z.string().regex(/^[a-z]{3}$/, 'lower-case ISO 4217 code'),
  source: z.string().min(1),
  merchant_ref: z.string().min(1),
  capture_method: z.enum(['automatic', 'manual']).default('automatic'),
  description: z.string().optional(),
  metadata: z.record(z.string(), z.string()).default({}),
});
const amountBody = z.object({ amount: z.coerce.number().int().positive().optional() });
const callbackControl = z.object({ url: z.url().optional(), secret: z.string().min(1).optional() });

const REJECTING_TOKENS = new Set(['tok_insufficient_funds', 'tok_invalid', 'tok_declined']);

export async function startPendingpayEmulator(
  opts: PendingpayEmulatorOptions = {},
): Promise<PendingpayEmulator> {
  const clientId = opts.clientId ?? 'pp_client_demo';
  const clientSecret = opts.clientSecret ?? 'pp_secret_demo';
  const tokenTtlSeconds = opts.tokenTtlSeconds ?? 3600;
  const callbackDelayMs = opts.callbackDelayMs ?? 50;
  let callbackUrl = opts.callbackUrl;
  let callbackSecret = opts.callbackSecret ?? 'whsec_pendingpay_demo';

  const faults = createFaultInjector(errorForStatus);
  const txns = new Map<string, PendingTxn>();
  const tokens = new Map<string, number>();
  const deliveries: CallbackDelivery[] = [];
  const inflight = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let issued = 0;
  /** The test token of each transaction still pending: it decides how the transaction settles. */
  const settling = new Map<string, string>();
  const saved = opts.stateFile
    ? stateFileWriter(opts.stateFile, () => ({ txns: [...txns.values()], settling: [...settling] }))
    : undefined;

  async function sendCallback(txn: PendingTxn): Promise<void> {
    if (!callbackUrl) return;
    const eventId = `evt_${randomBytes(8).toString('hex')}`;
    const body = JSON.stringify({
      id: eventId,
      type: `txn.${txn.status}`,
      created: Math.floor(Date.now() / 1000),
      data: { txn },
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', callbackSecret).update(`${timestamp}.${body}`).digest('hex');
    const delivery: CallbackDelivery = { url: callbackUrl, eventId };
    deliveries.push(delivery);
    try {
      const res = await fetch(callbackUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-pending-signature': signature,
          'x-pending-timestamp': timestamp,
        },
        body,
      });
      delivery.status = res.status;
      await res.arrayBuffer();
    } catch (err) {
      delivery.error = (err as Error).message;
    }
  }

  function track(work: () => Promise<void>): void {
    const p = work().finally(() => inflight.delete(p));
    inflight.add(p);
  }

  function scheduleSettlement(txn: PendingTxn, source: string): void {
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    inflight.add(done);
    settling.set(txn.ref, source);
    const timer = setTimeout(() => {
      timers.delete(timer);
      settling.delete(txn.ref);
      if (txn.status === 'pending') {
        if (REJECTING_TOKENS.has(source)) {
          txn.status = 'rejected';
          txn.reason = source.replace(/^tok_/, '');
        } else if (txn.capture_method === 'manual') {
          txn.status = 'authorized';
        } else {
          txn.status = 'settled';
          txn.captured_amount = txn.amount;
        }
        track(() => sendCallback(txn));
      }
      saved?.changed();
      inflight.delete(done);
      resolveDone();
    }, callbackDelayMs);
    timers.add(timer);
  }

  const kept = opts.stateFile ? readStateFile<{ txns: PendingTxn[]; settling: [string, string][] }>(opts.stateFile) : undefined;
  for (const txn of kept?.txns ?? []) txns.set(txn.ref, txn);
  for (const [ref, source] of kept?.settling ?? []) {
    const txn = txns.get(ref);
    if (txn) scheduleSettlement(txn, source);
  }

  const app = express();
  app.use('/_emulator', faults.router);
  app.post('/_emulator/callback', express.json(), (req, res) => {
    const parsed = callbackControl.safeParse(req.body ?? {});
    if (!parsed.success)
      return void res.status(400).json({ error: 'invalid_control_request', issues: parsed.error.issues });
    callbackUrl = parsed.data.url;
    if (parsed.data.secret) callbackSecret = parsed.data.secret;
    res.json({ ok: true, callbackUrl: callbackUrl ?? null });
  });
  app.post('/_emulator/revoke-tokens', (_req, res) => {
    tokens.clear();
    res.json({ ok: true });
  });
  app.use(faults.middleware);
  app.use(express.urlencoded({ extended: true }));
  // Every change is made by a request (or a settlement, above).
  if (saved) {
    app.use((req, res, next) => {
      if (req.method !== 'GET') res.once('finish', saved.changed);
      next();
    });
  }

  app.get('/health', (_req, res) => void res.json({ status: 'ok' }));

  app.post('/oauth/token', (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    let id = body['client_id'];
    let secret = body['client_secret'];
    const basic = /^Basic (.+)$/.exec(headerOf(req, 'authorization') ?? '')?.[1];
    if (basic) {
      const [u = '', p = ''] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      id = decodeURIComponent(u);
      secret = decodeURIComponent(p);
    }
    if (body['grant_type'] !== 'client_credentials') {
      return void res.status(400).json({ error: 'unsupported_grant_type' });
    }
    if (id !== clientId || secret !== clientSecret)
      return void res.status(401).json({ error: 'invalid_client' });
    const token = `pp_at_${randomBytes(12).toString('hex')}`;
    tokens.set(token, Date.now() + tokenTtlSeconds * 1000);
    issued += 1;
    res.json({ access_token: token, token_type: 'Bearer', expires_in: tokenTtlSeconds });
  });

  app.use((req, res, next) => {
    const token = /^Bearer (.+)$/.exec(headerOf(req, 'authorization') ?? '')?.[1];
    const expiresAt = token ? tokens.get(token) : undefined;
    if (expiresAt !== undefined && expiresAt > Date.now()) return next();
    res.status(401).json(pendingError('invalid_token', 'Missing, expired or revoked access token'));
  });

  const invalid = (res: Response, issues: z.core.$ZodIssue[]) =>
    void res
      .status(400)
      .json(
        pendingError('invalid_request', issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')),
      );

  app.get(
    '/merchant',
    (_req, res) => void res.json({ merchant: { id: clientId, name: 'PendingPay demo merchant' } }),
  );

  const routes = objectRoutes({
    app,
    objects: txns,
    param: 'ref',
    key: 'txn',
    idempotencyHeader: 'x-idempotency-key',
    invalid,
    notFound: pendingError('not_found', 'No such transaction'),
    mismatch: pendingError('idempotency_mismatch', 'Idempotency key reused with a different request'),
  });

  routes.create('/txns', createTxnBody, (t) => {
    const txn: PendingTxn = {
      ref: `pp_${randomBytes(8).toString('hex')}`,
      status: 'pending',
      amount: t.amount,
      captured_amount: 0,
      refunded_amount: 0,
      currency: t.currency,
      merchant_ref: t.merchant_ref,
      capture_method: t.capture_method,
      reason: null,
      metadata: t.metadata,
    };
    txns.set(txn.ref, txn);
    faults.recordCharge(t.merchant_ref);
    scheduleSettlement(txn, t.source);
    return { status: 202, body: { txn } };
  });

  routes.search('/txns', 'merchant_ref', (t) => t.merchant_ref, 'txns');
  routes.lookup('/txns/:ref');

  routes.action(
    '/txns/:ref/capture',
    amountBody,
    (req, ref) => ({ ...req.body, ref }),
    (txn, body) => {
      if (txn.status !== 'authorized')
        return { status: 409, body: pendingError('invalid_state', `Transaction is ${txn.status}`) };
      const amount = body?.amount ?? txn.amount;
      if (amount > txn.amount)
        return { status: 400, body: pendingError('amount_too_large', 'Capture exceeds the authorization') };
      txn.status = 'settled';
      txn.captured_amount = amount;
      return { status: 200, body: { txn } };
    },
  );

  routes.action(
    '/txns/:ref/void',
    null,
    (_req, ref) => ({ void: ref }),
    (txn) => {
      if (txn.status !== 'authorized' && txn.status !== 'pending') {
        return { status: 409, body: pendingError('invalid_state', `Transaction is ${txn.status}`) };
      }
      txn.status = 'voided';
      return { status: 200, body: { txn } };
    },
  );

  routes.action(
    '/txns/:ref/refunds',
    amountBody,
    (req, ref) => ({ ...req.body, ref }),
    (txn, body) => {
      const left = txn.captured_amount - txn.refunded_amount;
      const amount = body?.amount ?? left;
      if (txn.status !== 'settled' || amount <= 0 || amount > left) {
        return { status: 400, body: pendingError('refund_not_possible', 'Nothing left to refund') };
      }
      txn.refunded_amount += amount;
      return {
        status: 201,
        body: {
          refund: {
            ref: `ppr_${randomBytes(8).toString('hex')}`,
            txn_ref: txn.ref,
            status: 'refunded',
            amount,
          },
        },
      };
    },
  );

  const server = await listenLocal(app, opts.port);
  return {
    ...faults.controls,
    url: server.url,
    clientId,
    clientSecret,
    get callbackSecret() {
      return callbackSecret;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await server.close();
      saved?.flush();
    },
    setCallback: (url, secret) => {
      callbackUrl = url;
      if (secret) callbackSecret = secret;
    },
    tokensIssued: () => issued,
    revokeTokens: () => tokens.clear(),
    txns: () => [...txns.values()],
    deliveries: () => [...deliveries],
    whenIdle: async () => {
      while (inflight.size > 0) await Promise.all([...inflight]);
    },
  };
}
