import type postgres from 'postgres';

/** One insert and one POST to the emulated AcmePay, as a real charge does at the least. */
export function createBaselineActivities(deps: { sql: postgres.Sql; gatewayUrl: string; authorization: string }) {
  return {
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
