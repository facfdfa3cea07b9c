import { execFile } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { eq, inArray, sql } from 'drizzle-orm';
import Stripe from 'stripe';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import { connections, erpIntegrations, erpRuns } from '../../src/db/schema.js';
import { FailureType } from '../../src/domain/failures.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { CredentialCipher, type CipherKey } from '../../src/secrets/credential-cipher.js';
import type { ErpPollInput } from '../../src/shared/erp-messages.js';
import { restIntegrationBody, startErpFixture, startSync, waitForRun, type ErpFixture } from '../erp/erp-fixture.js';

const STRIPE_KEY = 'sk_test_rotation_5e2a';
const STRIPE_WHSEC = 'whsec_rotation_conn';
/** The webhook secret of restIntegrationBody's credentials. */
const ERP_WHSEC = 'whsec_test';
const OLD: CipherKey = { id: 'rot-old', key: randomBytes(32) };
const NEW: CipherKey = { id: 'rot-new', key: randomBytes(32) };

let stripe: RunningStripeEmulator;
let f: ErpFixture;
beforeAll(async () => {
  stripe = await startStripeEmulator({ apiKeys: [STRIPE_KEY] });
  // API and worker after the rotation: only the new key is configured.
  f = await startErpFixture({ tokenTtlSeconds: 30, credentialKeys: [NEW], providers: [stripeFactory()] });
});
afterAll(async () => {
  await f?.close();
  await stripe?.close();
});

function stripeFactory() {
  return createStripeProviderFactory({ apiUrl: stripe.url });
}

/** The API as it was before the rotation (sealing with the old key), with its own client cache. */
function appBeforeRotation() {
  return f.stack.makeApp({ cipher: new CredentialCipher([OLD]), providers: new ProviderRegistry([stripeFactory()]) });
}

/** A tenant with a Stripe connection and an ERP integration, both sealed with the old key. */
async function tenantSealedWithOldKey() {
  const { stack, erp } = f;
  const t = await stack.createTenant();
  const before = appBeforeRotation();
  const connection = await request(before)
    .post('/v1/connections')
    .set(t.auth)
    .send({ provider: 'stripe', code: 'stripe', name: 'Stripe', credentials: { secretKey: STRIPE_KEY, webhookSecret: STRIPE_WHSEC } })
    .expect(201);
  const integration = await request(before).post('/v1/integrations').set(t.auth).send(restIntegrationBody(erp.url)).expect(201);
  await request(stack.app).put('/v1/routing/rules').set(t.auth).send({ rules: [{ name: 'stripe', priority: 10, connectionIds: [connection.body.id] }] }).expect(200);
  const ids = { tenant: t, connectionId: connection.body.id as string, integrationId: integration.body.id as string };
  expect(await keyIds(ids)).toEqual({ connection: OLD.id, integration: OLD.id });
  return ids;
}

async function keyIds(ids: { connectionId: string; integrationId: string }) {
  const { db } = f.stack.database;
  const [c] = await db.select({ keyId: connections.credentialsKeyId }).from(connections).where(eq(connections.id, ids.connectionId));
  const [i] = await db.select({ keyId: erpIntegrations.credentialsKeyId }).from(erpIntegrations).where(eq(erpIntegrations.id, ids.integrationId));
  return { connection: c?.keyId, integration: i?.keyId };
}

function erpWebhook(integrationId: string, eventId: string, secret = ERP_WHSEC) {
  const body = JSON.stringify({ id: eventId, entity: 'products', data: { StokKodu: `ROT-${eventId}`, UrunAdi: 'Rotated', Aktif: 'E' } });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
  return request(f.stack.app)
    .post(`/v1/integrations/${integrationId}/webhooks`)
    .set('content-type', 'application/json')
    .set({ 'x-webhook-timestamp': timestamp, 'x-webhook-signature': signature })
    .send(body);
}

function stripeWebhook(connectionId: string) {
  const payload = JSON.stringify({ id: `evt_${randomUUID()}`, object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_rot', object: 'payment_intent', status: 'succeeded', metadata: {} } } });
  return request(f.stack.app)
    .post(`/v1/webhooks/${connectionId}`)
    .set('Stripe-Signature', Stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_WHSEC }))
    .set('Content-Type', 'application/json')
    .send(payload);
}

