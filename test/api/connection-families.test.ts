/**
 * Issue 18 item 3: a provider declares its families. A CRM-only provider's client has the connection
 * probe and webhook parts and no payments: asking it for a payment gateway is the contract's typed,
 * non-retryable refusal (not a stub that declines), while its credential check still works. A
 * payments-only provider asked for customer sync is refused the same way, before its credentials
 * are decrypted or a client is built.
 */
import { ApplicationFailure } from '@temporalio/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmEmulator, type CrmEmulator } from '../../emulators/crm/emulator.js';
import { createConnectionActivities } from '../../src/activities/connection-activities.js';
import { customerSyncAdapters } from '../../src/activities/customers/customer-sync-adapters.js';
import { loadGateway } from '../../src/activities/load-gateway.js';
import { FailureType } from '../../src/domain/failures.js';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let crm: CrmEmulator;
let fetch: EgressFetch;

beforeAll(async () => {
  crm = await startCrmEmulator();
  fetch = createEgressFetch({ allowPrivateNetworks: true });
  const democrm = createDeclarativeProviderFactory(await loadProviderDefinitionFile('providers/democrm.yaml'), { fetch });
  const acmepay = createDeclarativeProviderFactory(await loadProviderDefinitionFile('providers/acmepay.yaml'), { fetch });
  stack = await startTestStack({ providers: [democrm, acmepay], startWorker: false });
});
afterAll(async () => {
  await stack?.close();
  await crm?.close();
  await fetch?.close();
});

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('provider families', () => {
  it('a CRM-only connection has no payment gateway (typed refusal) but passes its credential check', async () => {
    const t = await stack.createTenant();
    const conn = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'democrm', code: 'crm', name: 'Nimbus CRM', credentials: { apiToken: 'crm_0123456789abcdef' }, settings: { baseUrl: crm.url } });
    expect(conn.status, JSON.stringify(conn.body)).toBe(201);
    const deps = { db: stack.database.db, cipher: stack.cipher, providers: stack.providers };

    const refused = await failureOf(loadGateway(deps, t.id, conn.body.id));
    expect(refused).toMatchObject({ type: FailureType.ConnectionUnavailable, nonRetryable: true });
    expect(refused.message).toBe('provider "democrm" does not support payments');

    const before = crm.requests().length;
    await expect(createConnectionActivities(deps).verifyConnectionCredentials({ tenantId: t.id, connectionId: conn.body.id })).resolves.toEqual({
      account: 'Nimbus CRM (demo)',
      provider: 'democrm',
    });
    expect(crm.requests().length).toBeGreaterThan(before);
  });

  it('a payments-only connection is refused customer sync before its credentials are opened', async () => {
    const t = await stack.createTenant();
    const conn = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'acmepay', code: 'acme', name: 'Acme', credentials: { accountId: 'acct_1', apiKey: 'sk_test_1' }, settings: { baseUrl: 'http://127.0.0.1:9' } });
    expect(conn.status, JSON.stringify(conn.body)).toBe(201);
    const opened: string[] = [];
    const cipher = new Proxy(stack.cipher, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop === 'open') opened.push('open');
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const adapters = customerSyncAdapters({ db: stack.database.db, cipher, providers: stack.providers });
    const refused = await failureOf(adapters(t.id, conn.body.id));
    expect(refused).toMatchObject({ type: FailureType.ConnectionUnavailable, nonRetryable: true });
    expect(refused.message).toBe('provider "acmepay" does not support customers');
    expect(opened).toEqual([]);
  });
});
