import { createHmac } from 'node:crypto';
import { sql } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, readCatalog, restIntegrationBody, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';
import { spreadInterval } from '../../src/temporal/schedules.js';
import { recordHistoryIfAsked } from '../support/record-history.js';

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture({ tokenTtlSeconds: 30 });
});
afterAll(async () => {
  await f?.close();
});

function sign(body: string, timestamp: string, secret = 'whsec_test'): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

describe('ERP webhooks', () => {
  it('verify signature and timestamp, store each event once, and apply it through the mappings', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('Webhook tenant');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url));
    erp.put('urunler', { StokKodu: 'T-1', UrunAdi: 'Test', Aciklama: '', Aktif: 'E' }, Date.UTC(2026, 0, 1));
    const check = await request(stack.app).post(`/v1/integrations/${id}/test-connection`).set(t.auth).expect(200);
    expect(check.body).toMatchObject({ status: 'completed', ok: true, entity: 'products', records: 1 });
    recordHistoryIfAsked(check.body.workflowId, 'erp-connection-test-ok');
    expect(check.body.fields).toEqual(expect.arrayContaining(['StokKodu', 'UrunAdi', 'GuncellemeTarihi']));
    const post = (body: string, headers: Record<string, string>) =>
      request(stack.app).post(`/v1/integrations/${id}/webhooks`).set('content-type', 'application/json').set(headers).send(body);
    const event = JSON.stringify({ id: 'evt-1', entity: 'products', data: [{ StokKodu: 'WH-1', UrunAdi: ' Simit ', Aktif: 'E' }, { StokKodu: '', UrunAdi: 'x' }] });
    const unix = String(Math.floor(Date.now() / 1000));

    const ok = await post(event, { 'x-webhook-timestamp': unix, 'x-webhook-signature': sign(event, unix) });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toMatchObject({ duplicate: false, applied: true, counts: { read: 2, valid: 1, invalid: 1, upserted: 1 } });
    expect((await readCatalog(stack, t.auth, 'products')).find((p) => p.sku === 'WH-1')).toMatchObject({ name: 'Simit' });
    const dead = await request(stack.app).get(`/v1/integrations/${id}/dead-letters`).set(t.auth).expect(200);
    expect(dead.body.data).toHaveLength(1);

    // The same event again (an ISO 8601 timestamp this time) is acknowledged and not applied twice.
    const iso = new Date().toISOString();
    const again = await post(event, { 'x-webhook-timestamp': iso, 'x-webhook-signature': sign(event, iso) });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, counts: null });

    const refusals: [Record<string, string>, string][] = [
      [{ 'x-webhook-timestamp': unix, 'x-webhook-signature': sign(event, unix, 'wrong-secret') }, 'signature does not match'],
      [{ 'x-webhook-timestamp': unix, 'x-webhook-signature': sign(`${event} `, unix) }, 'signature does not match'],
      [{ 'x-webhook-timestamp': String(Number(unix) - 301), 'x-webhook-signature': sign(event, String(Number(unix) - 301)) }, 'outside the 300s tolerance'],
      [{ 'x-webhook-timestamp': 'yesterday', 'x-webhook-signature': sign(event, 'yesterday') }, 'Missing or malformed X-Webhook-Timestamp header'],
      [{ 'x-webhook-timestamp': unix }, 'Missing X-Webhook-Signature header'],
    ];
    for (const [headers, message] of refusals) {
      const res = await post(event.replace('evt-1', 'evt-2'), headers);
      expect(res.status).toBe(401);
      expect(res.body.error.message).toContain(message);
    }
    // Within tolerance (4 minutes old) is accepted.
    const recent = String(Number(unix) - 240);
    const fresh = JSON.stringify({ id: 'evt-3', entity: 'products', data: { StokKodu: 'WH-2', UrunAdi: 'Poğaça' } });
    expect((await post(fresh, { 'x-webhook-timestamp': recent, 'x-webhook-signature': sign(fresh, recent) })).status).toBe(200);
  });
});

