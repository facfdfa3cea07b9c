import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { inArray } from 'drizzle-orm';
import Stripe from 'stripe';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import { createConnectionActivities } from '../../src/activities/connection-activities.js';
import { connections } from '../../src/db/schema.js';
import { FailureType } from '../../src/domain/failures.js';
import { ProviderRegistry } from '../../src/providers/registry.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { CredentialCipher, type CipherKey } from '../../src/secrets/credential-cipher.js';
import { resealCredentials } from '../../src/stores/platform/credential-reseal-store.js';
import { startTestStack, type TestStack } from '../support/stack.js';

const STRIPE_KEY = 'sk_test_reseal_4b1d';
const OLD: CipherKey = { id: 'old-k', key: randomBytes(32) };
const NEW: CipherKey = { id: 'new-k', key: randomBytes(32) };

let stack: TestStack;
let stripe: RunningStripeEmulator;
beforeAll(async () => {
  stripe = await startStripeEmulator({ apiKeys: [STRIPE_KEY] });
  stack = await startTestStack({ providers: [stripeFactory()], startWorker: false, credentialKeys: [OLD] });
});
afterAll(async () => {
  await stack?.close();
  await stripe?.close();
});

function stripeFactory() {
  return createStripeProviderFactory({ apiUrl: stripe.url });
}

/** A process that has these keys: its own registry (no client cached by another "process"). */
function processWith(keys: CipherKey[]) {
  const cipher = new CredentialCipher(keys);
  const providers = new ProviderRegistry([stripeFactory()]);
  return {
    app: stack.makeApp({ cipher, providers }),
    activities: createConnectionActivities({ db: stack.database.db, cipher, providers }),
  };
}

async function connectionsOf(auth: Record<string, string>, n: number, webhookSecret: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await request(stack.app)
      .post('/v1/connections')
      .set(auth)
      .send({ provider: 'stripe', code: `s${i}-${Math.random().toString(36).slice(2, 7)}`, name: 'Stripe', credentials: { secretKey: STRIPE_KEY, webhookSecret } })
      .expect(201);
    ids.push(res.body.id);
  }
  return ids;
}

async function keyIdsOf(ids: string[]): Promise<string[]> {
  const rows = await stack.database.db.select({ keyId: connections.credentialsKeyId }).from(connections).where(inArray(connections.id, ids));
  return rows.map((r) => r.keyId);
}

