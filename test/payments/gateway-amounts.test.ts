import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  setUpMerchant,
  startPayment,
  startPaymentsFixture,
  waitForPayment,
  type PaymentsFixture,
} from '../support/payments-fixture.js';

let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture();
});
afterAll(async () => f?.close());

const intentOf = (paymentId: string) =>
  f.stripe.paymentIntents().find((p) => p.metadata['payment_id'] === paymentId);

describe("amounts reach Stripe in Stripe's units", () => {
  it.each([
    // 2,500,000.00 MGA: 250,000,000 ISO minor units, 2,500,000 at Stripe (9 digits would be refused).
    ['MGA', 'MG', 250_000_000, 2_500_000],
    ['HUF', 'HU', 150_000, 150_000],
    ['ISK', 'IS', 5000, 500_000],
  ])(
    'a %s payment (%s): %i ISO minor units arrive as %i and are recorded back in ISO units',
    async (currency, country, amount, atStripe) => {
      const m = await setUpMerchant(f, (c) => [
        { name: 'stripe only', priority: 1, connectionIds: [c.stripeId] },
      ]);
      const { id } = await startPayment(f, m, { currency, country, amount });
      const paid = await waitForPayment(f, m, id);
      expect(paid.attempts[0]?.errorCode ?? null, JSON.stringify(paid.attempts)).toBeNull();
      expect(paid.status).toBe('succeeded');
      expect(intentOf(id)).toMatchObject({
        amount: atStripe,
        amount_received: atStripe,
        currency: currency.toLowerCase(),
      });
      expect(paid.amountCaptured).toBe(amount);
    },
  );

  it('a refund of an MGA payment is converted too, so it cannot refund 100x', async () => {
    const m = await setUpMerchant(f, (c) => [
      { name: 'stripe only', priority: 1, connectionIds: [c.stripeId] },
    ]);
    const { id } = await startPayment(f, m, { currency: 'MGA', country: 'MG', amount: 1_000_000 });
    expect((await waitForPayment(f, m, id)).status).toBe('succeeded');
    const refund = await request(f.stack.app)
      .post(`/v1/payments/${id}/refunds`)
      .set(m.auth)
      .set('Idempotency-Key', `${id}-r`)
      .send({ amount: 30_000 });
    expect(refund.status, JSON.stringify(refund.body)).toBeLessThan(300);
    const done = await waitForPayment(f, m, id, ['partially_refunded']);
    expect(done.amountRefunded).toBe(30_000);
    const intent = intentOf(id)!;
    const charge = f.stripe
      .events()
      .find(
        (e) =>
          e.type === 'charge.refunded' &&
          (e.data.object as { payment_intent?: string }).payment_intent === intent.id,
      );
    expect((charge?.data.object as { amount_refunded?: number }).amount_refunded).toBe(300);
  });
});

describe('definitions name the action and variable a template may not use', () => {
  it('PUT /v1/providers refuses {{country}} in a refund and accepts {{currency}} there', async () => {
    const t = await f.stack.createTenant();
    const acme = parseYaml(await readFile('providers/acmepay.yaml', 'utf8')) as {
      actions: { refund: { body: { template: Record<string, string> } } };
    };
    acme.actions.refund.body.template['country'] = '{{country}}';
    const refused = await request(f.stack.app)
      .put('/v1/providers/myacme')
      .set(t.auth)
      .send({ ...acme, name: 'myacme' })
      .expect(400);
    expect(JSON.stringify(refused.body)).toMatch(/Unknown variable 'country' in action 'refund'/);

    delete acme.actions.refund.body.template['country'];
    acme.actions.refund.body.template['currency'] = '{{currency}}';
    await request(f.stack.app)
      .put('/v1/providers/myacme')
      .set(t.auth)
      .send({ ...acme, name: 'myacme' })
      .expect(200);
  });
});
