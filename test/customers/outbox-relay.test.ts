import { eq } from 'drizzle-orm';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerOutbox } from '../../src/db/schema.js';
import { CustomerOutboxRelay } from '../../src/workers/customer-outbox-relay.js';
import { eventually } from '../support/customers-fixture.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let auth: { Authorization: string };
const relays: CustomerOutboxRelay[] = [];

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false }); // no relay but the ones made here
  auth = (await stack.createTenant()).auth;
});
afterAll(async () => {
  for (const relay of relays) await relay.stop();
  await stack?.close();
});

/** A relay that polls only once a minute: a change delivered within seconds was announced, not polled. */
function slowPollingRelay(listen: boolean): CustomerOutboxRelay {
  const relay = new CustomerOutboxRelay({
    db: stack.database.db,
    client: stack.temporal,
    taskQueue: `${stack.taskQueues.customers}-relay-test`, // no worker: the runs wait, delivery is what counts
    pollIntervalMs: 60_000,
    ...(listen ? { listen: stack.database.listen } : {}),
  });
  relays.push(relay);
  relay.start();
  return relay;
}

const delivered = async (customerId: string) =>
  (await stack.database.db.select().from(customerOutbox).where(eq(customerOutbox.customerId, customerId))).every(
    (row) => row.deliveredAt !== null,
  );

describe('the customer outbox relay', () => {
  it('delivers a committed change at once when the commit announces it (LISTEN/NOTIFY), not at its next poll', async () => {
    const relay = slowPollingRelay(true);
    await new Promise((r) => setTimeout(r, 500)); // its first poll has found the outbox empty
    const started = Date.now();
    const c = await request(stack.app).post('/v1/customers').set(auth).set('Idempotency-Key', crypto.randomUUID()).send({ name: 'Announced' }).expect(201);
    await eventually('the change delivered', async () => ((await delivered(c.body.id)) ? true : undefined), 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    await relay.stop();
  });

  it('without the announcement the same relay waits for its poll (what the test above rules out)', async () => {
    const relay = slowPollingRelay(false);
    await new Promise((r) => setTimeout(r, 500));
    const c = await request(stack.app).post('/v1/customers').set(auth).set('Idempotency-Key', crypto.randomUUID()).send({ name: 'Polled' }).expect(201);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await delivered(c.body.id)).toBe(false);
    await relay.stop();
  });
});