function signedEvent(secret: string) {
  const payload = JSON.stringify({ id: `evt_${Math.random().toString(36).slice(2, 12)}`, object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_x', object: 'payment_intent', status: 'succeeded', metadata: {} } } });
  return { payload, signature: Stripe.webhooks.generateTestHeaderString({ payload, secret }) };
}

describe('credential encryption keys', () => {
  it('re-seals with the first key (admin endpoint, in batches, rerunnable, concurrent-safe), then the old key can be dropped', async () => {
    const t = await stack.createTenant();
    const ids = await connectionsOf(t.auth, 5, 'whsec_reseal');
    expect(new Set(await keyIdsOf(ids))).toEqual(new Set(['old-k']));

    const rotating = processWith([NEW, OLD]);
    await request(rotating.app).post('/v1/admin/credentials/reseal').set('Authorization', 'Bearer not-the-admin-token').send({}).expect(401);
    const first = await request(rotating.app).post('/v1/admin/credentials/reseal').set('Authorization', `Bearer ${stack.adminToken}`).send({ batchSize: 2 }).expect(200);
    expect(first.body.activeKeyId).toBe('new-k');
    const connectionsReport = first.body.tables.find((x: { resourceType: string }) => x.resourceType === 'connection');
    expect(connectionsReport.resealed).toBe(5);
    // Rows of other suites in the shared test database use keys this process does not have: reported, left alone.
    expect(connectionsReport.failed.every((f: { id: string; reason: string }) => !ids.includes(f.id) && /unknown credentials key id/.test(f.reason))).toBe(true);
    expect(new Set(await keyIdsOf(ids))).toEqual(new Set(['new-k']));
    const again = await request(rotating.app).post('/v1/admin/credentials/reseal').set('Authorization', `Bearer ${stack.adminToken}`).send({}).expect(200);
    expect(again.body.tables[0].resealed).toBe(0);

    // Two runs at once split the work: every row is re-sealed exactly once.
    const more = await connectionsOf(t.auth, 6, 'whsec_reseal');
    const cipher = new CredentialCipher([NEW, OLD]);
    const [a, b] = await Promise.all([
      resealCredentials(stack.database.db, cipher, { batchSize: 1 }),
      resealCredentials(stack.database.db, cipher, { batchSize: 1 }),
    ]);
    expect(a.tables[0]!.resealed + b.tables[0]!.resealed).toBe(6);
    expect(new Set(await keyIdsOf(more))).toEqual(new Set(['new-k']));

    // The audit log says which key sealed them, never what they are.
    const audit = await request(stack.app).get(`/v1/audit-events?resourceType=connection&resourceId=${ids[0]}`).set(t.auth).expect(200);
    expect(audit.body.data[0]).toMatchObject({ action: 'connection.credentials_resealed', actor: { type: 'admin' }, changes: { fields: ['credentials'] } });
    expect(JSON.stringify(audit.body)).not.toContain(STRIPE_KEY);

    // Old key dropped: the API (webhook verification) and the worker (activities) still decrypt everything.
    const dropped = processWith([NEW]);
    for (const id of [...ids, ...more]) {
      const e = signedEvent('whsec_reseal');
      await request(dropped.app).post(`/v1/webhooks/${id}`).set('Stripe-Signature', e.signature).set('Content-Type', 'application/json').send(e.payload).expect(200);
      await expect(dropped.activities.verifyConnectionCredentials({ tenantId: t.id, connectionId: id })).resolves.toMatchObject({ provider: 'stripe' });
    }
  });

  it('a connection whose key id is not configured gets a clear 409 on the API and a typed non-retryable failure in the worker', async () => {
    const t = await stack.createTenant();
    const [id] = await connectionsOf(t.auth, 1, 'whsec_missing'); // sealed with old-k
    const dropped = processWith([NEW]);

    for (const res of [
      await request(dropped.app).post(`/v1/connections/${id}/test`).set(t.auth),
      await request(dropped.app).get(`/v1/connections/${id}/health`).set(t.auth),
      await (() => {
        const e = signedEvent('whsec_missing');
        return request(dropped.app).post(`/v1/webhooks/${id}`).set('Stripe-Signature', e.signature).set('Content-Type', 'application/json').send(e.payload);
      })(),
    ]) {
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('credentials_key_unavailable');
      expect(res.body.error.message).toContain('"old-k"');
      expect(res.body.error.message).toContain('CREDENTIALS_KEYS');
    }

    const failure = await dropped.activities.verifyConnectionCredentials({ tenantId: t.id, connectionId: id! }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: FailureType.CredentialsKeyMissing, nonRetryable: true });
    expect((failure as Error).message).toContain('old-k');

    // Replacing the credentials seals them with the active key and heals the connection.
    await request(dropped.app).patch(`/v1/connections/${id}`).set(t.auth).send({ credentials: { secretKey: STRIPE_KEY, webhookSecret: 'whsec_missing' } }).expect(200);
    await request(dropped.app).get(`/v1/connections/${id}/health`).set(t.auth).expect(200);
  });

  it('`npm run reseal-credentials` re-seals and reports progress', async () => {
    const t = await stack.createTenant();
    const ids = await connectionsOf(t.auth, 3, 'whsec_cli');
    const keys = [NEW, OLD].map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
    const run = await promisify(execFile)('npx', ['tsx', 'src/secrets/reseal-cli.ts'], {
      env: { ...process.env, DATABASE_URL: inject('databaseUrl'), CREDENTIALS_KEYS: keys, LOG_LEVEL: 'info' },
    }).catch((err: { stdout: string; stderr: string; code: number }) => err);
    expect(run.stdout).toContain('"msg":"reseal progress"');
    expect(run.stdout).toContain('"msg":"reseal done"');
    expect(new Set(await keyIdsOf(ids))).toEqual(new Set(['new-k']));
  });
});
