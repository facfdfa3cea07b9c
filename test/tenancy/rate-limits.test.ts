import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import type { Response } from 'express';
import { RateLimiter, type RateLimitKind, type RateLimitSettings } from '../../src/api/rate-limit.js';
import type { Db } from '../../src/db/client.js';
import { connectEmbedded } from '../../src/db/client.js';
import { createStripeProviderFactory } from '../../src/providers/stripe/index.js';
import { startTestStack, type TestStack } from '../support/stack.js';

const STRIPE_KEY = 'sk_test_rate_limits_1';

let stack: TestStack;
let stripe: RunningStripeEmulator;

beforeAll(async () => {
  stripe = await startStripeEmulator({ apiKeys: [STRIPE_KEY] });
  stack = await startTestStack({
    providers: [createStripeProviderFactory({ apiUrl: stripe.url })],
    startWorker: false,
  });
});
afterAll(async () => {
  await stack?.close();
  await stripe?.close();
});

// An hour-long window: a test never straddles a window boundary (which would reset the counts).
const limits = (l: Partial<RateLimitSettings>): RateLimitSettings => ({
  windowSeconds: 3600,
  tenant: 1000,
  ip: 1000,
  webhook: 1000,
  ...l,
});
/** Each test sends from its own (forwarded) address, so buckets of other tests never interfere. */
let addressSeq = 0;
const freshAddress = () => `203.0.113.${++addressSeq}`;

async function stripeConnection(auth: Record<string, string>, webhookSecret: string): Promise<string> {
  const res = await request(stack.app)
    .post('/v1/connections')
    .set(auth)
    .send({
      provider: 'stripe',
      code: `s-${Math.random().toString(36).slice(2, 8)}`,
      name: 'Stripe',
      credentials: { secretKey: STRIPE_KEY, webhookSecret },
    })
    .expect(201);
  return res.body.id as string;
}

function stripeEvent(secret: string | undefined) {
  const payload = JSON.stringify({
    id: `evt_${Math.random().toString(36).slice(2, 12)}`,
    object: 'event',
    type: 'payment_intent.succeeded',
    data: { object: { id: 'pi_unrelated', object: 'payment_intent', status: 'succeeded', metadata: {} } },
  });
  return {
    payload,
    signature: Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: secret ?? 'whsec_not_the_secret',
    }),
  };
}

