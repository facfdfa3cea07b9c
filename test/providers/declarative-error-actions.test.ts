/**
 * `onError` rules of CRM endpoints and ERP REST streams, against a small local server that answers
 * what each test scripts (over real HTTP, through the egress guard): every action, a 200 that means
 * "throttled", and a 403 that means "token expired" with session and OAuth2 auth.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemoteRateLimitedError, type CustomerSyncAdapter } from '../../src/providers/crm-client.js';
import { createDeclarativeProviderFactory, validateProviderDefinition, type ProviderDefinitionInput } from '../../src/providers/declarative/index.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { connectorSchema, restConnectorSchema } from '../../src/providers/erp/connector-definition.js';
import { createRestSource } from '../../src/providers/erp/rest-source.js';
import { ErpConfigurationError, ErpRateLimitedError, ErpUnavailableError } from '../../src/providers/erp/source.js';
import { GatewayError, InvalidCredentialsError } from '../../src/providers/types.js';

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Answers the scripted answers to /api/records… in turn, then `{items: [...]}`/a record; logins hand out sess-N / oat-N. */
let server: { url: string; script: Answer[]; logins: number; auths: (string | undefined)[]; close(): Promise<void> };
let egress: EgressFetch;

beforeEach(async () => {
  const state = { script: [] as Answer[], logins: 0, auths: [] as (string | undefined)[] };
  const http = createServer((req, res) => {
    const send = (a: Answer) => {
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(JSON.stringify(a.body));
    };
    req.resume();
    if (req.url === '/api/login') return send({ status: 200, body: { data: { token: `sess-${++state.logins}` } } });
    if (req.url === '/oauth/token') return send({ status: 200, body: { access_token: `oat-${++state.logins}`, token_type: 'Bearer', expires_in: 3600 } });
    state.auths.push(req.headers.authorization);
    const scripted = state.script.shift();
    if (scripted) return send(scripted);
    const id = /^\/api\/records\/([^/?]+)/.exec(req.url ?? '')?.[1];
    return send({ status: 200, body: id ? { id, email: `${id}@example.com` } : { items: [{ id: 'a' }, { id: 'b' }] } });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  server = Object.assign(state, {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => http.close(() => r())),
  });
  egress = createEgressFetch({ allowPrivateNetworks: true });
});
afterEach(async () => {
  await egress?.close();
  await server?.close();
});

const SESSION_AUTH = {
  type: 'session_token',
  login: { method: 'POST', path: '/login', body: { encoding: 'json', template: { user: 'u' } } },
  tokenPath: 'data.token',
  apply: { header: 'Authorization', value: 'Bearer {{token}}' },
};
const OAUTH_AUTH = { type: 'oauth2_client_credentials', tokenUrl: '{{settings.baseUrl}}/oauth/token', clientId: 'app', clientSecret: 's3cret' };

const RULES = [
  { httpStatus: 403, bodyPath: 'code', bodyEquals: 'token_expired', action: 'refresh_auth' },
  { httpStatus: 200, bodyPath: 'error', bodyEquals: 'throttled', action: 'rate_limited' },
  { httpStatus: [400, 499], bodyPath: 'error', bodyMatches: '^no (such|records)', action: 'ignore' },
  { httpStatus: 409, action: 'retry', message: 'the record is being edited' },
  { httpStatus: 422, bodyPath: 'locked', bodyEquals: true, action: 'fail', message: 'the record is locked' },
];

/** The rules on retrieve and delete; create and update take them without `ignore` (refused there). */
function crmDefinition(auth: Record<string, unknown>, onError: unknown[] = RULES, writeRules = RULES.filter((r) => r.action !== 'ignore')): ProviderDefinitionInput {
  const endpoint = (method: string, path: string, rules: unknown[] = onError) => ({ method, path, onError: rules });
  return {
    name: 'errcrm',
    displayName: 'Err CRM',
    version: '1',
    baseUrl: '{{settings.baseUrl}}/api',
    settings: [{ name: 'baseUrl' }],
    auth,
    customerSync: {
      record: { id: 'id' },
      fields: { email: 'email' },
      endpoints: {
        create: endpoint('POST', '/records', writeRules),
        update: endpoint('PATCH', '/records/{{remoteId}}', writeRules),
        delete: endpoint('DELETE', '/records/{{remoteId}}'),
        retrieve: endpoint('GET', '/records/{{remoteId}}'),
      },
      events: { eventId: 'id', type: 'type', kinds: { updated: 'updated' }, remoteId: 'id', occurredAt: 'at' },
    },
  } as unknown as ProviderDefinitionInput;
}

function crm(auth: Record<string, unknown> = SESSION_AUTH): CustomerSyncAdapter {
  const factory = createDeclarativeProviderFactory(crmDefinition(auth), { fetch: egress, timeoutMs: 2000 });
  return factory.customerSync!.connect({ tenantId: 't', connectionId: 'c', credentials: {}, settings: { baseUrl: server.url } });
}

function erp(auth: Record<string, unknown> = SESSION_AUTH) {
  const connector = restConnectorSchema.parse({
    type: 'rest',
    baseUrl: '{{settings.baseUrl}}/api',
    auth,
    streams: { products: { path: '/records', recordPath: 'items', onError: RULES } },
  });
  return createRestSource(connector, {
    tenantId: 't',
    integrationId: 'i',
    credentials: {},
    settings: { baseUrl: server.url },
    fetch: egress,
    urlPolicy: { allowPrivateNetworks: true },
    tokenCache: new TokenCache(),
  });
}

async function readAll(source: ReturnType<typeof erp>) {
  const pages: { records: unknown[]; next: string | null }[] = [];
  for await (const page of source.pages('products', null)) pages.push(page);
  return pages;
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err as Error);

describe('CRM endpoints: onError', () => {
  it('refresh_auth: a 403 token_expired logs in again once and retries (session token)', async () => {
    const adapter = crm();
    await adapter.retrieve('r1');
    server.script.push({ status: 403, body: { code: 'token_expired' } });
    expect(await adapter.retrieve('r2')).toMatchObject({ remoteId: 'r2' });
    expect(server.logins).toBe(2);
    expect(server.auths).toEqual(['Bearer sess-1', 'Bearer sess-1', 'Bearer sess-2']);
  });

  it('refresh_auth: refused again with the new token is refused credentials, with one login more only', async () => {
    const adapter = crm(OAUTH_AUTH);
    server.script.push({ status: 403, body: { code: 'token_expired' } }, { status: 403, body: { code: 'token_expired' } });
    expect(await failure(adapter.retrieve('r1'))).toBeInstanceOf(InvalidCredentialsError);
    expect(server.logins).toBe(2);
    expect(server.auths).toEqual(['Bearer oat-1', 'Bearer oat-2']);
  });

  it('rate_limited: a 200 {"error":"throttled"} waits for X-RateLimit-Reset', async () => {
    server.script.push({ status: 200, body: { error: 'throttled' }, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '42' } });
    const err = await failure(crm().retrieve('r1'));
    expect(err).toBeInstanceOf(RemoteRateLimitedError);
    expect((err as RemoteRateLimitedError).retryAfterMs).toBe(42_000);
  });

  it('a 2xx with X-RateLimit-Remaining: 0 and no matching rule is an ordinary answer', async () => {
    server.script.push({ status: 200, body: { id: 'r1', email: 'x@example.com' }, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '42' } });
    expect(await crm().retrieve('r1')).toMatchObject({ remoteId: 'r1' });
  });

  it('ignore: a retrieve finds nothing, a delete is done', async () => {
    server.script.push({ status: 400, body: { error: 'no such record' } }, { status: 400, body: { error: 'no such record' } });
    expect(await crm().retrieve('r1')).toBeNull();
    await expect(crm().delete('r1', 'k1')).resolves.toBeUndefined();
  });

  it('retry and fail: retryable and hard_decline failures with the rule message', async () => {
    server.script.push({ status: 409, body: {} }, { status: 422, body: { locked: true } });
    const retry = (await failure(crm().retrieve('r1'))) as GatewayError;
    expect(retry.classification).toBe('retryable');
    expect(retry.message).toMatch(/the record is being edited/);
    const fail = (await failure(crm().retrieve('r1'))) as GatewayError;
    expect(fail.classification).toBe('hard_decline');
    expect(fail.message).toMatch(/the record is locked/);
  });

  it('a rule that does not match leaves the defaults (a 422 without locked: true)', async () => {
    server.script.push({ status: 422, body: { locked: false } });
    const err = (await failure(crm().retrieve('r1'))) as GatewayError;
    expect(err.message).not.toMatch(/locked/);
    expect(err.message).toMatch(/HTTP 422/);
  });
});

