/**
 * ERP webhooks by configuration: a connector's `webhook.signature` (parts or a preset) and
 * `webhook.envelope` (event id or a derived one, event type, the entities each type feeds, where the
 * records are), end to end through the API, the inbox and ErpWebhookWorkflow.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restIntegrationBody, readCatalog } from './erp-fixture.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.close());

const SECRET = 'erp-hook-secret';
/**
 * The example in docs/erp-integrations.md (an ERP sending `{"eventType": ..., "data": {...}}` with no
 * event id, signed `X-Erp-Signature: t=<s>,v1=<base64>`), read from the doc so the doc stays true.
 */
const doc = await readFile(join(import.meta.dirname, '../../docs/erp-integrations.md'), 'utf8');
const exampleBlock = /<!-- erp-webhook-example[^>]*-->\n```json\n([\s\S]*?)```/.exec(doc)![1]!;
const turkishErpWebhook = (JSON.parse(`{${exampleBlock}}`) as { connector: { webhook: unknown } }).connector.webhook;

function integrationBody(webhook: unknown): Record<string, unknown> {
  const body = restIntegrationBody('http://127.0.0.1:9');
  return { ...body, type: 'webhook', connector: { ...body.connector, webhook }, credentials: { ...body.credentials, webhookSecret: SECRET } };
}

async function setUp(webhook: unknown) {
  const t = await stack.createTenant();
  const res = await request(stack.app).post('/v1/integrations').set(t.auth).send(integrationBody(webhook));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id = res.body.id as string;
  const post = (body: string, headers: Record<string, string>) =>
    request(stack.app).post(`/v1/integrations/${id}/webhooks`).set('content-type', 'application/json').set(headers).send(body);
  const webhookRuns = async () =>
    ((await request(stack.app).get(`/v1/integrations/${id}/runs`).set(t.auth).expect(200)).body.data as { trigger: string; entity: string }[]).filter(
      (r) => r.trigger === 'webhook',
    );
  return { t, id, post, webhookRuns };
}

function erpSignature(body: string, secret = SECRET, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  return { 'x-erp-signature': `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('base64')}` };
}

