import type postgres from 'postgres';

/**
 * The baseline activities. chargeOnce: one insert and one POST to the emulated AcmePay, as a real
 * charge does at the least. pushCustomerOnce: one insert and one customer create at the emulated
 * Stripe (form-encoded, as Stripe takes it), as a customer's push does at the least.
 */
export function createBaselineActivities(deps: {
  sql: postgres.Sql;
  gatewayUrl: string;
  authorization: string;
  stripeUrl?: string;
  stripeAuthorization?: string;
}) {
  return {
    async pushCustomerOnce(input: { id: string; version: number }): Promise<string> {
      if (!deps.stripeUrl || !deps.stripeAuthorization) throw new Error('the baseline worker has no BENCH_STRIPE_URL');
      await deps.sql`insert into bench_baseline_pushes (id, version) values (${input.id}, ${input.version}) on conflict do nothing`;
      const res = await fetch(`${deps.stripeUrl}/v1/customers`, {
        method: 'POST',
        headers: {
          authorization: deps.stripeAuthorization,
          'content-type': 'application/x-www-form-urlencoded',
          'idempotency-key': `${input.id}-v${input.version}`,
        },
        body: new URLSearchParams({ email: `${input.id}@bench.test`, name: input.id }).toString(),
      });
      const body = (await res.json()) as { id?: string };
      if (!res.ok || !body.id) throw new Error(`stripe answered ${res.status}`);
      return body.id;
    },

    async chargeOnce(input: { id: string; amount: number }): Promise<string> {
      await deps.sql`insert into bench_baseline_charges (id, amount) values (${input.id}, ${input.amount}) on conflict do nothing`;
      const res = await fetch(`${deps.gatewayUrl}/v1/payments`, {
        method: 'POST',
        headers: { authorization: deps.authorization, 'content-type': 'application/json', 'idempotency-key': input.id },
        body: JSON.stringify({ amount: (input.amount / 100).toFixed(2), currency: 'EUR', source: 'tok_visa', capture: true, merchant_reference: input.id, country: 'DE', metadata: {} }),
      });
      const body = (await res.json()) as { payment?: { id: string } };
      if (!res.ok || !body.payment) throw new Error(`gateway answered ${res.status}`);
      return body.payment.id;
    },
  };
}
