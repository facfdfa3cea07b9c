/**
 * The declarative CRM target at the adapter level: providers/democrm.yaml against the Nimbus CRM
 * emulator (its own wire format), through the egress guard. The sync engine end to end is in
 * test/customers/declarative-crm-sync.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCrmWebhook, startCrmEmulator, type CrmEmulator } from '../../emulators/crm/emulator.js';
import { normalizeFields } from '../../src/domain/customers/fields.js';
import { RemoteRateLimitedError, RemoteVersionConflictError } from '../../src/providers/crm-client.js';
import { DeclarativeCustomerAdapter } from '../../src/providers/declarative/crm.js';
import {
  createDeclarativeProviderFactory,
  loadProviderDefinitionFile,
  loadProviderDefinitions,
  ProviderDefinitionError,
  validateProviderDefinition,
  type ProviderDefinition,
} from '../../src/providers/declarative/index.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { OutboundUrlError } from '../../src/providers/url-policy.js';
import {
  GatewayError,
  InvalidCredentialsError,
  WebhookSignatureError,
  type ProviderFactory,
} from '../../src/providers/types.js';

const root = join(import.meta.dirname, '..', '..');
let crm: CrmEmulator;
let definition: ProviderDefinition;
let factory: ProviderFactory;

beforeAll(async () => {
  crm = await startCrmEmulator();
  definition = await loadProviderDefinitionFile(join(root, 'providers/democrm.yaml'));
  factory = createDeclarativeProviderFactory(definition, {
    fetch: createEgressFetch({ allowPrivateNetworks: true }),
    timeoutMs: 2000,
  });
});
afterAll(async () => crm?.close());

function connect(token = `crm_${randomBytes(8).toString('hex')}`, webhookSecret = 'crmsig_test') {
  const ctx = {
    tenantId: 't1',
    connectionId: `con_${token}`,
    credentials: { apiToken: token, webhookSecret },
    settings: { baseUrl: crm.url },
  };
  return {
    token,
    adapter: factory.customerSync!.connect(ctx) as DeclarativeCustomerAdapter,
    client: factory.create(ctx),
  };
}

const ada = normalizeFields({
  email: 'ada@example.com',
  name: 'Ada Lovelace',
  phone: '+44 20 7946 0000',
  description: 'first programmer',
  address: {
    line1: '12 St James Sq',
    line2: 'Flat 2',
    city: 'London',
    postalCode: 'SW1Y 4JH',
    country: 'GB',
  },
  metadata: { tier: 'gold' },
});

describe('providers/democrm.yaml', () => {
  it('is loaded with the other provider files and gets a customerSync capability, no payment capabilities', async () => {
    const names = (await loadProviderDefinitions(join(root, 'providers'))).map((d) => d.name);
    expect(names).toContain('democrm');
    expect(factory.customerSync).toBeDefined();
    expect(factory.capabilities).toEqual({
      currencies: [],
      countries: [],
      paymentMethods: [],
      captureModes: [],
    });
    // No payments part: a caller asking for one gets the contract's refusal, not a stub.
    expect(connect().client.payments).toBeUndefined();
  });

  it('creates a nested contact with the local id as external_ref, and reads it back in our terms', async () => {
    const { token, adapter } = connect();
    const created = await adapter.create(ada, { localId: 'cust_1', idempotencyKey: 'cust_1-v1-con' });
    expect(created).toEqual({
      remoteId: expect.stringMatching(/^ctc_/),
      fields: ada,
      localId: 'cust_1',
      deleted: false,
    });
    const post = crm.requests().find((r) => r.account === token && r.method === 'POST');
    expect(post?.idempotencyKey).toBe('cust_1-v1-con');
    expect(post?.body).toEqual({
      contact: {
        external_ref: 'cust_1',
        emails: [{ value: 'ada@example.com' }],
        full_name: 'Ada Lovelace',
        phones: [{ number: '+44 20 7946 0000' }],
        notes: 'first programmer',
        custom_fields: { tier: 'gold' },
        postal_address: {
          street_lines: ['12 St James Sq', 'Flat 2'],
          city: 'London',
          zip: 'SW1Y 4JH',
          country_code: 'GB',
        },
      },
    });
    expect(await adapter.retrieve(created.remoteId)).toEqual(created);
    // The same idempotency key answers with the first contact: no duplicate.
    expect((await adapter.create(ada, { localId: 'cust_1', idempotencyKey: 'cust_1-v1-con' })).remoteId).toBe(
      created.remoteId,
    );
    expect(crm.contacts(token)).toHaveLength(1);
  });

  it('updates with only the changed mapped fields; an array is sent whole; a removed metadata key is nulled', async () => {
    const { token, adapter } = connect();
    const { remoteId } = await adapter.create(ada, { localId: 'cust_2', idempotencyKey: 'k1' });
    const after = normalizeFields({
      ...ada,
      phone: '+44 1',
      address: { ...ada.address!, line2: null },
      metadata: { vip: 'yes' },
    });
    const updated = await adapter.update(remoteId, ada, after, { localId: 'cust_2', idempotencyKey: 'k2' });
    expect(updated.fields).toEqual(after);
    const put = crm.requests().find((r) => r.account === token && r.method === 'PUT');
    expect(put?.body).toEqual({
      contact: {
        phones: [{ number: '+44 1' }],
        postal_address: { street_lines: ['12 St James Sq', null] },
        custom_fields: { tier: null, vip: 'yes' },
      },
    });
    expect(crm.contact(token, remoteId)?.lifecycle_stage).toBe('lead'); // unmapped remote data is kept
  });

  it('deletes as a tombstone (410 reads as deleted), tolerates a second delete, and tells unknown ids apart', async () => {
    const { adapter } = connect();
    const { remoteId } = await adapter.create(ada, { localId: 'cust_3', idempotencyKey: 'k1' });
    await adapter.delete(remoteId, 'k2');
    await adapter.delete(remoteId, 'k3');
    expect(await adapter.retrieve(remoteId)).toMatchObject({ remoteId, deleted: true });
    expect(await adapter.retrieve('ctc_unknown')).toBeNull();
  });

  it('reads the change feed oldest first after a cursor, and lists contacts page by page', async () => {
    const { adapter } = connect();
    const a = await adapter.create(ada, { localId: 'cust_a', idempotencyKey: 'a' });
    const first = await adapter.changesSince(null);
    expect(first.events).toEqual([
      {
        eventId: expect.any(String),
        kind: 'created',
        remoteId: a.remoteId,
        localId: 'cust_a',
        occurredAt: expect.any(Number),
      },
    ]);
    await adapter.update(
      a.remoteId,
      ada,
      { ...ada, name: 'Ada' },
      { localId: 'cust_a', idempotencyKey: 'b' },
    );
    await adapter.delete(a.remoteId, 'c');
    const next = await adapter.changesSince(first.cursor);
    expect(next.events.map((e) => e.kind)).toEqual(['updated', 'deleted']);
    expect((await adapter.changesSince(next.cursor)).events).toEqual([]);
    await adapter.create(ada, { localId: 'cust_b', idempotencyKey: 'd' });
    expect(await adapter.list(null)).toMatchObject({
      records: [{ localId: 'cust_b', fields: ada }],
      cursor: null,
    });
  });

  it('turns a 429 into RemoteRateLimitedError carrying Retry-After, and a 5xx into a classified GatewayError', async () => {
    const { adapter } = connect();
    crm.failNext({ status: 429, retryAfter: '7', pathPrefix: '/api/v2/contacts' });
    const err = await adapter.create(ada, { localId: 'x', idempotencyKey: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteRateLimitedError);
    expect((err as RemoteRateLimitedError).retryAfterMs).toBe(7000);
    crm.failNext({ status: 503, pathPrefix: '/api/v2/contacts' });
    await expect(adapter.retrieve('ctc_x')).rejects.toMatchObject({
      classification: 'retryable',
      httpStatus: 503,
    });
  });

  it('sends through the egress guard: a strict policy refuses the emulator on loopback', async () => {
    const strict = createDeclarativeProviderFactory(definition, {
      fetch: createEgressFetch({ allowPrivateNetworks: false }),
    });
    const adapter = strict.customerSync!.connect({
      tenantId: 't',
      connectionId: 'c',
      credentials: { apiToken: 'crm_abcdefgh' },
      settings: { baseUrl: crm.url },
    });
    await expect(adapter.retrieve('ctc_1')).rejects.toThrow(OutboundUrlError);
  });

  it('verifies webhook signatures (base64 HMAC over timestamp.body) and reads customer events', () => {
    const { client: gateway } = connect(undefined, 'crmsig_secret');
    const body = JSON.stringify({
      event_id: 'evt_1',
      event_type: 'contact.updated',
      occurred_at: '2026-01-02T03:04:05.678Z',
      contact: { id: 'ctc_9', external_ref: 'cust_9' },
    });
    const headers = signCrmWebhook(body, 'crmsig_secret');
    expect(gateway.parseWebhook(Buffer.from(body), headers)).toEqual({
      eventId: 'evt_1',
      type: 'contact.updated',
    });
    expect(factory.customerSync!.customerEventOf(JSON.parse(body))).toEqual({
      eventId: 'evt_1',
      kind: 'updated',
      remoteId: 'ctc_9',
      localId: 'cust_9',
      occurredAt: Date.parse('2026-01-02T03:04:05.678Z'),
    });
    expect(() => gateway.parseWebhook(Buffer.from(body), signCrmWebhook(body, 'wrong'))).toThrow(
      WebhookSignatureError,
    );
    expect(() => gateway.parseWebhook(Buffer.from(body.replace('ctc_9', 'ctc_8')), headers)).toThrow(
      WebhookSignatureError,
    );
    expect(() =>
      gateway.parseWebhook(
        Buffer.from(body),
        signCrmWebhook(body, 'crmsig_secret', Math.floor(Date.now() / 1000) - 3600),
      ),
    ).toThrow(/tolerance/);
    expect(
      factory.customerSync!.customerEventOf({
        event_id: 'e',
        event_type: 'deal.won',
        occurred_at: 1,
        contact: { id: 'x' },
      }),
    ).toBeNull();
  });
});

describe('a CRM whose webhook bodies carry no event id', () => {
  it("takes the delivery's id: the signature's idHeader when it has one, else a SHA-256 of the raw body", () => {
    const { events, webhook } = definition.customerSync!;
    const { eventId: _dropped, ...withoutId } = events;
    const variant = (signature: object) =>
      createDeclarativeProviderFactory(
        validateProviderDefinition({ ...definition, customerSync: { ...definition.customerSync!, events: withoutId, webhook: { signature } } }),
        { fetch: createEgressFetch({ allowPrivateNetworks: true }) },
      );
    const ctx = { tenantId: 't1', connectionId: 'c1', credentials: { apiToken: 'crm_x', webhookSecret: 'crmsig_secret' }, settings: { baseUrl: crm.url } };
    const body = JSON.stringify({ event_type: 'contact.updated', occurred_at: '2026-01-02T03:04:05.678Z', contact: { id: 'ctc_9' } });

    const hashed = variant(webhook!.signature);
    const parsed = hashed.create(ctx).parseWebhook(Buffer.from(body), signCrmWebhook(body, 'crmsig_secret'));
    expect(parsed.eventId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hashed.customerSync!.customerEventOf(JSON.parse(body), parsed.eventId)).toMatchObject({ eventId: parsed.eventId, kind: 'updated', remoteId: 'ctc_9' });

    const withHeader = variant({ ...webhook!.signature, idHeader: 'X-Delivery' });
    const headers = { ...signCrmWebhook(body, 'crmsig_secret'), 'x-delivery': 'dlv_42' };
    expect(withHeader.create(ctx).parseWebhook(Buffer.from(body), headers).eventId).toBe('dlv_42');
    // With eventId mapped, a body without it is still not a customer event (the path says where it must be).
    expect(factory.customerSync!.customerEventOf(JSON.parse(body), 'dlv_42')).toBeNull();
  });
});

describe('the same CRM behind OAuth2 client credentials (auth.ts reused)', () => {
  it('fetches a token through the egress path, refreshes it once on a 401, and names refused credentials', async () => {
    const oauth = createDeclarativeProviderFactory(
      {
        ...definition,
        name: 'democrm_oauth',
        credentials: [
          { name: 'clientId' },
          { name: 'clientSecret' },
          { name: 'webhookSecret', required: false },
        ],
        auth: {
          type: 'oauth2_client_credentials',
          tokenUrl: '{{settings.baseUrl}}/oauth/token',
          clientId: '{{credentials.clientId}}',
          clientSecret: '{{credentials.clientSecret}}',
          clientAuthentication: 'basic',
        },
      },
      { fetch: createEgressFetch({ allowPrivateNetworks: true }), timeoutMs: 2000 },
    );
    const clientId = `app_${randomBytes(4).toString('hex')}`;
    crm.addClient(clientId, 'app-secret');
    const connectAs = (secret: string) =>
      oauth.customerSync!.connect({
        tenantId: 't',
        connectionId: `c_${secret}`,
        credentials: { clientId, clientSecret: secret },
        settings: { baseUrl: crm.url },
      });
    const adapter = connectAs('app-secret');
    const before = crm.tokensIssued;
    const { remoteId } = await adapter.create(ada, { localId: 'cust_o', idempotencyKey: 'o1' });
    expect(crm.contacts(`client:${clientId}`).map((c) => c.id)).toEqual([remoteId]);
    crm.revokeTokens();
    expect(await adapter.retrieve(remoteId)).toMatchObject({ remoteId, localId: 'cust_o' });
    expect(crm.tokensIssued - before).toBe(2);
    const err = await connectAs('wrong')
      .retrieve(remoteId)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidCredentialsError);
    expect((err as Error).message).not.toContain('wrong');
  });
});

describe('customerSync definitions are validated on save, naming the path', () => {
  const raw = () =>
    structuredClone(definition) as unknown as Record<string, Record<string, Record<string, unknown>>>;
  const problems = (d: unknown) => {
    try {
      validateProviderDefinition(d);
    } catch (err) {
      if (err instanceof ProviderDefinitionError) return err.problems;
      throw err;
    }
    return [];
  };

  it.each<[string, (d: ReturnType<typeof raw>) => void, string, RegExp]>([
    [
      'a bad field path',
      (d) => (d.customerSync!.fields!['email'] = 'emails[0]..value'),
      'customerSync.fields.email',
      /not a valid path/i,
    ],
    [
      'an unknown field',
      (d) => (d.customerSync!.fields!['fax'] = 'fax'),
      'customerSync.fields',
      /unrecognized key/i,
    ],
    [
      'an unknown template variable',
      (d) => ((d.customerSync!.endpoints!['update'] as { path: string }).path = '/contacts/{{reference}}'),
      'customerSync.endpoints.update.path',
      /unknown variable 'reference'.*remoteId/i,
    ],
    [
      'a missing endpoint',
      (d) => delete d.customerSync!.endpoints!['retrieve'],
      'customerSync.endpoints.retrieve',
      /expected object/i,
    ],
    [
      'an undeclared webhook secret',
      (d) =>
        ((d.customerSync!.webhook!['signature'] as { secretCredential: string }).secretCredential = 'nope'),
      'customerSync.webhook.signature.secretCredential',
      /not a declared credential/,
    ],
    [
      'a bad event kind',
      (d) => ((d.customerSync!.events!['kinds'] as Record<string, string>)['contact.merged'] = 'merged'),
      'customerSync.events.kinds.contact.merged',
      /invalid option/i,
    ],
    [
      'two fields on one path',
      (d) => (d.customerSync!.fields!['description'] = 'full_name'),
      'customerSync.fields.description',
      /'full_name' is already mapped by fields.name/,
    ],
    [
      '{{version}} where records have no version (record.version unset)',
      (d) => ((d.customerSync!.endpoints!['update'] as { headers?: Record<string, string> }).headers = { 'If-Revision': '{{version}}' }),
      'customerSync.endpoints.update.headers.If-Revision',
      /unknown variable 'version'/i,
    ],
    [
      '{{version}} outside update and delete',
      (d) => {
        d.customerSync!.record!['version'] = 'revision';
        (d.customerSync!.endpoints!['retrieve'] as { path: string }).path = '/contacts/{{remoteId}}/{{version}}';
      },
      'customerSync.endpoints.retrieve.path',
      /unknown variable 'version'.*remoteId/i,
    ],
    [
      'a conflict status that is not an error',
      (d) => ((d.customerSync!.endpoints!['update'] as { conflictStatuses?: number[] }).conflictStatuses = [200]),
      'customerSync.endpoints.update.conflictStatuses[0]',
      /400/,
    ],
    [
      'a bad version path',
      (d) => (d.customerSync!.record!['version'] = 'meta..rev'),
      'customerSync.record.version',
      /not a valid path/i,
    ],
    [
      'neither actions nor customerSync',
      (d) => delete (d as Record<string, unknown>)['customerSync'],
      'actions',
      /actions.*customerSync/,
    ],
  ])('%s', (_name, mutate, path, message) => {
    const d = raw();
    mutate(d);
    const found = problems(d);
    expect(found).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('accepts the file as is', () => {
    expect(problems(raw())).toEqual([]);
  });

  it('accepts {{version}} in update and delete once record.version says where it is; conflictStatuses default to 409 and 412', () => {
    const d = raw();
    d.customerSync!.record!['version'] = 'revision';
    (d.customerSync!.endpoints!['update'] as { headers?: Record<string, string> }).headers = { 'If-Revision': '{{version}}' };
    (d.customerSync!.endpoints!['delete'] as { query?: Record<string, string> }).query = { revision: '{{version | optional}}' };
    expect(problems(d)).toEqual([]);
    expect(validateProviderDefinition(d).customerSync!.endpoints.update.conflictStatuses).toEqual([409, 412]);
  });
});

describe('a CRM with versions (test/fixtures/providers/democrm-versioned.yaml)', () => {
  let versioned: ProviderFactory;
  beforeAll(async () => {
    versioned = createDeclarativeProviderFactory(await loadProviderDefinitionFile(join(root, 'test/fixtures/providers/democrm-versioned.yaml')), {
      fetch: createEgressFetch({ allowPrivateNetworks: true }),
      timeoutMs: 2000,
    });
  });
  const connectVersioned = () => {
    const token = `crm_${randomBytes(8).toString('hex')}`;
    const adapter = versioned.customerSync!.connect({ tenantId: 't1', connectionId: `con_${token}`, credentials: { apiToken: token }, settings: { baseUrl: crm.url } });
    return { token, adapter };
  };

  it('reads the revision, sends it as If-Revision, and turns a 409 into RemoteVersionConflictError', async () => {
    const { token, adapter } = connectVersioned();
    expect(adapter.versioned).toBe(true);
    const created = await adapter.create(ada, { localId: 'cust_v', idempotencyKey: 'k-v1' });
    expect(created.version).toBe('1');
    const link = { localId: 'cust_v', idempotencyKey: 'k-v2' };
    const renamed = await adapter.update(created.remoteId, ada, { ...ada, name: 'Ada L' }, { ...link, version: '1' });
    expect(renamed.version).toBe('2');
    await expect(adapter.update(created.remoteId, ada, { ...ada, name: 'Late' }, { ...link, version: '1' })).rejects.toBeInstanceOf(RemoteVersionConflictError);
    await expect(adapter.delete(created.remoteId, 'k-v3', '1')).rejects.toBeInstanceOf(RemoteVersionConflictError);
    expect(crm.contact(token, created.remoteId)).toMatchObject({ full_name: 'Ada L', revision: '2', archived_at: null });
    await adapter.delete(created.remoteId, 'k-v3', '2');
    // 410 is declared "no such record" here: gone reads as null, and a second delete is no failure.
    expect(await adapter.retrieve(created.remoteId)).toBeNull();
    await adapter.delete(created.remoteId, 'k-v4', '3');
  });

  it('leaves a system without versions as it was: no version read, none sent', async () => {
    const { adapter, token } = connect();
    expect(adapter.versioned).toBe(false);
    const created = await adapter.create(ada, { localId: 'cust_nv', idempotencyKey: 'k-nv1' });
    expect(created.version).toBeUndefined();
    crm.editBeforeNextWrite(created.remoteId, { notes: 'meanwhile' });
    const written = await adapter.update(created.remoteId, ada, { ...ada, name: 'Plain' }, { localId: 'cust_nv', idempotencyKey: 'k-nv2' });
    expect(written.fields).toMatchObject({ name: 'Plain', description: 'meanwhile' });
    expect(crm.contact(token, created.remoteId)?.revision).toBe('3');
  });
});

describe('GatewayError', () => {
  it('is what a refused write becomes: a hard decline with the CRM error code', async () => {
    const { adapter } = connect();
    const err = await adapter
      .update('ctc_missing', ada, { ...ada, name: 'x' }, { localId: 'l', idempotencyKey: 'k' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ classification: 'hard_decline', code: 'not_found', httpStatus: 404 });
  });
});

describe('a CRM list and change feed with a record filter', () => {
  it('skips the items that fail the filter (paths relative to the item); paging still follows the whole page', async () => {
    const d = structuredClone(definition);
    const endpoints = d.customerSync!.endpoints;
    const filtered = validateProviderDefinition({
      ...d,
      name: 'democrm_filtered',
      customerSync: {
        ...d.customerSync,
        endpoints: {
          ...endpoints,
          // Only gold contacts are ours; list pages of 2 so a page with nothing kept still leads on.
          list: { ...endpoints.list, query: { ...endpoints.list!.query, page_size: '2' }, filter: [{ path: 'custom_fields.tier', in: ['gold', 'platinum'] }] },
          changes: { ...endpoints.changes, filter: [{ path: 'action', notEquals: 'contact.deleted' }] },
        },
      },
    });
    const fx = createDeclarativeProviderFactory(filtered, { fetch: createEgressFetch({ allowPrivateNetworks: true }), timeoutMs: 2000 });
    const token = `crm_${randomBytes(8).toString('hex')}`;
    const adapter = fx.customerSync!.connect({ tenantId: 't1', connectionId: `con_${token}`, credentials: { apiToken: token, webhookSecret: 'x' }, settings: { baseUrl: crm.url } });
    const tier = (t: string) => normalizeFields({ ...ada, metadata: { tier: t } });
    await adapter.create(tier('bronze'), { localId: 'cust_1', idempotencyKey: 'f1' });
    await adapter.create(tier('silver'), { localId: 'cust_2', idempotencyKey: 'f2' });
    const gold = await adapter.create(tier('gold'), { localId: 'cust_3', idempotencyKey: 'f3' });
    const plat = await adapter.create(tier('platinum'), { localId: 'cust_4', idempotencyKey: 'f4' });
    await adapter.create(normalizeFields({ ...ada, metadata: {} }), { localId: 'cust_5', idempotencyKey: 'f5' });

    const kept: (string | null)[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await adapter.list(cursor);
      kept.push(...page.records.map((r) => r.localId));
      cursor = page.cursor;
      pages += 1;
    } while (cursor !== null);
    expect(kept).toEqual(['cust_3', 'cust_4']);
    expect(pages).toBe(3); // the first page kept nothing and was still followed

    const first = await adapter.changesSince(null);
    expect(first.events.map((e) => e.localId)).toEqual(['cust_1', 'cust_2', 'cust_3', 'cust_4', 'cust_5']);
    await adapter.delete(plat.remoteId, 'f6');
    await adapter.update(gold.remoteId, tier('gold'), tier('platinum'), { localId: 'cust_3', idempotencyKey: 'f7' });
    const next = await adapter.changesSince(first.cursor);
    // The delete is filtered out of the feed; the update is read.
    expect(next.events.map((e) => [e.kind, e.localId])).toEqual([['updated', 'cust_3']]);
  });
});