async function payThroughRouting(auth: { Authorization: string }) {
  const started = await request(f.stack.app)
    .post('/v1/payments')
    .set(auth)
    .set('Idempotency-Key', randomUUID())
    .send({ amount: 1250, currency: 'EUR', country: 'DE', paymentMethod: { type: 'card', token: 'pm_card_visa' } })
    .expect(202);
  const deadline = Date.now() + 45_000;
  for (;;) {
    const res = await request(f.stack.app).get(`/v1/payments/${started.body.id}`).set(auth).expect(200);
    if (['succeeded', 'authorized', 'failed', 'canceled'].includes(res.body.status) || Date.now() > deadline) return res.body as { status: string };
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('rotating the credentials key', () => {
  it('`npm run reseal-credentials` re-seals connections and ERP integrations; with the old key dropped, ERP sync and webhooks and payments still work', async () => {
    const { stack, erp } = f;
    const ids = await tenantSealedWithOldKey();

    const run = await promisify(execFile)('npx', ['tsx', 'src/secrets/reseal-cli.ts'], {
      env: { ...process.env, DATABASE_URL: inject('databaseUrl'), LOG_LEVEL: 'info', CREDENTIALS_KEYS: [NEW, OLD].map((k) => `${k.id}:${k.key.toString('base64')}`).join(',') },
      // Exits 1 when rows of other suites (sealed with their own keys) could not be opened.
    }).catch((err: { stdout: string }) => err);
    const done = run.stdout.split('\n').find((line) => line.includes('"msg":"reseal done"'));
    expect(done, run.stdout).toBeDefined();
    const tables = (JSON.parse(done!) as { tables: { resourceType: string }[] }).tables.map((t) => t.resourceType);
    expect(tables).toEqual(expect.arrayContaining(['connection', 'integration']));
    expect(await keyIds(ids)).toEqual({ connection: NEW.id, integration: NEW.id });
    // The ERP ciphertext is still stored the way it was (base64 text), now under the new key.
    const [stored] = await stack.database.db.select({ c: sql<string>`credentials_ciphertext` }).from(erpIntegrations).where(eq(erpIntegrations.id, ids.integrationId));
    expect(stored!.c).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(stored!.c).not.toContain('gizli');

    // Only the new key from here on: the API and the worker of the stack.
    erp.put('urunler', { StokKodu: 'ROT-POLL', UrunAdi: 'Polled', Aciklama: '', Aktif: 'E' }, Date.UTC(2026, 0, 2));
    const check = await request(stack.app).post(`/v1/integrations/${ids.integrationId}/test-connection`).set(ids.tenant.auth).expect(200);
    expect(check.body).toMatchObject({ status: 'completed', ok: true });
    const runId = await startSync(stack, ids.tenant.auth, ids.integrationId, 'products', 'full');
    const synced = await waitForRun(stack, ids.tenant.auth, ids.integrationId, runId);
    expect(synced.status, JSON.stringify(synced.errors)).toBe('succeeded');
    expect(synced.counts.upserted).toBeGreaterThanOrEqual(1);

    const hook = await erpWebhook(ids.integrationId, 'evt-rotated');
    expect([200, 202], JSON.stringify(hook.body)).toContain(hook.status);

    expect((await payThroughRouting(ids.tenant.auth)).status).toBe('succeeded');
    expect((await stripeWebhook(ids.connectionId)).status).toBe(200);
  });

  it('with the old key dropped before re-sealing, every route that needs the credentials answers 409 (never 5xx) and the worker fails without retrying', async () => {
    const { stack } = f;
    const ids = await tenantSealedWithOldKey();
    const auth = ids.tenant.auth;

    const answers = {
      'ERP webhook': await erpWebhook(ids.integrationId, 'evt-stranded'),
      'ERP test-connection': await request(stack.app).post(`/v1/integrations/${ids.integrationId}/test-connection`).set(auth),
      'ERP sync': await request(stack.app).post(`/v1/integrations/${ids.integrationId}/sync`).set(auth).send({ entity: 'products', mode: 'full' }),
      'connection test': await request(stack.app).post(`/v1/connections/${ids.connectionId}/test`).set(auth),
      'connection health': await request(stack.app).get(`/v1/connections/${ids.connectionId}/health`).set(auth),
      'gateway webhook': await stripeWebhook(ids.connectionId),
    };
    for (const [route, res] of Object.entries(answers)) {
      expect({ route, status: res.status, code: res.body.error?.code }).toEqual({ route, status: 409, code: 'credentials_key_unavailable' });
      expect(res.body.error.message).toContain(`"${OLD.id}"`);
      expect(res.body.error.message).toContain('CREDENTIALS_KEYS');
    }
    expect(answers['ERP webhook'].body.error.message).toMatch(/run reseal-credentials, or re-enter the credentials/);

    // A scheduled run (it does not pass the API): the activity fails once, typed and non-retryable.
    const workflowId = `rotation-stranded-${randomUUID()}`;
    const input: ErpPollInput = { tenantId: ids.tenant.id, integrationId: ids.integrationId, entity: 'products', mode: 'full', trigger: 'schedule' };
    const handle = await stack.temporal.workflow.start('erpPollWorkflow', { taskQueue: stack.taskQueues.erp, workflowId, args: [input] });
    const failure = await handle.result().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const activity = (failure as WorkflowFailedError).cause;
    expect(activity).toBeInstanceOf(ActivityFailure);
    const cause = activity!.cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: FailureType.CredentialsKeyMissing, nonRetryable: true });
    expect(cause.message).toContain(`"${OLD.id}"`);
    const history = await handle.fetchHistory();
    const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    expect(attempts.every((a) => a === 1)).toBe(true);
    const [failedRun] = await stack.database.db.select().from(erpRuns).where(eq(erpRuns.workflowId, workflowId));
    expect(failedRun).toMatchObject({ status: 'failed' });
    expect(failedRun!.errors.map((e) => e.message).join()).toContain('CREDENTIALS_KEYS');

    // Re-entering the credentials seals them with the configured key: the integration works again.
    await request(stack.app).patch(`/v1/integrations/${ids.integrationId}`).set(auth).send({ credentials: { username: 'entegrasyon', password: 'gizli', webhookSecret: ERP_WHSEC } }).expect(200);
    expect([200, 202]).toContain((await erpWebhook(ids.integrationId, 'evt-healed')).status);
  });

  it('a ciphertext moved onto another row answers 409 credentials_undecryptable on the webhooks, not 500', async () => {
    const { stack } = f;
    const a = await tenantSealedWithOldKey();
    const b = await tenantSealedWithOldKey();
    // Re-seal both with the configured key through the API, then move A's ciphertexts onto B's rows.
    const heal = (ids: typeof a) =>
      Promise.all([
        request(stack.app).patch(`/v1/integrations/${ids.integrationId}`).set(ids.tenant.auth).send({ credentials: { username: 'u', password: 'p', webhookSecret: ERP_WHSEC } }).expect(200),
        request(stack.app).patch(`/v1/connections/${ids.connectionId}`).set(ids.tenant.auth).send({ credentials: { secretKey: STRIPE_KEY, webhookSecret: STRIPE_WHSEC } }).expect(200),
      ]);
    await heal(a);
    await heal(b);
    const { db } = stack.database;
    const [integrationA] = await db.select().from(erpIntegrations).where(eq(erpIntegrations.id, a.integrationId));
    const [connectionA] = await db.select().from(connections).where(eq(connections.id, a.connectionId));
    await db.update(erpIntegrations).set({ credentialsCiphertext: integrationA!.credentialsCiphertext }).where(eq(erpIntegrations.id, b.integrationId));
    await db.update(connections).set({ credentialsCiphertext: connectionA!.credentialsCiphertext, credentialsVersion: 7 }).where(inArray(connections.id, [b.connectionId]));

    for (const res of [await erpWebhook(b.integrationId, 'evt-moved'), await stripeWebhook(b.connectionId)]) {
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 409, code: 'credentials_undecryptable' });
      expect(res.body.error.message).toContain('re-enter the credentials');
    }
  });
});
