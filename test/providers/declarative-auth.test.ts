/**
 * The auth types api_key, session_token, oauth2_refresh_token and select, as a CRM definition uses
 * them (gateways and ERP connectors share the same runtime), against a local server that checks
 * them over real HTTP through the egress guard.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CustomerSyncAdapter } from '../../src/providers/crm-client.js';
import { createDeclarativeProviderFactory, validateProviderDefinition } from '../../src/providers/declarative/index.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { restConnectorSchema } from '../../src/providers/erp/connector-definition.js';
import { createRestSource } from '../../src/providers/erp/rest-source.js';
import { ErpConfigurationError } from '../../src/providers/erp/source.js';
import { InvalidCredentialsError } from '../../src/providers/types.js';
import {
  ACCOUNT,
  API_KEY,
  API_KEY_AUTH,
  authCrmDefinition,
  PASSWORD,
  REFRESH_AUTH,
  SESSION_AUTH,
  startAuthServer,
  USER,
  type AuthServer,
} from './auth-server.js';

let server: AuthServer;
let egress: EgressFetch;
beforeEach(async () => {
  server = await startAuthServer();
  egress = createEgressFetch({ allowPrivateNetworks: true });
});
afterEach(async () => {
  await egress?.close();
  await server?.close();
});

const CREDENTIALS = { accountId: ACCOUNT, apiKey: API_KEY, username: USER, password: PASSWORD, refreshToken: 'rt-1' };

function connect(
  auth: Record<string, unknown>,
  opts: { settings?: Record<string, unknown>; credentials?: Record<string, string>; now?: () => number; store?: (c: Record<string, string>) => Promise<void> } = {},
) {
  const factory = createDeclarativeProviderFactory(authCrmDefinition(auth), { fetch: egress, timeoutMs: 2000, ...(opts.now ? { now: opts.now } : {}) });
  return (credentials = opts.credentials ?? CREDENTIALS): CustomerSyncAdapter =>
    factory.customerSync!.connect({
      tenantId: 't',
      connectionId: 'c',
      credentials,
      settings: { baseUrl: server.url, tokenUrl: `${server.url}/oauth/token`, ...opts.settings },
      ...(opts.store ? { storeCredentials: opts.store } : {}),
    });
}

describe('api_key', () => {
  it('sends every declared header and query parameter from the credentials', async () => {
    const adapter = connect(API_KEY_AUTH)();
    expect(await adapter.retrieve('c1')).toMatchObject({ remoteId: 'c1' });
    expect(server.calls.at(-1)).toEqual({
      headers: { 'x-account': ACCOUNT, 'x-api-key': API_KEY, authorization: undefined },
      query: { key: API_KEY },
    });
  });

  it('keeps its values out of error messages', async () => {
    server.echoOnError = true;
    const err = (await connect(API_KEY_AUTH)().retrieve('c1').catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/HTTP 500 boom/);
    expect(err.message).not.toContain(API_KEY);
  });

  it('needs at least one header or parameter', () => {
    expect(() => validateProviderDefinition(authCrmDefinition({ type: 'api_key' }), 'authcrm')).toThrow(/auth.*at least one header or query parameter/s);
  });
});

describe('session_token', () => {
  it('logs in once, sends the token as declared, and reuses it per connection', async () => {
    const open = connect(SESSION_AUTH);
    await open().retrieve('c1');
    await open().retrieve('c2'); // a client rebuilt for the same connection reuses the token
    expect(server.logins).toBe(1);
    expect(server.calls.map((c) => c.headers.authorization)).toEqual(['Bearer sess-1', 'Bearer sess-1']);
  });

  it('an expired session (401) logs in again once, then the call succeeds', async () => {
    const adapter = connect(SESSION_AUTH)();
    await adapter.retrieve('c1');
    server.expireTokens();
    expect(await adapter.retrieve('c2')).toMatchObject({ remoteId: 'c2' });
    expect(server.logins).toBe(2);
    expect(server.calls.map((c) => c.headers.authorization)).toEqual(['Bearer sess-1', 'Bearer sess-1', 'Bearer sess-2']);
  });

  it('a login refused is invalid credentials, tried once, and its password is never in the message', async () => {
    server.refuseLogins = true;
    const err = (await connect(SESSION_AUTH)().retrieve('c1').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(InvalidCredentialsError);
    expect(err.message).toMatch(/login was refused \(HTTP 401\)/);
    expect(err.message).not.toContain(PASSWORD);
    expect(server.logins).toBe(1);
  });

  it('in a query parameter, with a declared lifetime: logged in again when it ends, before a 401', async () => {
    let now = 1_000_000;
    const auth = { ...SESSION_AUTH, expiresInPath: undefined, lifetimeSeconds: 600, apply: { query: 'sid' } };
    const adapter = connect(auth, { now: () => now })();
    await adapter.retrieve('c1');
    now += 599_000; // inside the lifetime but within the refresh margin (60 s)
    await adapter.retrieve('c2');
    expect(server.calls.map((c) => c.query['sid'])).toEqual(['sess-1', 'sess-2']);
    expect(server.calls.every((c) => c.headers.authorization === undefined)).toBe(true);
    expect(server.logins).toBe(2);
  });

  it('apply.value may use only {{token}}', () => {
    expect(() =>
      validateProviderDefinition(authCrmDefinition({ ...SESSION_AUTH, apply: { header: 'Authorization', value: 'Bearer {{credentials.apiKey}}' } }), 'authcrm'),
    ).toThrow(/auth\.apply\.value.*Unknown variable 'credentials.apiKey'/s);
  });
});

describe('oauth2_refresh_token', () => {
  it('refreshes with the stored token, stores the rotated one, and uses the newest on the next refresh', async () => {
    const stored: Record<string, string>[] = [];
    const adapter = connect(REFRESH_AUTH, { store: async (changed) => void stored.push(changed) })();
    await adapter.retrieve('c1');
    expect(server.refreshes).toEqual([{ refreshToken: 'rt-1' }]);
    expect(stored).toEqual([{ refreshToken: 'rt-2' }]);
    expect(server.calls.at(-1)!.headers.authorization).toBe('Bearer at-1');

    // The access token expires; this client still holds rt-1 in its credentials, but rt-1 is dead.
    server.expireTokens();
    await adapter.retrieve('c2');
    expect(server.refreshes.map((r) => r.refreshToken)).toEqual(['rt-1', 'rt-2']);
    expect(stored).toEqual([{ refreshToken: 'rt-2' }, { refreshToken: 'rt-3' }]);
  });

  it('a connection reloaded with the stored token after a restart goes on from it', async () => {
    const stored: Record<string, string>[] = [];
    await connect(REFRESH_AUTH, { store: async (c) => void stored.push(c) })().retrieve('c1');
    const restarted = connect(REFRESH_AUTH)({ ...CREDENTIALS, refreshToken: stored.at(-1)!['refreshToken']! });
    await restarted.retrieve('c2');
    expect(server.refreshes.map((r) => r.refreshToken)).toEqual(['rt-1', 'rt-2']);
  });

  it('a refresh token the provider refuses is invalid credentials, without the token in the message', async () => {
    const err = (await connect(REFRESH_AUTH)({ ...CREDENTIALS, refreshToken: 'rt-revoked' }).retrieve('c1').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(InvalidCredentialsError);
    expect(err.message).toMatch(/refused the refresh token/);
    expect(err.message).not.toContain('rt-revoked');
  });

  it('a rotation that cannot be stored fails retryably and is not lost in memory', async () => {
    let failing = true;
    const stored: Record<string, string>[] = [];
    const adapter = connect(REFRESH_AUTH, {
      store: async (changed) => {
        if (failing) throw new Error('database down');
        stored.push(changed);
      },
    })();
    await expect(adapter.retrieve('c1')).rejects.toMatchObject({ classification: 'retryable', code: 'credential_store_failed' });
    failing = false;
    await adapter.retrieve('c1');
    // The retry refreshed with rt-2 (kept in memory), not the dead rt-1, and stored its successor.
    expect(server.refreshes.map((r) => r.refreshToken)).toEqual(['rt-1', 'rt-2']);
    expect(stored).toEqual([{ refreshToken: 'rt-3' }]);
  });

  it('refreshTokenCredential names a declared credential', () => {
    expect(() => validateProviderDefinition(authCrmDefinition({ ...REFRESH_AUTH, refreshTokenCredential: 'nope' }), 'authcrm')).toThrow(
      /auth\.refreshTokenCredential.*'nope' is not a declared credential/s,
    );
  });
});

describe('select', () => {
  const SELECT = { type: 'select', by: '{{settings.authMethod}}', options: { key: API_KEY_AUTH, session: SESSION_AUTH } };

  it('uses the option the connection setting names', async () => {
    await connect(SELECT, { settings: { authMethod: 'key' } })().retrieve('c1');
    await connect(SELECT, { settings: { authMethod: 'session' } })().retrieve('c2');
    expect(server.calls.map((c) => [c.headers['x-api-key'] ?? null, c.headers.authorization ?? null])).toEqual([
      [API_KEY, null],
      [null, 'Bearer sess-1'],
    ]);
  });

  it('an unknown value is a clear error naming the options', () => {
    expect(() => connect(SELECT, { settings: { authMethod: 'magic' } })()).toThrow(
      "authcrm: auth.by is 'magic', which is not one of the auth options (key, session)",
    );
  });

  it('by reads settings only, and the options are checked like any auth block', () => {
    expect(() => validateProviderDefinition(authCrmDefinition({ ...SELECT, by: '{{credentials.apiKey}}' }), 'authcrm')).toThrow(/auth\.by.*Unknown variable/s);
    expect(() =>
      validateProviderDefinition(authCrmDefinition({ ...SELECT, options: { key: { type: 'bearer', token: '{{credentials.missing}}' } } }), 'authcrm'),
    ).toThrow(/auth\.options\.key\.token.*not a declared credential/s);
  });
});

describe('ERP connectors share the auth types', () => {
  function erpSource(auth: Record<string, unknown>, extra: { settings?: Record<string, unknown>; store?: (c: Record<string, string>) => Promise<void> } = {}) {
    const connector = restConnectorSchema.parse({ type: 'rest', baseUrl: '{{settings.baseUrl}}/api', auth, streams: { products: { path: '/contacts' } } });
    return createRestSource(connector, {
      tenantId: 't',
      integrationId: 'i',
      credentials: CREDENTIALS,
      settings: { baseUrl: server.url, tokenUrl: `${server.url}/oauth/token`, ...extra.settings },
      fetch: egress,
      urlPolicy: { allowPrivateNetworks: true },
      tokenCache: new TokenCache(),
      ...(extra.store ? { storeCredentials: extra.store } : {}),
    });
  }
  const readAll = async (source: ReturnType<typeof erpSource>) => {
    const records: unknown[] = [];
    for await (const page of source.pages('products', null)) records.push(...page.records);
    return records;
  };

  it('session token in a query parameter, logged in again once after a 401', async () => {
    const source = erpSource({ ...SESSION_AUTH, apply: { query: 'sid' } });
    expect(await readAll(source)).toHaveLength(2);
    server.expireTokens();
    expect(await readAll(source)).toHaveLength(2);
    expect(server.calls.map((c) => c.query['sid'])).toEqual(['sess-1', 'sess-1', 'sess-2']);
  });

  it('a rotated refresh token is handed to the integration store', async () => {
    const stored: Record<string, string>[] = [];
    await readAll(erpSource(REFRESH_AUTH, { store: async (c) => void stored.push(c) }));
    expect(stored).toEqual([{ refreshToken: 'rt-2' }]);
  });

  it('select with an unknown value is a configuration error of the integration', () => {
    const select = { type: 'select', by: '{{settings.authMethod}}', options: { key: API_KEY_AUTH } };
    expect(() => erpSource(select, { settings: { authMethod: 'other' } })).toThrow(ErpConfigurationError);
  });
});
