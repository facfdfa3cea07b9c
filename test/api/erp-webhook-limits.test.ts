import { createHmac } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defterIntegration } from '../../emulators/erp/integration.js';
import type { RateLimitSettings } from '../../src/api/rate-limit.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/**
 * ERP webhooks are limited like gateway webhooks: the signature is checked first, a verified delivery
 * counts in its integration's bucket, one that fails verification in the sender's address bucket.
 */
let stack: TestStack;
let auth: { Authorization: string };
beforeAll(async () => {
  // No worker: a first delivery answers 202 (stored, not applied yet), which is all these tests need.
  stack = await startTestStack({ startWorker: false });
  ({ auth } = await stack.createTenant('ERP webhook limits'));
});
afterAll(async () => stack?.close());

// An hour-long window: a test never straddles a window boundary (which would reset the counts).
const limits = (l: Partial<RateLimitSettings>): RateLimitSettings => ({ windowSeconds: 3600, tenant: 100_000, ip: 60, webhook: 1200, ...l });
let addressSeq = 0;
/** Each test sends from its own (forwarded) address, so address buckets of other tests never interfere. */
const freshAddress = () => `198.51.100.${++addressSeq}`;

async function webhookIntegration(secret: string): Promise<string> {
  const body = { ...defterIntegration('http://127.0.0.1:9'), type: 'webhook', credentials: { username: 'u', password: 'p', webhookSecret: secret } };
  const res = await request(stack.app).post('/v1/integrations').set(auth).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

function deliver(app: Express, integrationId: string, secret: string, address: string, eventId = 'evt-1') {
  const body = JSON.stringify({ id: eventId, entity: 'products', data: { StokKodu: 'SKU-1', UrunAdi: 'Simit' } });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
  return request(app)
    .post(`/v1/integrations/${integrationId}/webhooks`)
    .set({ 'content-type': 'application/json', 'x-forwarded-for': address, 'x-webhook-timestamp': timestamp, 'x-webhook-signature': signature })
    .send(body);
}

/** Statuses of `n` deliveries sent one after another. */
async function statuses(n: number, send: () => PromiseLike<{ status: number }>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send()).status);
  return out;
}

const accepted = (status: number) => status === 200 || status === 202;

describe('ERP webhook rate limits', () => {
  it('a flood of forged deliveries from the same address neither refuses the genuine sender nor spends its budget', async () => {
    const app = stack.makeApp({ rateLimits: limits({ ip: 5, webhook: 10 }), trustProxy: true });
    const address = freshAddress();
    const id = await webhookIntegration('whsec_genuine');

    const forged = await statuses(20, () => deliver(app, id, 'whsec_forged', address, 'evt-forged'));
    expect(forged.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(forged.slice(5).every((s) => s === 429)).toBe(true);

    // The first stores the event (202); the other nine are the ERP's redeliveries of it.
    const genuine = await statuses(10, () => deliver(app, id, 'whsec_genuine', address));
    expect(genuine.every(accepted), genuine.join(',')).toBe(true);
    const over = await deliver(app, id, 'whsec_genuine', address);
    expect(over.status).toBe(429);
    expect(over.body.error.message).toContain('(webhook)');
  });

  it('accepts verified deliveries past the per-address limit, up to the integration budget, and integrations do not share it', async () => {
    const app = stack.makeApp({ rateLimits: limits({ ip: 60, webhook: 80 }), trustProxy: true });
    const address = freshAddress();
    const [busy, quiet] = [await webhookIntegration('whsec_busy'), await webhookIntegration('whsec_quiet')];

    const busyStatuses = await statuses(80, () => deliver(app, busy, 'whsec_busy', address));
    expect(busyStatuses.filter(accepted)).toHaveLength(80);
    const over = await deliver(app, busy, 'whsec_busy', address);
    expect(over.status).toBe(429);
    expect(over.headers['retry-after']).toMatch(/^\d+$/);

    const quietStatuses = await statuses(3, () => deliver(app, quiet, 'whsec_quiet', address));
    expect(quietStatuses.every(accepted), quietStatuses.join(',')).toBe(true);
  });
});
