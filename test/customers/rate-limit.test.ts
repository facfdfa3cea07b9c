import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomer, setUpSyncTenant, startCustomersFixture, syncedRemote, type CustomersFixture } from '../support/customers-fixture.js';

let f: CustomersFixture;
beforeAll(async () => {
  f = await startCustomersFixture();
});
afterAll(async () => f?.close());

describe("Stripe's 429", () => {
  it('is retried no sooner than its Retry-After, with the same idempotency key, and the customer is created once', async () => {
    const t = await setUpSyncTenant(f);
    f.stripe.failNext({ status: 429, retryAfter: '4', pathPrefix: '/v1/customers', method: 'POST' });
    const c = await createCustomer(f, t, { name: 'Throttled' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    const creates = f.stripe.requests().filter((r) => r.account === t.secretKey && r.method === 'POST' && r.path === '/v1/customers');
    expect(creates.map((r) => r.status)).toEqual([429, 200]);
    expect(creates[0]!.idempotencyKey).toBe(creates[1]!.idempotencyKey);
    const waited = Date.parse(creates[1]!.at) - Date.parse(creates[0]!.at);
    expect(waited).toBeGreaterThanOrEqual(3900);
    expect((await t.sdk.customers.list({ limit: 100 })).data.map((x) => x.id)).toEqual([remoteId]);
  });
});
