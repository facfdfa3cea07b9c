import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeEmulator, type RunningStripeEmulator } from '../../emulators/stripe/index.js';
import { responseSchema, validateSchema } from '../support/stripe-openapi.js';

const KEY = 'sk_test_customers_suite';
let emulator: RunningStripeEmulator;
let stripe: Stripe;
let receiver: Server;
const received: { signature: string; body: string }[] = [];

beforeAll(async () => {
  emulator = await startStripeEmulator({ apiKeys: [KEY] });
  stripe = new Stripe(KEY, { host: '127.0.0.1', port: emulator.port, protocol: 'http', maxNetworkRetries: 0 });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ signature: String(req.headers['stripe-signature']), body: Buffer.concat(chunks).toString('utf8') });
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await emulator?.close();
  receiver?.close();
});

const check = (path: string, method: string, body: unknown) => expect(validateSchema(responseSchema(path, method), body)).toEqual([]);

describe('Stripe emulator: customers', () => {
  it('creates, retrieves, updates, lists, searches and deletes in Stripe wire format, with signed customer.* events', async () => {
    const { port } = receiver.address() as AddressInfo;
    const endpoint = await stripe.webhookEndpoints.create({ url: `http://127.0.0.1:${port}/hook`, enabled_events: ['customer.created', 'customer.updated', 'customer.deleted'] });

    const created = await stripe.customers.create({ email: 'ada@example.com', name: 'Ada', address: { city: 'London', country: 'GB' }, metadata: { switchyard_id: 'cust_1', tier: 'gold' } });
    check('/v1/customers', 'post', created);
    expect(created).toMatchObject({ object: 'customer', email: 'ada@example.com', address: { city: 'London', country: 'GB', line1: null }, metadata: { tier: 'gold' } });
    check('/v1/customers/{customer}', 'get', await stripe.customers.retrieve(created.id));

    const updated = await stripe.customers.update(created.id, { name: 'Ada L.', phone: '', metadata: { tier: '' } });
    check('/v1/customers/{customer}', 'post', updated);
    expect(updated).toMatchObject({ name: 'Ada L.', phone: null, metadata: { switchyard_id: 'cust_1' } });

    await stripe.customers.create({ email: 'bob@example.com' });
    const list = await stripe.customers.list({ email: 'ada@example.com' });
    check('/v1/customers', 'get', list);
    expect(list.data.map((c) => c.id)).toEqual([created.id]);
    const found = await stripe.customers.search({ query: "metadata['switchyard_id']:'cust_1'" });
    check('/v1/customers/search', 'get', found);
    expect(found.data.map((c) => c.id)).toEqual([created.id]);
    await expect(stripe.customers.search({ query: "shoe_size:'42'" })).rejects.toThrow(/unsupported search field/);

    const deleted = await stripe.customers.del(created.id);
    check('/v1/customers/{customer}', 'delete', deleted);
    expect(await stripe.customers.retrieve(created.id)).toEqual({ id: created.id, object: 'customer', deleted: true });
    await expect(stripe.customers.update(created.id, { name: 'x' })).rejects.toMatchObject({ code: 'resource_missing', statusCode: 404 });

    const events = await stripe.events.list({ types: ['customer.created', 'customer.updated', 'customer.deleted'], limit: 10 });
    check('/v1/events', 'get', events);
    expect(events.data.map((e) => e.type)).toEqual(['customer.deleted', 'customer.created', 'customer.updated', 'customer.created']);
    const update = events.data[2]!;
    expect(update.data.previous_attributes).toEqual({ name: 'Ada', metadata: { tier: 'gold' } });

    await emulator.webhooksIdle();
    expect(received).toHaveLength(4);
    for (const r of received) {
      const event = stripe.webhooks.constructEvent(r.body, r.signature, endpoint.secret!);
      expect(event.type).toMatch(/^customer\./);
      expect(validateSchema('event', event)).toEqual([]);
    }
  });

  it('answers an injected 429 with Retry-After and a Stripe rate-limit error', async () => {
    emulator.failNext({ status: 429, retryAfter: '3', pathPrefix: '/v1/customers' });
    const response = await fetch(`${emulator.url}/v1/customers`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}` } });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3');
    const body = (await response.json()) as { error: { code: string } };
    expect(validateSchema('error', body)).toEqual([]);
    expect(body.error.code).toBe('rate_limit');
  });

  it('seeds customers in bulk through its control endpoint: Stripe objects, listed and paged, with no events', async () => {
    const eventsBefore = emulator.events().length;
    const customers = Array.from({ length: 250 }, (_, i) => ({ email: `seed${i}@example.com`, name: `Seed ${i}`, metadata: { n: String(i) } }));
    const res = await fetch(`${emulator.url}/_emulator/customers/seed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ account: KEY, customers }) });
    expect(await res.json()).toEqual({ created: 250 });

    const seen: Stripe.Customer[] = [];
    for await (const c of stripe.customers.list({ limit: 100 })) if (c.email?.startsWith('seed')) seen.push(c);
    expect(seen).toHaveLength(250);
    expect(seen[0]).toMatchObject({ object: 'customer', email: 'seed249@example.com', name: 'Seed 249', metadata: { n: '249' } }); // newest first
    check('/v1/customers/{customer}', 'get', await stripe.customers.retrieve(seen[0]!.id));
    expect(emulator.events()).toHaveLength(eventsBefore);

    const bad = await fetch(`${emulator.url}/_emulator/customers/seed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ account: KEY, customers: [{ email: 7 }] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('customers[0].email');
  });
});
