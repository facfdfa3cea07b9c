import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { codecUiKey } from '../../src/api/routes/codec.js';
import { locateTemporalCli } from '../../src/dev/temporal-cli.js';
import { paymentBody, setUpMerchant, startPayment, startPaymentsFixture, waitForPayment, type PaymentsFixture } from '../support/payments-fixture.js';

/**
 * Issue 8: personal data stays out of Temporal's storage in clear text. A payment carrying an email,
 * a name and a description in its metadata runs end to end; its raw history, read without the codec,
 * holds none of them, and the authenticated codec endpoint turns them back into clear text.
 */

const EMAIL = 'ada.lovelace@example.com';
const NAME = 'Ada Lovelace';
const DESCRIPTION = 'Analytical engine spare parts';
const TOKEN = 'pm_card_visa';
const UI_ORIGIN = 'http://127.0.0.1:8233';

let f: PaymentsFixture;
let workflowId: string;

beforeAll(async () => {
  f = await startPaymentsFixture();
  const m = await setUpMerchant(f);
  const payment = await startPayment(f, m, { description: DESCRIPTION, metadata: { email: EMAIL, customerName: NAME } });
  workflowId = payment.workflowId;
  expect((await waitForPayment(f, m, payment.id)).status).toBe('succeeded');
});
afterAll(async () => f?.close());

/** The history as Temporal stores it, fetched by a client that has no codec. */
async function rawHistory() {
  const plain = new Client({ connection: f.stack.temporal.connection, namespace: 'default' });
  return plain.workflow.getHandle(workflowId).fetchHistory();
}

const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

async function startInput() {
  const history = await rawHistory();
  return (history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? []).map(toJson);
}

describe('payload encryption', () => {
  it('leaves no token, email, name or description in clear text in the raw history', async () => {
    const history = await rawHistory();
    const bytes = Buffer.from(proto.temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
    expect(history.events!.length).toBeGreaterThan(5);
    for (const secret of [EMAIL, NAME, DESCRIPTION, TOKEN]) expect(bytes).not.toContain(secret);
    const encodings = (await startInput()).map((p) => Buffer.from(p.metadata['encoding']!, 'base64').toString());
    expect(encodings).toEqual(['binary/encrypted']);
  });

  it('decodes through the codec endpoint for the admin token and the UI key only', async () => {
    const payloads = await startInput();
    const decoded = await request(f.stack.app).post('/codec/decode').set('Authorization', `Bearer ${f.stack.adminToken}`).send({ payloads }).expect(200);
    const clear = Buffer.from(decoded.body.payloads[0].data, 'base64').toString();
    for (const secret of [EMAIL, NAME, DESCRIPTION, TOKEN]) expect(clear).toContain(secret);
    expect(Buffer.from(decoded.body.payloads[0].metadata.encoding, 'base64').toString()).toBe('json/plain');

    const ui = await request(f.stack.app).post(`/codec/ui/${codecUiKey(f.stack.adminToken)}/decode`).set('Origin', UI_ORIGIN).send({ payloads }).expect(200);
    expect(ui.body).toEqual(decoded.body);
    expect(ui.headers['access-control-allow-origin']).toBe(UI_ORIGIN);

    const none = await request(f.stack.app).post('/codec/decode').send({ payloads });
    expect(none.status).toBe(401);
    expect(JSON.stringify(none.body)).not.toContain(EMAIL);
    await request(f.stack.app).post('/codec/decode').set('Authorization', 'Bearer not-the-admin-token').send({ payloads }).expect(401);
    await request(f.stack.app).post('/codec/ui/not-the-key/decode').send({ payloads }).expect(401);
    const tenant = await f.stack.createTenant();
    await request(f.stack.app).post('/codec/decode').set(tenant.auth).send({ payloads }).expect(401);
  });

  it('encodes for the UI, allows only the UI origin, and refuses a tampered payload with a 400', async () => {
    const admin = { Authorization: `Bearer ${f.stack.adminToken}` };
    const clear = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from(JSON.stringify({ email: EMAIL })).toString('base64') };
    const encoded = await request(f.stack.app).post('/codec/encode').set(admin).send({ payloads: [clear] }).expect(200);
    expect(Buffer.from(encoded.body.payloads[0].data, 'base64').toString('latin1')).not.toContain(EMAIL);
    const back = await request(f.stack.app).post('/codec/decode').set(admin).send(encoded.body).expect(200);
    expect(back.body.payloads[0]).toEqual(clear);

    const sealed = Buffer.from(encoded.body.payloads[0].data, 'base64');
    sealed[20] = sealed[20]! ^ 1;
    const tampered = await request(f.stack.app)
      .post('/codec/decode')
      .set(admin)
      .send({ payloads: [{ ...encoded.body.payloads[0], data: sealed.toString('base64') }] });
    expect(tampered.status).toBe(400);
    expect(tampered.body.error.message).toMatch(/failed authentication/);

    const preflight = await request(f.stack.app).options('/codec/decode').set('Origin', UI_ORIGIN).set('Access-Control-Request-Method', 'POST');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    const elsewhere = await request(f.stack.app).options('/codec/decode').set('Origin', 'https://evil.example');
    expect(elsewhere.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers an empty payload list, sent as {} or { payloads: [] }, with { payloads: [] }', async () => {
    const admin = { Authorization: `Bearer ${f.stack.adminToken}` };
    for (const op of ['decode', 'encode']) {
      for (const body of [{}, { payloads: [] }]) {
        const res = await request(f.stack.app).post(`/codec/${op}`).set(admin).send(body);
        expect({ op, body, status: res.status, answer: res.body }).toEqual({ op, body, status: 200, answer: { payloads: [] } });
      }
    }
  });

  it('lets the Temporal CLI show a history decoded (temporal workflow show --codec-endpoint --codec-auth)', async () => {
    // `?wait=` records an argument-less update in the history: the CLI decodes its empty input too.
    const m = await setUpMerchant(f);
    const waited = await request(f.stack.app)
      .post('/v1/payments?wait=10')
      .set(m.auth)
      .set('Idempotency-Key', randomUUID())
      .send(paymentBody({ metadata: { email: EMAIL, customerName: NAME } }));
    expect(waited.status, JSON.stringify(waited.body)).toBe(200);
    const cli = locateTemporalCli(process.env.TEMPORAL_CLI);
    if (cli.kind !== 'path') throw new Error('no Temporal CLI (the test setup installs one under .tools/)');
    const api = await f.stack.listen();
    const show = await promisify(execFile)(cli.path, [
      ...['workflow', 'show', '--workflow-id', waited.body.workflowId, '--address', inject('temporalAddress')],
      ...['--codec-endpoint', `${api}/codec`, '--codec-auth', `Bearer ${f.stack.adminToken}`, '--output', 'json'],
    ]).catch((err: { stderr?: string }) => expect.fail(`temporal workflow show failed: ${err.stderr}`));
    const events = (JSON.parse(show.stdout) as { events: Record<string, { input?: { payloads?: { data?: string }[] } }>[] }).events;
    const input = (name: string) => events.find((e) => e[name])?.[name]?.input;
    const started = Buffer.from(input('workflowExecutionStartedEventAttributes')?.payloads?.[0]?.data ?? '', 'base64').toString();
    for (const secret of [EMAIL, NAME]) expect(started).toContain(secret);
    expect(events.some((e) => e['workflowExecutionUpdateAcceptedEventAttributes'])).toBe(true);
  });
});