describe('rate limits', () => {
  it('answers 429 with RateLimit headers and Retry-After once a tenant is over its limit, and tells the hook', async () => {
    const rejected: RateLimitKind[] = [];
    const app = stack.makeApp({
      rateLimits: limits({ tenant: 3 }),
      onRateLimited: (e) => rejected.push(e.kind),
    });
    const t = await stack.createTenant();
    const other = await stack.createTenant();
    for (const remaining of [2, 1, 0]) {
      const ok = await request(app).get('/v1/tenants/me').set(t.auth).expect(200);
      expect(ok.headers['ratelimit-limit']).toBe('3');
      expect(ok.headers['ratelimit-remaining']).toBe(String(remaining));
      expect(Number(ok.headers['ratelimit-reset'])).toBeGreaterThan(0);
    }
    const limited = await request(app).get('/v1/tenants/me').set(t.auth).expect(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(limited.headers['ratelimit-reset']).toBe(limited.headers['retry-after']);
    expect(rejected).toEqual(['tenant']);
    // Limits are per tenant: another tenant is not affected.
    await request(app).get('/v1/tenants/me').set(other.auth).expect(200);
  });

  it('is shared by two API instances on the same database', async () => {
    const [one, two] = [
      stack.makeApp({ rateLimits: limits({ tenant: 4 }) }),
      stack.makeApp({ rateLimits: limits({ tenant: 4 }) }),
    ];
    const t = await stack.createTenant();
    for (const app of [one, two, one, two]) await request(app).get('/v1/connections').set(t.auth).expect(200);
    await request(one).get('/v1/connections').set(t.auth).expect(429);
    await request(two).get('/v1/connections').set(t.auth).expect(429);
  });

  it('limits bad keys and tenant creation per client address; X-Forwarded-For counts only behind a trusted proxy', async () => {
    const trusting = stack.makeApp({ rateLimits: limits({ ip: 3 }), trustProxy: true });
    const guesser = freshAddress();
    for (let i = 0; i < 3; i++) {
      await request(trusting)
        .get('/v1/connections')
        .set('X-Forwarded-For', guesser)
        .set('Authorization', `Bearer sy_live_guess${i}`)
        .expect(401);
    }
    const blocked = await request(trusting)
      .get('/v1/connections')
      .set('X-Forwarded-For', guesser)
      .set('Authorization', 'Bearer sy_live_guess9');
    expect(blocked.status).toBe(429);
    expect(blocked.headers['retry-after']).toBeDefined();
    // Another address has its own bucket.
    await request(trusting)
      .get('/v1/connections')
      .set('X-Forwarded-For', freshAddress())
      .set('Authorization', 'Bearer sy_live_guess')
      .expect(401);

    const admin = freshAddress();
    for (let i = 0; i < 3; i++) {
      await request(trusting)
        .post('/v1/tenants')
        .set('X-Forwarded-For', admin)
        .set('Authorization', `Bearer ${stack.adminToken}`)
        .send({ name: `t${i}` })
        .expect(201);
    }
    await request(trusting)
      .post('/v1/tenants')
      .set('X-Forwarded-For', admin)
      .set('Authorization', `Bearer ${stack.adminToken}`)
      .send({ name: 'one too many' })
      .expect(429);

    // Without trust proxy, a client cannot pick its bucket by forging the header: all count as the socket's address.
    const untrusting = stack.makeApp({ rateLimits: limits({ ip: 3, windowSeconds: 3599 }) });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(untrusting)
        .get('/v1/connections')
        .set('X-Forwarded-For', freshAddress())
        .set('Authorization', 'Bearer sy_live_forged');
      statuses.push(res.status);
    }
    expect(statuses.at(-1)).toBe(429);
  });

  it("accepts a verified gateway's webhooks while another tenant floods the API and sends junk webhooks from the same address", async () => {
    const app = stack.makeApp({ rateLimits: limits({ tenant: 5, ip: 5, webhook: 100 }), trustProxy: true });
    const address = freshAddress();
    const victim = await stack.createTenant('victim');
    const flooder = await stack.createTenant('flooder');
    const victimConn = await stripeConnection(victim.auth, 'whsec_victim');
    const flooderConn = await stripeConnection(flooder.auth, 'whsec_flooder');

    const flood: number[] = [];
    for (let i = 0; i < 10; i++)
      flood.push(
        (await request(app).get('/v1/connections').set(flooder.auth).set('X-Forwarded-For', address)).status,
      );
    for (let i = 0; i < 10; i++) {
      const junk = stripeEvent(undefined);
      const target = i % 2 === 0 ? flooderConn : 'con_doesnotexist';
      flood.push(
        (
          await request(app)
            .post(`/v1/webhooks/${target}`)
            .set('X-Forwarded-For', address)
            .set('Stripe-Signature', junk.signature)
            .set('Content-Type', 'application/json')
            .send(junk.payload)
        ).status,
      );
    }
    expect(flood.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);

    for (let i = 0; i < 10; i++) {
      const event = stripeEvent('whsec_victim');
      const res = await request(app)
        .post(`/v1/webhooks/${victimConn}`)
        .set('X-Forwarded-For', address)
        .set('Stripe-Signature', event.signature)
        .set('Content-Type', 'application/json')
        .send(event.payload);
      expect(res.status).toBe(200);
      expect(res.body.received).toBe(true);
    }
  });

  it('gives each verified connection its own webhook bucket', async () => {
    const app = stack.makeApp({ rateLimits: limits({ webhook: 3 }) });
    const t = await stack.createTenant();
    const [busy, quiet] = [
      await stripeConnection(t.auth, 'whsec_busy'),
      await stripeConnection(t.auth, 'whsec_quiet'),
    ];
    const send = (conn: string, secret: string) => {
      const e = stripeEvent(secret);
      return request(app)
        .post(`/v1/webhooks/${conn}`)
        .set('Stripe-Signature', e.signature)
        .set('Content-Type', 'application/json')
        .send(e.payload);
    };
    for (let i = 0; i < 3; i++) expect((await send(busy, 'whsec_busy')).status).toBe(200);
    const over = await send(busy, 'whsec_busy');
    expect(over.status).toBe(429);
    expect(over.headers['retry-after']).toBeDefined();
    expect((await send(quiet, 'whsec_quiet')).status).toBe(200);
  });

  it('works on the embedded database (PGlite) of the dev run', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-pglite-'));
    const embedded = await connectEmbedded(dir);
    try {
      await embedded.migrate();
      const app = stack.makeApp({ database: embedded, rateLimits: limits({ tenant: 2 }) });
      const created = await request(app)
        .post('/v1/tenants')
        .set('Authorization', `Bearer ${stack.adminToken}`)
        .send({ name: 'embedded' })
        .expect(201);
      const auth = { Authorization: `Bearer ${created.body.apiKey}` };
      await request(app).get('/v1/tenants/me').set(auth).expect(200);
      const second = await request(app).get('/v1/tenants/me').set(auth).expect(200);
      expect(second.headers['ratelimit-remaining']).toBe('0');
      await request(app).get('/v1/tenants/me').set(auth).expect(429);
    } finally {
      await embedded.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('leases on a busy bucket', () => {
    /** A response that only collects headers (the limiter sets RateLimit-* and Retry-After on it). */
    const headersOnly = () => {
      const headers: Record<string, string> = {};
      return {
        headers,
        res: { set: (k: string, v: string) => void (headers[k.toLowerCase()] = v) } as unknown as Response,
      };
    };
    /** The database with its INSERTs counted: every lease is one upsert of the bucket row. */
    const countingInserts = () => {
      const counter = { inserts: 0 };
      const db = new Proxy(stack.database.db, {
        get(target, prop, receiver) {
          if (prop === 'insert') counter.inserts += 1;
          return Reflect.get(target, prop, receiver) as unknown;
        },
      }) as Db;
      return { db, counter };
    };
    const admitted = async (limiter: RateLimiter, key: string, n: number) => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: n }, () => limiter.consume('tenant', key, headersOnly().res)),
      );
      return outcomes.filter((o) => o.status === 'fulfilled').length;
    };

    it('counts a busy bucket in a few statements, not one per request, and never admits more than the limit', async () => {
      const { db, counter } = countingInserts();
      const limiter = new RateLimiter(db, limits({ tenant: 1200 }));
      const key = `lease-${Math.random()}`;
      expect(await admitted(limiter, key, 1000)).toBe(1000);
      // Leases double from 1 up to 24 (1/50 of the limit): about 1000 / 24 statements, not 1000.
      expect(counter.inserts).toBeLessThan(60);
      expect(await admitted(limiter, key, 400)).toBe(200);
      const refused = headersOnly();
      await expect(limiter.consume('tenant', key, refused.res)).rejects.toMatchObject({ status: 429 });
      expect(refused.headers['ratelimit-remaining']).toBe('0');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // A refused bucket is refused locally until its window ends: the flood above cost no more statements than leases.
      const before = counter.inserts;
      expect(await admitted(limiter, key, 100)).toBe(0);
      expect(counter.inserts).toBe(before);
    });

    it('shares one limit between instances under concurrent load: unused leases may refuse early, never admit more', async () => {
      const [one, two] = [
        new RateLimiter(stack.database.db, limits({ tenant: 500 })),
        new RateLimiter(stack.database.db, limits({ tenant: 500 })),
      ];
      const key = `shared-${Math.random()}`;
      const [a, b] = await Promise.all([admitted(one, key, 400), admitted(two, key, 400)]);
      expect(a + b).toBeLessThanOrEqual(500);
      // At most one lease's worth (10, 1/50 of 500) per instance can lie unused.
      expect(a + b).toBeGreaterThanOrEqual(480);
    });

    it('gives the remaining count of the whole bucket, leased hits included', async () => {
      const limiter = new RateLimiter(stack.database.db, limits({ tenant: 1000 }));
      const key = `remaining-${Math.random()}`;
      const remaining: number[] = [];
      for (let i = 0; i < 50; i++) {
        const r = headersOnly();
        await limiter.consume('tenant', key, r.res);
        remaining.push(Number(r.headers['ratelimit-remaining']));
      }
      // Leased but unused hits count as remaining: one request after another, one less each time.
      expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => 999 - i));
    });
  });
});