describe('ERP webhook envelopes', () => {
  it('one event without an id feeds products, prices and inventory once; a redelivery is recognised by its body', async () => {
    const { t, post, webhookRuns } = await setUp(turkishErpWebhook);
    const event = JSON.stringify({ eventType: 'item.changed', data: { StokKodu: 'EV-1', UrunAdi: 'Çay', Fiyat: '1.234,50', ParaBirimi: 'TRY', Miktar: '1.200' } });

    const first = await post(event, erpSignature(event));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({
      eventId: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      duplicate: false,
      ignored: false,
      applied: true,
      runId: null,
      workflowId: null,
      counts: { read: 3, valid: 3, upserted: 3 },
    });
    expect((first.body.entities as { entity: string }[]).map((e) => e.entity)).toEqual(['products', 'prices', 'inventory']);
    expect((await readCatalog(stack, t.auth, 'products')).find((p) => p.sku === 'EV-1')).toMatchObject({ name: 'Çay' });
    expect((await readCatalog(stack, t.auth, 'prices')).find((p) => p.sku === 'EV-1')).toMatchObject({ amountMinor: 123450, currency: 'TRY', priceList: 'retail' });
    expect((await readCatalog(stack, t.auth, 'inventory')).find((p) => p.sku === 'EV-1')).toMatchObject({ quantity: 1200, warehouse: 'MERKEZ' });

    // The same body again (a new signature and timestamp): the same derived id, applied once.
    const again = await post(event, erpSignature(event, SECRET, Math.floor(Date.now() / 1000) - 5));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ eventId: first.body.eventId, duplicate: true, applied: true, counts: null });
    expect((await webhookRuns()).map((r) => r.entity).sort()).toEqual(['inventory', 'prices', 'products']);

    // A type that feeds one entity answers like the platform envelope (one run, one workflow).
    const renamed = JSON.stringify({ eventType: 'item.renamed', data: [{ StokKodu: 'EV-1', UrunAdi: 'Rize Çayı' }] });
    const one = await post(renamed, erpSignature(renamed));
    expect(one.status, JSON.stringify(one.body)).toBe(200);
    expect(one.body).toMatchObject({ duplicate: false, runId: expect.stringMatching(/^erun_/), workflowId: expect.stringMatching(/^erp-webhook-/), counts: { upserted: 1 } });
    expect((await readCatalog(stack, t.auth, 'products')).find((p) => p.sku === 'EV-1')).toMatchObject({ name: 'Rize Çayı' });
  });

  it('acknowledges an event type it does not map and stores nothing', async () => {
    const { post, webhookRuns } = await setUp(turkishErpWebhook);
    const event = JSON.stringify({ eventType: 'customer.created', data: { Kod: 'C-1' } });
    const res = await post(event, erpSignature(event));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: true, ignored: true, applied: false, duplicate: false, runId: null, workflowId: null, counts: null, entities: [] });
    expect(await webhookRuns()).toEqual([]);
  });

  it('refuses a body the envelope cannot read with a 400 naming the field, and a bad signature with a 401', async () => {
    const { post } = await setUp(turkishErpWebhook);
    const cases: [unknown, string][] = [
      [{ data: { StokKodu: 'X' } }, 'body.eventType'],
      [{ eventType: 7, data: { StokKodu: 'X' } }, 'body.eventType'],
      [{ eventType: 'item.changed', data: 'EV-1' }, 'body.data'],
      [{ eventType: 'item.changed' }, 'body.data'],
      [{ eventType: 'item.changed', data: Array.from({ length: 1001 }, () => ({ StokKodu: 'X' })) }, 'body.data'],
    ];
    for (const [event, path] of cases) {
      const body = JSON.stringify(event);
      const res = await post(body, erpSignature(body));
      expect(res.status, body.slice(0, 80)).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'validation_failed', details: [{ path }] });
    }
    const notJson = '{"eventType": ';
    expect((await post(notJson, erpSignature(notJson))).body.error.code).toBe('invalid_json');

    const event = JSON.stringify({ eventType: 'item.changed', data: { StokKodu: 'X' } });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const refusals: [Record<string, string>, string][] = [
      [erpSignature(event, 'not-the-secret'), 'signature does not match'],
      [erpSignature(event, SECRET, Math.floor(Date.now() / 1000) - 600), 'tolerance'],
      // The platform scheme is not accepted once the connector declares its own.
      [{ 'x-webhook-timestamp': timestamp, 'x-webhook-signature': `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${event}`).digest('hex')}` }, "Missing or malformed 't' in X-Erp-Signature"],
    ];
    for (const [headers, message] of refusals) {
      const res = await post(event, headers);
      expect(res.status).toBe(401);
      expect(res.body.error.message).toContain(message);
    }
  });

  it('reads the event id from the body and records from a per-type path, signed per Standard Webhooks', async () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const t = await stack.createTenant();
    const body = integrationBody({
      signature: { preset: 'standard_webhooks', secretCredential: 'hookKey' },
      envelope: { eventId: 'meta.id', type: 'meta.type', entities: { 'stock.moved': { entities: ['inventory'], records: 'payload.lines' } } },
    });
    const created = await request(stack.app)
      .post('/v1/integrations')
      .set(t.auth)
      .send({ ...body, credentials: { ...(body.credentials as object), hookKey: secret } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const event = JSON.stringify({ meta: { id: 4711, type: 'stock.moved' }, payload: { lines: [{ StokKodu: 'SW-1', Miktar: '5' }, { StokKodu: 'SW-2', Miktar: '7' }] } });
    const send = (msgId: string) =>
      request(stack.app)
        .post(`/v1/integrations/${created.body.id}/webhooks`)
        .set('content-type', 'application/json')
        .set({ 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': new Webhook(secret).sign(msgId, new Date(), event) })
        .send(event);
    const res = await send('msg_1');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ eventId: '4711', counts: { read: 2, upserted: 2 } });
    // Redelivered under a new delivery id: the event id in the body dedups it.
    expect((await send('msg_2')).body).toMatchObject({ eventId: '4711', duplicate: true });
    expect((await readCatalog(stack, t.auth, 'inventory')).filter((r) => String(r.sku).startsWith('SW-')).map((r) => r.quantity)).toEqual([5, 7]);
  });

  it('refuses to save an envelope that feeds an unmapped entity or a signature rule that does not hold together', async () => {
    const t = await stack.createTenant();
    const unmapped = integrationBody({ envelope: { type: 'kind', entities: { 'order.placed': 'orders' } } });
    const res = await request(stack.app).post('/v1/integrations').set(t.auth).send(unmapped);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toContainEqual({ path: 'body.connector.webhook.envelope.entities.order.placed', message: "'order.placed' feeds orders, which has no mapping" });

    const badSignature = integrationBody({ signature: { header: 'X-Sig', secretCredential: 'webhookSecret', signedPayload: '{{timestamp}}.{{body}}' } });
    const bad = await request(stack.app).post('/v1/integrations').set(t.auth).send(badSignature);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toContainEqual({ path: 'body.connector.webhook.signature.timestampHeader', message: expect.stringMatching(/set timestampHeader/) as string });

    const unknownEntity = integrationBody({ envelope: { type: 'kind', entities: { x: 'customers' } } });
    expect((await request(stack.app).post('/v1/integrations').set(t.auth).send(unknownEntity)).body.error.details[0].path).toBe('body.connector.webhook.envelope.entities.x');
  });
});
