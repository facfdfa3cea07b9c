/**
 * A worker killed while its create is on the wire to the declarative CRM (providers/democrm.yaml,
 * emulators/crm): the production worker runs as its own process, loading the definition from
 * PROVIDERS_DIR as a deployment does; a slow proxy in front of the CRM forwards the create after the
 * worker is dead, so the CRM carries out a call whose answer nobody reads.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulators/crm/emulator.js';
import {
  createDeclarativeProviderFactory,
  loadProviderDefinitionFile,
} from '../../src/providers/declarative/index.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { eventually } from '../support/customers-fixture.js';
import { startHoldingProxy } from '../support/holding-proxy.js';
import { startWorkerProcess } from '../support/processes.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/** How long the proxy holds a contact create before it reaches the CRM. */
const HOLD_MS = 1_500;

let stack: TestStack;
let crm: CrmEmulator;
let proxy: { url: string; server: Server };
let creates = 0;

beforeAll(async () => {
  crm = await startCrmEmulator();
  proxy = await startHoldingProxy({
    target: () => crm.url,
    holds: (req) => req.method === 'POST' && req.url === '/api/v2/contacts',
    onHeld: () => (creates += 1),
    holdMs: HOLD_MS,
  });
  const definition = await loadProviderDefinitionFile('providers/democrm.yaml');
  stack = await startTestStack({
    startWorker: false,
    providers: [
      createDeclarativeProviderFactory(definition, {
        fetch: createEgressFetch({ allowPrivateNetworks: true }),
      }),
    ],
  });
});
afterAll(async () => {
  await stack?.close();
  proxy?.server.close();
  await crm?.close();
});

describe('a worker killed in the middle of a sync to the declarative CRM', () => {
  it('loses no update and creates no duplicate CRM contact', async () => {
    const t = await stack.createTenant('CRM crash tenant');
    const token = `crm_${randomBytes(8).toString('hex')}`;
    const conn = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({
        provider: 'democrm',
        code: 'crm',
        name: 'Nimbus CRM',
        credentials: { apiToken: token },
        settings: { baseUrl: proxy.url, customerSync: { enabled: true } },
      })
      .expect(201);
    const child = await startWorkerProcess(stack);
    const c = (
      await request(stack.app)
        .post('/v1/customers')
        .set(t.auth)
        .set('Idempotency-Key', randomBytes(8).toString('hex'))
        .send({ email: 'crash@crm.test', name: 'Before crash' })
        .expect(201)
    ).body as { id: string };

    // Kill the worker the moment its create is on the wire; the CRM still carries it out.
    await eventually('the create on the wire', () => (creates > 0 ? true : undefined), 30_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, HOLD_MS + 300));
    expect(crm.contacts(token)).toHaveLength(1);

    // A change made while no worker runs waits in the outbox.
    await request(stack.app)
      .patch(`/v1/customers/${c.id}`)
      .set(t.auth)
      .send({ name: 'After crash' })
      .expect(200);

    await stack.startWorker();
    const remoteId = await eventually(
      'the customer in sync at v2',
      async () => {
        const sync = (await request(stack.app).get(`/v1/customers/${c.id}/sync`).set(t.auth).expect(200))
          .body as {
          systems: {
            connectionId: string;
            remoteId: string | null;
            state: string;
            lastSyncedVersion: number;
          }[];
        };
        const m = sync.systems.find((s) => s.connectionId === conn.body.id);
        return m?.remoteId && m.state === 'in_sync' && m.lastSyncedVersion >= 2 ? m.remoteId : undefined;
      },
      90_000,
    );
    // One contact, carrying the update made during the outage, linked to the local customer.
    const contacts = crm.contacts(token);
    expect(contacts.map((x) => x.id)).toEqual([remoteId]);
    expect(contacts[0]).toMatchObject({
      full_name: 'After crash',
      external_ref: c.id,
      emails: [{ value: 'crash@crm.test' }],
    });
    // The retried create was answered from the CRM's idempotency record, under the same key.
    const posts = crm
      .requests()
      .filter((r) => r.account === token && r.method === 'POST' && r.path === '/api/v2/contacts');
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(posts.map((r) => r.idempotencyKey))).toEqual(new Set([`${c.id}-v1-${conn.body.id}`]));
    const customer = (await request(stack.app).get(`/v1/customers/${c.id}`).set(t.auth).expect(200)).body as {
      version: number;
      name: string;
    };
    expect(customer).toMatchObject({ version: 2, name: 'After crash' });
  }, 150_000);
});