describe('ERP streams: onError', () => {
  it('ignore: a 404-like answer is an empty last page', async () => {
    server.script.push({ status: 404, body: { error: 'no records for this entity' } });
    expect(await readAll(erp())).toEqual([{ records: [], next: null }]);
  });

  it('refresh_auth with session and OAuth2 auth: one login more, then the page', async () => {
    for (const auth of [SESSION_AUTH, OAUTH_AUTH]) {
      server.logins = 0;
      server.auths = [];
      server.script.push({ status: 403, body: { code: 'token_expired' } });
      expect((await readAll(erp(auth)))[0]!.records).toHaveLength(2);
      expect(server.logins).toBe(2);
    }
  });

  it('refresh_auth refused again fails the run as a configuration error', async () => {
    server.script.push({ status: 403, body: { code: 'token_expired' } }, { status: 403, body: { code: 'token_expired' } });
    expect(await failure(readAll(erp()))).toBeInstanceOf(ErpConfigurationError);
    expect(server.logins).toBe(2);
  });

  it('rate_limited on a 200 waits for RateLimit-Reset; retry and fail', async () => {
    server.script.push({ status: 200, body: { error: 'throttled' }, headers: { 'ratelimit-reset': '9' } });
    const limited = await failure(readAll(erp()));
    expect(limited).toBeInstanceOf(ErpRateLimitedError);
    expect((limited as ErpRateLimitedError).retryAfterMs).toBe(9000);
    server.script.push({ status: 409, body: {} });
    const retry = await failure(readAll(erp()));
    expect(retry).toBeInstanceOf(ErpUnavailableError);
    expect(retry!.message).toMatch(/being edited/);
    server.script.push({ status: 422, body: { locked: true } });
    const fail = await failure(readAll(erp()));
    expect(fail).toBeInstanceOf(ErpConfigurationError);
    expect(fail!.message).toMatch(/the record is locked/);
  });

  it('a 429 without a rule waits for X-RateLimit-Reset as epoch seconds', async () => {
    server.script.push({ status: 429, body: {}, headers: { 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 30) } });
    const err = (await failure(readAll(erp()))) as ErpRateLimitedError;
    expect(err).toBeInstanceOf(ErpRateLimitedError);
    expect(err.retryAfterMs).toBeGreaterThan(28_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
  });
});

