import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { systemResolver } from '../../src/providers/egress/egress-fetch.js';
import { blockedAddressReason } from '../../src/providers/egress/ip-ranges.js';
import { privateHostReason } from '../../src/providers/url-policy.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/**
 * The attack from issue 6 through the API, with the guard on (private networks NOT allowed): a tenant
 * registers its own provider pointing inside the deployment and runs the connection test, which would
 * reflect what it read (`account`). Each is refused with a clear 4xx and nothing of the target.
 */

const SECRET = 'other-tenant-token-7f3a';
const REBOUND = 'gateway.attacker.example';

let stack: TestStack;
let inside: Server;
let insidePort: number;
let hits = 0;

beforeAll(async () => {
  // Stands for an internal service (Temporal's HTTP API, another tenant's data): answers anyone.
  inside = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ account: { name: SECRET }, access_token: SECRET }));
  });
  await new Promise<void>((r) => inside.listen(0, '127.0.0.1', r));
  insidePort = (inside.address() as AddressInfo).port;
  stack = await startTestStack({
    egress: {
      allowPrivateNetworks: false,
      // A public-looking DNS name the attacker points at loopback (no internet DNS here).
      resolve: async (host) => (host === REBOUND ? [{ address: '127.0.0.1' }] : systemResolver(host)),
    },
  });
});
afterAll(async () => {
  await stack?.close();
  await new Promise((r) => inside?.close(r));
});

function definition(name: string, baseUrl: string, auth: Record<string, unknown> = { type: 'bearer', token: '{{credentials.token}}' }) {
  return {
    name,
    displayName: name,
    version: '1.0.0',
    capabilities: { currencies: ['EUR'], countries: ['DE'], paymentMethods: ['card'], captureModes: ['automatic'] },
    baseUrl,
    credentials: [{ name: 'token' }],
    auth,
    statusMap: { OK: 'succeeded' },
    actions: {
      authorize: { method: 'POST', path: '/charge', response: { reference: 'id', status: 'state' } },
      status: { method: 'GET', path: '/charge/{{reference}}', response: { reference: 'id', status: 'state' } },
      verifyCredentials: { method: 'GET', path: '/api/v1/namespaces', response: { account: 'account.name' } },
    },
  };
}

/** A loopback name from /etc/hosts that the save-time string check cannot know (e.g. `vm`, `ip6-localhost`). */
function etcHostsLoopbackName(): string | undefined {
  for (const line of readFileSync('/etc/hosts', 'utf8').split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!address || blockedAddressReason(address) !== 'loopback') continue;
    const name = names.find((n) => privateHostReason(n) === null);
    if (name) return name;
  }
  return undefined;
}

async function connectionTest(tenant: { auth: { Authorization: string } }, provider: string) {
  const conn = await request(stack.app)
    .post('/v1/connections')
    .set(tenant.auth)
    .send({ provider, code: `c-${provider}`, name: provider, credentials: { token: 'tok' } });
  expect(conn.status, JSON.stringify(conn.body)).toBe(201);
  return request(stack.app).post(`/v1/connections/${conn.body.id}/test`).set(tenant.auth);
}

describe('a tenant provider that points inside the deployment', () => {
  it('is refused at save time when its base URL is the Temporal server address', async () => {
    const t = await stack.createTenant();
    const temporal = `http://${inject('temporalAddress')}`;
    const res = await request(stack.app).put('/v1/providers/sneaky').set(t.auth).send(definition('sneaky', temporal));
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.details, JSON.stringify(res.body)).toEqual([
      // line and column point into the JSON text sent (the PUT reports where each problem is)
      { path: 'body.baseUrl', message: expect.stringMatching(/^Outbound host '127\.0\.0\.1' is not a public address \(loopback\)/), line: 1, column: expect.any(Number) },
    ]);
  });

  const names = [['a DNS name that resolves to loopback', REBOUND]];
  const fromHosts = etcHostsLoopbackName();
  if (fromHosts) names.push([`the /etc/hosts name '${fromHosts}'`, fromHosts]);

  it.each(names)('is refused by the connection test when its base URL is %s', async (_what, host) => {
    const t = await stack.createTenant();
    const provider = `sneaky-${host.replace(/[^a-z0-9]/g, '')}`.slice(0, 40);
    await request(stack.app).put(`/v1/providers/${provider}`).set(t.auth).send(definition(provider, `http://${host}:${insidePort}`)).expect(200);
    const before = hits;
    const res = await connectionTest(t, provider);
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.error.code).toBe('destination_blocked');
    expect(res.body.error.message).toBe(`Outbound host '${host}' resolves to a non-public address (loopback); refused`);
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    expect(hits).toBe(before);
  });

  it('is refused when only its OAuth token URL points inside', async () => {
    const t = await stack.createTenant();
    const auth = { type: 'oauth2_client_credentials', tokenUrl: `http://${REBOUND}:${insidePort}/token`, clientId: 'id', clientSecret: '{{credentials.token}}' };
    await request(stack.app).put('/v1/providers/tokenpay').set(t.auth).send(definition('tokenpay', 'https://api.tokenpay.example', auth)).expect(200);
    const before = hits;
    const res = await connectionTest(t, 'tokenpay');
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.body.error.message).toContain(`'${REBOUND}'`);
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    expect(hits).toBe(before);
  });
});
