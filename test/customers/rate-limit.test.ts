import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedTokenBucket } from '../../src/activities/customers/throttle.js';
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

describe('the per-connection throttle', () => {
  it('is shared by worker processes: two buckets of one connection together keep to its rate', async () => {
    const t = await setUpSyncTenant(f);
    // What two worker processes each build for the connection: 5 calls/s, bursts of 5.
    const [a, b] = [sharedTokenBucket(f.stack.database.db, t.connectionId, 5), sharedTokenBucket(f.stack.database.db, t.connectionId, 5)];
    const started = Date.now();
    const done: number[] = [];
    await Promise.all(
      [a, b].map(async (bucket) => {
        for (let i = 0; i < 10; i++) {
          await bucket.take();
          done.push(Date.now() - started);
        }
      }),
    );
    // 20 calls at 5/s after a burst of 5 (the sync workflows may have taken a token or two): at least 3 s.
    // Buckets per process would have let each do its 10 in 1 s.
    expect(Math.max(...done)).toBeGreaterThanOrEqual(2_900);
    expect(done.filter((ms) => ms < 1_000).length).toBeLessThanOrEqual(10);
  });
});
