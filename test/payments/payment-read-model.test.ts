import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPaymentActivities } from '../../src/activities/payments/payment-activities.js';
import { newId } from '../../src/db/ids.js';
import { payments } from '../../src/db/schema.js';
import {
  setUpMerchant,
  startPaymentsFixture,
  type MerchantSetup,
  type PaymentsFixture,
} from '../support/payments-fixture.js';

let f: PaymentsFixture;
let m: MerchantSetup;
beforeAll(async () => {
  f = await startPaymentsFixture({ startWorker: false });
  m = await setUpMerchant(f);
});
afterAll(async () => f?.close());

const activities = () =>
  createPaymentActivities({ db: f.stack.database.db, cipher: f.stack.cipher, providers: f.stack.providers });

async function paymentIn(status: string): Promise<string> {
  const id = newId('pay');
  await f.stack.database.db.insert(payments).values({
    id,
    tenantId: m.tenantId,
    status,
    amount: 1050,
    currency: 'EUR',
    country: 'DE',
    paymentMethodType: 'card',
    paymentMethodToken: 'tok_visa',
    captureMode: 'automatic',
  });
  return id;
}

const statusOf = async (id: string) =>
  (await f.stack.database.db.select({ status: payments.status }).from(payments).where(eq(payments.id, id)))[0]
    ?.status;

describe('the payment read model moves forward only', () => {
  it('a late, older status leaves a final one as it is and answers with the status kept', async () => {
    const id = await paymentIn('succeeded');
    const a = activities();
    const facts = {
      amount: 1050,
      currency: 'EUR',
      country: 'DE',
      paymentMethodType: 'card',
      captureMode: 'automatic',
    } as const;
    expect(await a.routePayment({ paymentId: id, tenantId: m.tenantId, facts })).toMatchObject({
      status: 'succeeded',
    });
    expect(await a.failPayment({ paymentId: id, code: 'late', message: 'a late failure' })).toBe('succeeded');
    expect(await statusOf(id)).toBe('succeeded');
  });

  it('a legal move is made and answered', async () => {
    const id = await paymentIn('pending');
    expect(
      await activities().failPayment({ paymentId: id, code: 'no_route', message: 'no usable gateway' }),
    ).toBe('failed');
    expect(await statusOf(id)).toBe('failed');
  });

  it('of two concurrent final outcomes exactly one is kept, and both callers are told which', async () => {
    const a = activities();
    for (let i = 0; i < 10; i++) {
      const id = await paymentIn('processing');
      const answers = await Promise.all([
        a.failPayment({ paymentId: id, code: 'all_gateways_failed', message: 'all attempts failed' }),
        a.recordCapture({ paymentId: id, amount: 1050 }),
      ]);
      const final = await statusOf(id);
      expect(['failed', 'succeeded']).toContain(final);
      expect(answers).toEqual([final, final]);
    }
  });

  it('an unknown payment is a non-retryable failure naming it', async () => {
    await expect(
      activities().failPayment({ paymentId: 'pay_missing', code: 'x', message: 'x' }),
    ).rejects.toThrow(/payment pay_missing not found/);
  });
});
