/**
 * The payment workload the payment benches drive through the public API: a merchant with an AcmePay
 * connection (and a PendingPay one for webhooks), payments posted as a client would, and the checks
 * that they reached a final status.
 */
import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { callApi } from '../../src/dev/api-call.js';

/** The statuses a payment does not leave on its own. */
export const FINAL_STATUSES = new Set(['succeeded', 'authorized', 'failed', 'canceled']);

/** The size of the payment workload, shared by `npm run bench` and `npm run bench -- compare`. */
export interface PaymentWorkload {
  /** BENCH_PAYMENTS: payments to a final status per side. */
  payments: number;
  /** BENCH_CONCURRENCY: payments in flight at once. */
  concurrency: number;
  /** BENCH_LATENCY_REQUESTS: requests per side for each latency figure. */
  latencyRequests: number;
  /** BENCH_ROUNDS: alternating rounds each side's share is split over. */
  rounds: number;
}

/** The workload from BENCH_* settings (defaults 500, 20, 200, 2); a setting that is not a positive whole number stops the bench. */
export function paymentWorkloadFrom(env: Record<string, string | undefined>): PaymentWorkload {
  const setting = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${name} must be a whole number of 1 or more, not "${env[name]}"`);
    return value;
  };
  return {
    payments: setting('BENCH_PAYMENTS', 500),
    concurrency: setting('BENCH_CONCURRENCY', 20),
    latencyRequests: setting('BENCH_LATENCY_REQUESTS', 200),
    rounds: setting('BENCH_ROUNDS', 2),
  };
}

/** An emulated AcmePay account (emulators/gateways/acmepay.ts). */
export interface AcmepayAccount {
  url: string;
  accountId: string;
  apiKey: string;
}

/** An emulated PendingPay account (emulators/gateways/pendingpay.ts). */
export interface PendingpayAccount {
  url: string;
  clientId: string;
  clientSecret: string;
  callbackSecret: string;
}

/**
 * A tenant created with the admin token, its cards routed to AcmePay and, when `pending` is given,
 * its bank transfers to PendingPay.
 */
export async function setUpMerchant(
  apiUrl: string,
  adminToken: string,
  acme: AcmepayAccount,
): Promise<{ apiKey: string }>;
export async function setUpMerchant(
  apiUrl: string,
  adminToken: string,
  acme: AcmepayAccount,
  pending: PendingpayAccount,
): Promise<{ apiKey: string; pendingpayId: string }>;
export async function setUpMerchant(
  apiUrl: string,
  adminToken: string,
  acme: AcmepayAccount,
  pending?: PendingpayAccount,
): Promise<{ apiKey: string; pendingpayId?: string }> {
  const call = <T>(token: string, method: string, route: string, body?: unknown) =>
    callApi<T>(apiUrl, token, method, route, body);
  const { apiKey } = await call<{ apiKey: string }>(adminToken, 'POST', '/v1/tenants', {
    name: 'Bench merchant',
  });
  const acmeId = (
    await call<{ id: string }>(apiKey, 'POST', '/v1/connections', {
      provider: 'acmepay',
      code: 'acme',
      name: 'AcmePay',
      credentials: { accountId: acme.accountId, apiKey: acme.apiKey },
      settings: { baseUrl: acme.url },
    })
  ).id;
  const cards = { name: 'cards', priority: 20, connectionIds: [acmeId] };
  if (!pending) {
    await call(apiKey, 'PUT', '/v1/routing/rules', { rules: [cards] });
    return { apiKey };
  }
  const pendingpayId = (
    await call<{ id: string }>(apiKey, 'POST', '/v1/connections', {
      provider: 'pendingpay',
      code: 'pending',
      name: 'PendingPay',
      credentials: {
        clientId: pending.clientId,
        clientSecret: pending.clientSecret,
        webhookSecret: pending.callbackSecret,
      },
      settings: { baseUrl: pending.url },
    })
  ).id;
  await call(apiKey, 'PUT', '/v1/routing/rules', {
    rules: [
      {
        name: 'bank transfers',
        priority: 10,
        conditions: { paymentMethods: ['bank_transfer'] },
        connectionIds: [pendingpayId],
      },
      cards,
    ],
  });
  return { apiKey, pendingpayId };
}

/** A payment as the API answers it. */
export interface PostedPayment {
  status: number;
  body: { id: string; status: string };
}

/**
 * `POST /v1/payments?wait=<wait>` of a card payment (fresh idempotency key each call; `overrides`
 * replace fields of the body); an answer other than 2xx throws.
 */
export function paymentPoster(apiUrl: string, apiKey: string) {
  return async (wait: number, overrides: Record<string, unknown> = {}): Promise<PostedPayment> => {
    const res = await fetch(`${apiUrl}/v1/payments?wait=${wait}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify({
        amount: 1050,
        currency: 'EUR',
        country: 'DE',
        paymentMethod: { type: 'card', token: 'tok_visa' },
        ...overrides,
      }),
    });
    const body = (await res.json()) as { id: string; status: string };
    if (res.status >= 300 && res.status !== 202)
      throw new Error(`POST /v1/payments answered ${res.status}: ${JSON.stringify(body)}`);
    return { status: res.status, body };
  };
}

/**
 * A card payment to its final status: `POST ?wait=30`, then, if the answer is not final yet,
 * `GET /v1/payments/:id` every 100 ms until it is (at most 60 s more). Returns its id.
 */
export async function payToFinal(
  apiUrl: string,
  apiKey: string,
  post = paymentPoster(apiUrl, apiKey),
): Promise<string> {
  const { body } = await post(30);
  const deadline = Date.now() + 60_000;
  let status = body.status;
  while (!FINAL_STATUSES.has(status)) {
    if (Date.now() > deadline)
      throw new Error(`payment ${body.id} still ${status} 60 s after its POST returned`);
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`${apiUrl}/v1/payments/${body.id}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    if (!res.ok) throw new Error(`GET /v1/payments/${body.id} answered ${res.status}: ${await res.text()}`);
    status = ((await res.json()) as { status: string }).status;
  }
  return body.id;
}

/** How many of the payments `ids` have a final status in the database. */
export async function countFinal(sql: postgres.Sql, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await sql<{ status: string }[]>`select status from payments where id in ${sql(ids)}`;
  return rows.filter((r) => FINAL_STATUSES.has(r.status)).length;
}

/** Waits (at most 300 s) until every one of `ids` has a final status. */
export async function waitUntilFinal(sql: postgres.Sql, ids: string[]): Promise<void> {
  const deadline = Date.now() + 300_000;
  while ((await countFinal(sql, ids)) < ids.length) {
    if (Date.now() > deadline) throw new Error(`payments started in the latency phase not final after 300 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