describe('ERP webhook apply', () => {
  it('goes through ErpWebhookWorkflow, whose activity retries a failing database write and applies the event once', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('Webhook retry tenant');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url));
    // The first two attempts to write this SKU fail inside Postgres (a sequence survives the rollback).
    await stack.database.db.execute(sql.raw(`
      create sequence if not exists erp_webhook_test_failures;
      create or replace function erp_webhook_test_fail() returns trigger language plpgsql as $$
      begin
        if new.sku = 'FLAKY-1' and nextval('erp_webhook_test_failures') <= 2 then raise exception 'injected write failure'; end if;
        return new;
      end $$;
      create trigger erp_webhook_test_fail before insert on catalog_products for each row execute function erp_webhook_test_fail();`));
    try {
      const event = JSON.stringify({ id: 'evt-flaky', entity: 'products', data: { StokKodu: 'FLAKY-1', UrunAdi: 'Börek', Aktif: 'E' } });
      const unix = String(Math.floor(Date.now() / 1000));
      const res = await request(stack.app)
        .post(`/v1/integrations/${id}/webhooks`)
        .set('content-type', 'application/json')
        .set({ 'x-webhook-timestamp': unix, 'x-webhook-signature': sign(event, unix) })
        .send(event);
      // Acknowledged although the write failed: the event is stored, and the workflow carries the apply.
      expect([200, 202], JSON.stringify(res.body)).toContain(res.status);
      expect(res.body).toMatchObject({ duplicate: false, workflowId: expect.stringMatching(/^erp-webhook-ewe_/) });
      const handle = stack.temporal.workflow.getHandle(res.body.workflowId as string);
      expect(await handle.result()).toMatchObject({ runId: res.body.runId, counts: { read: 1, valid: 1, upserted: 1 } });
      recordHistoryIfAsked(res.body.workflowId as string, 'erp-webhook-retried-apply');
      const history = await handle.fetchHistory();
      const attempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
      expect(attempts).toEqual([3]);
      expect((await readCatalog(stack, t.auth, 'products')).filter((p) => p.sku === 'FLAKY-1')).toMatchObject([{ name: 'Börek', active: true }]);
      const run = (await request(stack.app).get(`/v1/integrations/${id}/runs/${res.body.runId}`).set(t.auth).expect(200)).body;
      expect(run).toMatchObject({ trigger: 'webhook', status: 'succeeded', workflowId: res.body.workflowId, counts: { upserted: 1 } });

      // A redelivery is a duplicate: no second workflow run, no second apply.
      const again = await request(stack.app)
        .post(`/v1/integrations/${id}/webhooks`)
        .set('content-type', 'application/json')
        .set({ 'x-webhook-timestamp': unix, 'x-webhook-signature': sign(event, unix) })
        .send(event);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ duplicate: true, applied: true, workflowId: res.body.workflowId });
      const runs = (await request(stack.app).get(`/v1/integrations/${id}/runs`).set(t.auth).expect(200)).body.data as { trigger: string }[];
      expect(runs.filter((r) => r.trigger === 'webhook')).toHaveLength(1);
    } finally {
      await stack.database.db.execute(sql.raw('drop trigger if exists erp_webhook_test_fail on catalog_products'));
    }
  }, 60_000);
});

describe('failing runs', () => {
  it('pause the schedules after N failures in a row, with the reason visible', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('Failing tenant');
    const body = restIntegrationBody(erp.url);
    const id = await createIntegration(stack, t.auth, {
      ...body,
      credentials: { ...body.credentials, password: 'yanlis' },
      settings: { ...body.settings, pauseAfterFailures: 2 },
    });
    const check = await request(stack.app).post(`/v1/integrations/${id}/test-connection`).set(t.auth).expect(200);
    expect(check.body).toMatchObject({ status: 'completed', ok: false, code: 'ErpCredentialsRefused' });
    const schedule = stack.temporal.schedule.getHandle(`erp-${id}-products`);
    const created = await schedule.describe();
    expect(created.state.paused).toBe(false);
    // It fires at a phase of its own (a stable offset from its id), not on the epoch-aligned tick.
    const [interval] = created.spec.intervals ?? [];
    const every = Number(interval?.every) / 1000;
    const offset = Number(String(spreadInterval(every, `erp-${id}-products`).intervals![0]!.offset).replace(/s$/, '')) * 1000;
    expect(interval).toEqual({ every: every * 1000, offset });

    for (let i = 1; i <= 2; i++) {
      const run = await waitForRun(stack, t.auth, id, await startSync(stack, t.auth, id, 'products', 'full'));
      expect(run.status).toBe('failed');
      expect(run.errors.at(-1)?.message).toContain('refused');
      const integration = (await request(stack.app).get(`/v1/integrations/${id}`).set(t.auth).expect(200)).body;
      expect(integration.consecutiveFailures).toBe(i);
      expect(integration.status).toBe(i < 2 ? 'active' : 'paused');
    }
    const integration = (await request(stack.app).get(`/v1/integrations/${id}`).set(t.auth).expect(200)).body;
    expect(integration.pausedReason).toMatch(/paused after 2 failed runs in a row; last error: .*refused/);
    const described = await schedule.describe();
    expect(described.state.paused).toBe(true);
    expect(described.state.note).toBe(integration.pausedReason);

    // Resume clears the streak and unpauses the schedule.
    const resumed = (await request(stack.app).post(`/v1/integrations/${id}/resume`).set(t.auth).expect(200)).body;
    expect(resumed).toMatchObject({ status: 'active', pausedReason: null, consecutiveFailures: 0 });
    expect((await schedule.describe()).state.paused).toBe(false);
  }, 120_000);
});

describe('scheduled runs', () => {
  it('of several entities firing at the same moment each get their own run', async () => {
    const { stack, erp } = f;
    const t = await stack.createTenant('Schedule tenant');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url));
    await Promise.all(['products', 'prices', 'inventory'].map((e) => stack.temporal.schedule.getHandle(`erp-${id}-${e}`).trigger()));
    const deadline = Date.now() + 90_000;
    let runs: { entity: string; status: string; trigger: string; workflowId: string }[] = [];
    while (runs.filter((r) => r.status === 'succeeded').length < 3) {
      if (Date.now() > deadline) throw new Error(`scheduled runs did not finish: ${JSON.stringify(runs)}`);
      await new Promise((r) => setTimeout(r, 300));
      runs = (await request(stack.app).get(`/v1/integrations/${id}/runs`).set(t.auth).expect(200)).body.data;
    }
    expect(runs.map((r) => r.entity).sort()).toEqual(['inventory', 'prices', 'products']);
    expect(runs.every((r) => r.trigger === 'schedule' && r.workflowId.startsWith(`erp-${id}-${r.entity}-`))).toBe(true);
  }, 120_000);
});

