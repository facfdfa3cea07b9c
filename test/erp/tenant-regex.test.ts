/**
 * Tenant patterns on the real path: a pattern that backtracks polynomially in V8 (accepted on save,
 * as RE2 runs it in linear time) dead-letters its adversarial row while the webhook completes in one
 * activity attempt; a stored mapping RE2 refuses fails the run as Misconfigured without retries.
 */
import { createHmac } from 'node:crypto';
import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erpIntegrations } from '../../src/db/tables/erp.js';
import { createIntegration, restIntegrationBody, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture({ tokenTtlSeconds: 30 });
});
afterAll(async () => {
  await f?.close();
});

const POLYNOMIAL = '\\d*\\d*\\d*\\d*\\d*\\d*\\d*\\d*x';

function signed(body: string) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `sha256=${createHmac('sha256', 'whsec_test').update(`${timestamp}.${body}`).digest('hex')}`;
  return { 'content-type': 'application/json', 'x-webhook-timestamp': timestamp, 'x-webhook-signature': signature };
}

/** Attempts of each activity task the workflow started, from its history. */
async function activityAttempts(workflowId: string): Promise<number[]> {
  const history = await f.stack.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt!);
}

function withSkuPattern(body: ReturnType<typeof restIntegrationBody>, pattern: string) {
  const [sku, ...rest] = body.mappings.products;
  return { ...body, mappings: { ...body.mappings, products: [{ ...sku!, transformation: { type: 'regex', pattern, group: 0 } }, ...rest] } };
}

describe('tenant regex on a worker', () => {
  it('dead-letters a row whose value would stall a backtracking engine; the webhook completes in one attempt', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('Regex tenant');
    const id = await createIntegration(stack, t.auth, withSkuPattern(restIntegrationBody(erp.url), POLYNOMIAL));
    const adversarial = '1'.repeat(120);
    const overCap = '1'.repeat(10_001);
    const event = JSON.stringify({
      id: 'evt-redos',
      entity: 'products',
      data: [
        { StokKodu: adversarial, UrunAdi: 'Stall', Aktif: 'E' },
        { StokKodu: overCap, UrunAdi: 'Long', Aktif: 'E' },
        { StokKodu: '42x', UrunAdi: 'Simit', Aktif: 'E' },
      ],
    });
    const res = await request(stack.app).post(`/v1/integrations/${id}/webhooks`).set(signed(event)).send(event);
    // Applied within the answer's wait: the worker was not stalled by the pattern.
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ applied: true, counts: { read: 3, valid: 1, invalid: 2, upserted: 1 } });
    expect(await activityAttempts(res.body.workflowId as string)).toEqual([1]);

    const dead = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    const errors = (dead.body.data as { raw: { StokKodu: string }; errors: { field: string; message: string }[] }[])
      .map((d) => ({ length: d.raw.StokKodu.length, errors: d.errors }))
      .sort((a, b) => a.length - b.length);
    expect(errors).toEqual([
      { length: 120, errors: [{ field: 'sku', message: `'${adversarial}' does not match /${POLYNOMIAL}/` }] },
      { length: 10_001, errors: [{ field: 'sku', message: `value of 10001 characters is longer than the 10000 /${POLYNOMIAL}/ may run over` }] },
    ]);
  }, 60_000);

  it('fails a run whose stored mapping RE2 refuses as Misconfigured, without retries, and the webhook with a 409', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('Stale pattern tenant');
    const body = restIntegrationBody(erp.url);
    const id = await createIntegration(stack, t.auth, body);
    // Saved before patterns ran in RE2: a lookahead V8 accepted, which RE2 cannot run.
    const stale = withSkuPattern(body, '^(?=SKU)\\w+').mappings;
    await stack.database.db.update(erpIntegrations).set({ mappings: stale, updatedAt: new Date() }).where(eq(erpIntegrations.id, id));

    const runId = await startSync(stack, t.auth, id, 'products', 'full');
    const run = await waitForRun(stack, t.auth, id, runId, 30_000);
    expect(run.status).toBe('failed');
    expect(run.errors.at(-1)?.message).toMatch(/^the products mapping does not compile: .*not an RE2 pattern .*`\(\?=`.*products\[0\]\.transformation\[0\]\.pattern/);
    const { workflowId } = (await request(stack.app).get(`/v1/integrations/${id}/runs/${runId}`).set(t.auth).expect(200)).body as { workflowId: string };
    // openErpRun, syncErpPages once, finishErpRun: each in its first attempt.
    expect(await activityAttempts(workflowId)).toEqual([1, 1, 1]);

    const event = JSON.stringify({ id: 'evt-stale', entity: 'products', data: { StokKodu: 'SKU1', UrunAdi: 'x' } });
    const res = await request(stack.app).post(`/v1/integrations/${id}/webhooks`).set(signed(event)).send(event);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'mapping_invalid', message: expect.stringContaining('the products mapping does not compile: ') });
  }, 60_000);
});
