/** GET /v1/payments pages newest first with no gap, also between payments created in the same millisecond. */
import { sql } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payments } from '../../src/db/schema.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
});
afterAll(async () => {
  await stack?.close();
});

describe('GET /v1/payments', () => {
  it('lists every payment once across pages, microseconds apart in one millisecond too', async () => {
    const t = await stack.createTenant();
    // Newest first: pay_5 (…123900) … pay_1 (…123100), all in the millisecond …123, then an older one.
    const stamps = ['2026-12-07 10:00:00.1231', '2026-12-07 10:00:00.1232', '2026-12-07 10:00:00.1235', '2026-12-07 10:00:00.1237', '2026-12-07 10:00:00.1239'];
    const ids = stamps.map((_, i) => `pay_list${t.id.slice(-6)}${i + 1}`);
    const row = (id: string, at: string) => ({
      id,
      tenantId: t.id,
      amount: 1050,
      currency: 'EUR',
      country: 'DE',
      paymentMethodType: 'card_token',
      paymentMethodToken: 'tok_success',
      captureMode: 'automatic',
      createdAt: sql`${`${at}+00`}::timestamptz`,
    });
    await stack.database.db.insert(payments).values([...stamps.map((at, i) => row(ids[i]!, at)), row(`pay_list${t.id.slice(-6)}0`, '2026-12-07 09:59:59')] as never);
    const expected = [...ids].reverse().concat(`pay_list${t.id.slice(-6)}0`);
    for (const limit of [1, 2, 4]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await request(stack.app)
          .get('/v1/payments')
          .query({ limit, ...(cursor ? { cursor } : {}) })
          .set(t.auth);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        seen.push(...(res.body.data as { id: string }[]).map((p) => p.id));
        cursor = res.body.nextCursor as string | null;
        expect(res.body.hasMore).toBe(cursor !== null);
      } while (cursor);
      expect(seen, `limit ${limit}`).toEqual(expected);
    }
  });
});