describe('onError validation', () => {
  const stream = (rule: unknown) => ({ type: 'rest', baseUrl: 'https://erp.example.com', streams: { products: { path: '/p', onError: [rule] } } });
  it.each([
    [{ action: 'retry' }, /onError.*0.*needs httpStatus, bodyPath, or both/s],
    [{ httpStatus: 200, action: 'explode' }, /onError.*0.*action/s],
    [{ httpStatus: 200, bodyEquals: 'x', action: 'fail' }, /onError.*0.*bodyPath.*give bodyPath/s],
    [{ httpStatus: 200, bodyPath: 'a..b', action: 'fail' }, /onError.*0.*bodyPath.*not a valid path/s],
    [{ bodyPath: 'error', bodyMatches: '(a)\\1', action: 'fail' }, /onError.*0.*bodyMatches/s],
    [{ httpStatus: 700, action: 'fail' }, /onError.*0.*httpStatus/s],
  ])('refuses %j on an ERP stream, naming the field', (rule, message) => {
    const result = connectorSchema.safeParse(stream(rule));
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error!.issues.map((i) => [i.path.join('.'), i.message]))).toMatch(message);
  });

  it('refuses ignore on a CRM endpoint other than retrieve and delete', () => {
    expect(() => validateProviderDefinition(crmDefinition(SESSION_AUTH, RULES, RULES), 'errcrm')).toThrow(
      /customerSync\.endpoints\.create\.onError\[2\]\.action.*ignore applies to the retrieve and delete endpoints only, not create/s,
    );
  });

  it('refuses a bad rule on a CRM endpoint, naming the endpoint', () => {
    expect(() => validateProviderDefinition(crmDefinition(SESSION_AUTH, [{ action: 'ignore' }]), 'errcrm')).toThrow(/customerSync\.endpoints\.\w+\.onError/);
  });
});
