import { createServer, request as httpRequest, type Server } from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agreedAfterWrite } from '../../src/activities/customers/customer-sync-activities.js';
import { normalizeFields } from '../../src/domain/customers/fields.js';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import {
  createCustomer,
  eventually,
  getCustomer,
  setUpSyncTenant,
  startCustomersFixture,
  syncedRemote,
  syncOf,
  type CustomersFixture,
  type SyncTenant,
} from '../support/customers-fixture.js';

describe('agreedAfterWrite', () => {
  const before = normalizeFields({ name: 'Ada', phone: '+44 1', email: 'ada@example.com' });
  const sent = normalizeFields({ name: 'Ada L', phone: '+44 1', email: 'ada@example.com' });

  it('takes the fields we sent from the answer and keeps the others as agreed before', () => {
    const answer = normalizeFields({ name: 'Ada L', phone: '+44 1', email: 'ada@example.com' });
    expect(agreedAfterWrite(before, sent, answer)).toEqual({ snapshot: answer, movedMeanwhile: false });
  });

  it('notices a field we did not send that moved at the remote, and does not take it as agreed', () => {
    const answer = normalizeFields({ name: 'Ada L', phone: '+44 2', email: 'ada@example.com' });
    const { snapshot, movedMeanwhile } = agreedAfterWrite(before, sent, answer);
    expect(movedMeanwhile).toBe(true);
    expect(snapshot.phone).toBe('+44 1');
    expect(snapshot.name).toBe('Ada L');
  });
});

/**
 * Stripe with an edit made by someone else in the middle of our update: the first customer update
 * that carries our idempotency key is held while another client changes `phone` on the same customer,
 * then forwarded. Stripe's answer to our update then holds the new phone.
 */
function startRacingProxy(stripe: RunningStripeEmulator): Promise<{ url: string; raced: () => number; server: Server }> {
  let raced = 0;
  const forward = (method: string, path: string, headers: Record<string, string | string[] | undefined>, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      const up = httpRequest(`${stripe.url}${path}`, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      up.on('error', reject);
      up.end(body);
    });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const ours = String(req.headers['idempotency-key'] ?? '').startsWith('cust_');
      const isUpdate = req.method === 'POST' && /^\/v1\/customers\/cus_[^/]+$/.test(req.url ?? '');
      try {
        if (ours && isUpdate && raced === 0) {
          raced += 1;
          const form = Buffer.from('phone=%2B44+999');
          await forward('POST', req.url!, { authorization: req.headers.authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(form.length) }, form);
        }
        const answer = await forward(req.method!, req.url!, req.headers, body);
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      } catch {
        res.destroy();
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, raced: () => raced, server });
    }),
  );
}

/** Stops Stripe's deliveries to the tenant: a remote edit then reaches us only when we read it. */
async function withoutWebhooks(t: SyncTenant): Promise<void> {
  for (const endpoint of (await t.sdk.webhookEndpoints.list()).data) await t.sdk.webhookEndpoints.del(endpoint.id);
}

describe('concurrent edits on both sides (Stripe)', () => {
  let f: CustomersFixture;
  let stripe: RunningStripeEmulator;
  let proxy: Awaited<ReturnType<typeof startRacingProxy>>;

  beforeAll(async () => {
    // The stack talks to Stripe through the racing proxy; the fixture's own emulator is not used.
    stripe = await startStripeEmulator();
    proxy = await startRacingProxy(stripe);
    f = await startCustomersFixture({ stripeUrl: proxy.url });
    // setUpSyncTenant's SDK and webhook endpoint must be on the emulator the stack reaches.
    Object.assign(f, { stripe });
  });
  afterAll(async () => {
    await f?.close();
    await stripe?.close();
    await new Promise((r) => proxy?.server.close(r));
  });

  it('a remote edit of another field made while we push reaches the local record', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { email: 'race@example.com', name: 'Ada', phone: '+44 1' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    await request(f.stack.app).patch(`/v1/customers/${c.id}`).set(t.auth).send({ name: 'Ada Lovelace' }).expect(200);
    await eventually('the raced update', () => (proxy.raced() > 0 ? true : undefined));

    const local = await eventually('the remote phone locally', async () => {
      const row = await getCustomer(f, t, c.id);
      return row.phone === '+44 999' ? row : undefined;
    });
    expect(local.name).toBe('Ada Lovelace');
    await syncedRemote(f, t, c.id, local.version);
    expect(await t.sdk.customers.retrieve(remoteId)).toMatchObject({ name: 'Ada Lovelace', phone: '+44 999' });
    expect((await syncOf(f, t, c.id)).conflicts).toEqual([]);
  });

  it('remote_wins holds when the remote edit comes first and the local edit of the same field follows before we heard of it', async () => {
    const t = await setUpSyncTenant(f, { enabled: true, fieldPolicies: { phone: 'remote_wins' } });
    const c = await createCustomer(f, t, { email: 'rw@example.com', name: 'Grace', phone: '+1 1' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    await withoutWebhooks(t);
    await t.sdk.customers.update(remoteId, { phone: '+1 222' });
    await request(f.stack.app).patch(`/v1/customers/${c.id}`).set(t.auth).send({ phone: '+1 333' }).expect(200);

    const local = await eventually('the remote phone locally', async () => {
      const row = await getCustomer(f, t, c.id);
      return row.phone === '+1 222' ? row : undefined;
    });
    await syncedRemote(f, t, c.id, local.version);
    expect((await t.sdk.customers.retrieve(remoteId)) as { phone: string }).toMatchObject({ phone: '+1 222' });
    const { conflicts } = await syncOf(f, t, c.id);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ field: 'phone', localValue: '+1 333', remoteValue: '+1 222', policy: 'remote_wins', decision: 'remote' });
  });

  it('most_recent keeps the local edit made after the remote one, and records the conflict', async () => {
    const t = await setUpSyncTenant(f);
    const c = await createCustomer(f, t, { email: 'mr@example.com', name: 'Alan', phone: '+1 1' });
    const remoteId = await syncedRemote(f, t, c.id, 1);
    await withoutWebhooks(t);
    await t.sdk.customers.update(remoteId, { phone: '+1 222', description: 'set at Stripe' });
    await request(f.stack.app).patch(`/v1/customers/${c.id}`).set(t.auth).send({ phone: '+1 333' }).expect(200);

    // The other field edited at Stripe arrives locally; the same field keeps the later local value.
    const local = await eventually('the remote description locally', async () => {
      const row = await getCustomer(f, t, c.id);
      return row.description === 'set at Stripe' ? row : undefined;
    });
    expect(local.phone).toBe('+1 333');
    await syncedRemote(f, t, c.id, local.version);
    expect(await t.sdk.customers.retrieve(remoteId)).toMatchObject({ phone: '+1 333', description: 'set at Stripe' });
    const { conflicts } = await syncOf(f, t, c.id);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ field: 'phone', localValue: '+1 333', remoteValue: '+1 222', policy: 'most_recent', decision: 'local' });
  });
});
