import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, it, inject } from 'vitest';

const sql = postgres(inject('databaseUrl'), { max: 2, onnotice: () => {} });
afterAll(() => sql.end());

/**
 * The counts the switchyard_payments gauge reads against a full count of the payments table, in one
 * statement (one snapshot), so payments other suites write at the same time cannot skew the comparison.
 */
async function countsAgainstTable(): Promise<{ counted: Record<string, number>; actual: Record<string, number> }> {
  const [row] = await sql<{ counted: Record<string, number> | null; actual: Record<string, number> | null }[]>`
    select
      (select jsonb_object_agg(k, n) from (select status || '/' || connection_id as k, sum(n)::int as n from payment_status_counts group by 1 having sum(n) <> 0) c) as counted,
      (select jsonb_object_agg(k, n) from (select status || '/' || coalesce(connection_id, '') as k, count(*)::int as n from payments group by 1) a) as actual`;
  return { counted: row!.counted ?? {}, actual: row!.actual ?? {} };
}

describe('payment_status_counts (what the switchyard_payments gauge reads)', () => {
  it('follows inserts, status and connection changes, no-op updates and deletes exactly', async () => {
    const tenantId = `ten_counts_${randomUUID().slice(0, 8)}`;
    await sql`insert into tenants (id, name) values (${tenantId}, 'counts')`;
    const ids = Array.from({ length: 40 }, (_, i) => `pay_counts_${i}_${randomUUID().slice(0, 8)}`);
    // Concurrent writers, as payments on one connection are: rows spread over shards, no lost updates.
    await Promise.all(
      ids.map((id) => sql`insert into payments (id, tenant_id, amount, currency, country, payment_method_type, payment_method_token, capture_mode)
        values (${id}, ${tenantId}, 100, 'EUR', 'DE', 'card', 'tok', 'automatic')`),
    );
    await Promise.all(ids.slice(0, 30).map((id) => sql`update payments set status = 'processing', connection_id = 'con_counts_a' where id = ${id}`));
    await Promise.all(ids.slice(0, 20).map((id) => sql`update payments set status = 'succeeded' where id = ${id}`));
    await sql`update payments set connection_id = 'con_counts_b' where id = ${ids[25]!}`;
    await sql`update payments set description = 'no status change' where id in ${sql(ids.slice(0, 10))}`;
    await sql`update payments set status = status where id in ${sql(ids.slice(10, 15))}`;
    await sql`delete from payments where id in ${sql(ids.slice(35))}`;

    const { counted, actual } = await countsAgainstTable();
    expect(counted).toEqual(actual);
    expect(counted['succeeded/con_counts_a']).toBeGreaterThanOrEqual(20);
    expect(counted['processing/con_counts_b']).toBeGreaterThanOrEqual(1);

    await sql`delete from tenants where id = ${tenantId}`; // cascades to its payments
    const after = await countsAgainstTable();
    expect(after.counted).toEqual(after.actual);
  });
});
