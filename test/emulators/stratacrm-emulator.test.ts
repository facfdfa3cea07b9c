/**
 * Strata CRM's wire format and faults over real HTTP (emulators/stratacrm): OAuth2 refresh-token grant
 * with rotation, expiring access tokens, nested people merged by RFC 7396, 410 for deleted people,
 * next-URL paging, id-only webhooks signed hex HMAC-SHA512 over "<delivery>.<timestamp>.<body>" and
 * their faults (lost, duplicate, out of order), 429 with and without Retry-After, 500s.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signStrataWebhook, startStrataCrmEmulator, type StrataCrmEmulator } from '../../emulators/stratacrm/emulator.js';

let crm: StrataCrmEmulator;
let receiver: Server;
let receiverUrl: string;
const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];

beforeAll(async () => {
  crm = await startStrataCrmEmulator({ retryBaseMs: 20 });
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks`;
});
afterAll(async () => {
  await crm?.close();
  await new Promise((r) => receiver?.close(r));
});
afterEach(() => {
  crm.faults.resetFaults();
  crm.webhookFaults({});
  received.length = 0;
});

type Json = Record<string, unknown>;

const grant = async (form: Record<string, string>) => {
  const res = await fetch(`${crm.url}/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  return { status: res.status, body: (await res.json()) as Json };
};

function api(token: string) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(path.startsWith('http') ? path : `${crm.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json };
  };
}

const personOf = (body: Json) => body['person'] as Json & { id: string };
const eventually = async <T>(check: () => T | undefined): Promise<T> => {
  for (let i = 0; i < 300; i++) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('timed out');
};

describe('Strata CRM emulator', () => {
  it('grants access tokens for a refresh token and rotates it: the old one is invalid_grant afterwards', async () => {
    const c = crm.addClient();
    const first = await grant({ grant_type: 'refresh_token', refresh_token: c.refreshToken, client_id: c.clientId, client_secret: c.clientSecret });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ access_token: expect.stringMatching(/^at_/), token_type: 'Bearer', expires_in: 3600, refresh_token: expect.stringMatching(/^rt_/) });
    expect(first.body['refresh_token']).not.toBe(c.refreshToken);
    const reused = await grant({ grant_type: 'refresh_token', refresh_token: c.refreshToken, client_id: c.clientId, client_secret: c.clientSecret });
    expect(reused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await grant({ grant_type: 'refresh_token', refresh_token: String(first.body['refresh_token']), client_id: c.clientId, client_secret: 'wrong' })).status).toBe(401);
    expect(crm.tokenGrants(c.clientId).map((g) => g.ok)).toEqual([true, false]);

    const token = String(first.body['access_token']);
    expect((await api(token)('GET', '/v3/people')).status).toBe(200);
    crm.expireAccessTokens();
    const expired = await api(token)('GET', '/v3/people');
    expect(expired).toMatchObject({ status: 401, body: { error: { type: 'invalid_token' } } });
    expect((await api('nope')('GET', '/v3/people')).status).toBe(401);
  });

  it('keeps nested people, merges PATCH as RFC 7396 (arrays replaced whole) and answers 410 once deleted', async () => {
    const c = crm.addClient();
    const call = api(crm.accessToken(c.clientId));
    const created = await call('POST', '/v3/people', {
      person: {
        names: { given: 'Ada', family: 'Lovelace', display: 'Ada Lovelace' },
        contact_points: { emails: [{ value: 'ada@example.com', primary: true }], phones: [{ number: '+44 1' }] },
        postal: { lines: ['1 Analytical St'], locality: 'London' },
        attributes: { labels: { tier: 'gold' } },
        references: { external_id: 'cust_1' },
      },
    });
    expect(created.status).toBe(201);
    const p = personOf(created.body);
    expect(p).toMatchObject({ names: { display: 'Ada Lovelace' }, postal: { lines: ['1 Analytical St'], locality: 'London', region: null }, references: { external_id: 'cust_1' } });

    const patched = await call('PATCH', `/v3/people/${p.id}`, { person: { names: { display: 'Ada L.' }, contact_points: { phones: [{ number: '+44 2' }] }, attributes: { labels: { tier: null, vip: 'yes' } } } });
    expect(patched.status).toBe(200);
    expect(personOf(patched.body)).toMatchObject({
      names: { given: 'Ada', family: 'Lovelace', display: 'Ada L.' },
      contact_points: { emails: [{ value: 'ada@example.com', primary: true }], phones: [{ number: '+44 2' }] },
      attributes: { labels: { vip: 'yes' } },
    });
    expect((personOf(patched.body)['attributes'] as Json)['labels']).toEqual({ vip: 'yes' });

    expect(await call('PATCH', `/v3/people/${p.id}`, { person: { id: 'p_x' } })).toMatchObject({ status: 422, body: { error: { type: 'invalid_field' } } });
    expect((await call('PATCH', `/v3/people/${p.id}`, { person: { contact_points: { emails: ['x'] } } })).status).toBe(422);
    expect((await call('DELETE', `/v3/people/${p.id}`)).status).toBe(204);
    expect(await call('GET', `/v3/people/${p.id}`)).toMatchObject({ status: 410, body: { error: { type: 'gone' } } });
    expect((await call('GET', '/v3/people/p_never')).status).toBe(404);
  });

  it('pages the list by the absolute URL in paging.next until it is null', async () => {
    const c = crm.addClient();
    const call = api(crm.accessToken(c.clientId));
    for (let i = 0; i < 7; i++) await call('POST', '/v3/people', { person: { names: { display: `P${i}` } } });
    const seen: string[] = [];
    let next: string | null = '/v3/people?limit=3';
    let pages = 0;
    while (next) {
      const page = await call('GET', next);
      pages += 1;
      seen.push(...(page.body['people'] as { id: string }[]).map((p) => p.id));
      next = (page.body['paging'] as { next: string | null }).next;
      if (next) expect(next.startsWith(`${crm.url}/v3/people?`)).toBe(true);
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
  });

  it('sends id-only webhooks signed hex HMAC-SHA512 over "<delivery>.<timestamp>.<body>" in three headers', async () => {
    const c = crm.addClient();
    const call = api(crm.accessToken(c.clientId));
    const secret = crm.subscribe(c.clientId, receiverUrl);
    const p = personOf((await call('POST', '/v3/people', { person: { names: { display: 'Hooked' } } })).body);
    const hit = await eventually(() => received[0]);
    const body = JSON.parse(hit.body) as Json;
    expect(body).toEqual({ event_id: expect.any(String), event: 'person.created', person_id: p.id, sent_at: expect.any(String) });
    const delivery = String(hit.headers['strata-delivery']);
    const timestamp = Number(hit.headers['strata-timestamp']);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(5);
    const expected = createHmac('sha512', secret).update(`${delivery}.${timestamp}.${hit.body}`).digest('hex');
    expect(hit.headers['strata-signature']).toBe(expected);
    expect(signStrataWebhook(delivery, timestamp, hit.body, secret)).toBe(expected);
  });

  it('webhook faults: duplicates, newest first, lost', async () => {
    const c = crm.addClient();
    const call = api(crm.accessToken(c.clientId));
    crm.subscribe(c.clientId, receiverUrl);
    const p = personOf((await call('POST', '/v3/people', { person: {} })).body);
    await eventually(() => received[0]);
    received.length = 0;

    crm.webhookFaults({ duplicate: true, reorderBatch: 2 });
    await call('PATCH', `/v3/people/${p.id}`, { person: { names: { display: 'A' } } });
    await call('DELETE', `/v3/people/${p.id}`);
    await eventually(() => (received.length === 4 ? true : undefined));
    expect(received.map((r) => (JSON.parse(r.body) as Json)['event'])).toEqual(['person.deleted', 'person.deleted', 'person.changed', 'person.changed']);
    expect(received[0]!.headers['strata-delivery']).toBe(received[1]!.headers['strata-delivery']);

    crm.webhookFaults({ lose: 1 });
    await call('POST', '/v3/people', { person: {} });
    expect(crm.deliveries().at(-1)).toMatchObject({ event: 'person.created', state: 'lost' });
  });

  it('answers injected 429 (with and without Retry-After) and 500 bursts in its error shape', async () => {
    const call = api(crm.accessToken(crm.addClient().clientId));
    crm.faults.failNext(1, 429, { retryAfter: '2' });
    crm.faults.failNext(1, 429);
    crm.faults.failNext(2, 500);
    const a = await call('GET', '/v3/people');
    expect(a.status).toBe(429);
    expect(a.headers.get('retry-after')).toBe('2');
    expect(a.body).toMatchObject({ error: { type: 'rate_limited' } });
    const b = await call('GET', '/v3/people');
    expect(b.status).toBe(429);
    expect(b.headers.get('retry-after')).toBeNull();
    expect((await call('GET', '/v3/people')).status).toBe(500);
    expect((await call('GET', '/v3/people')).body).toMatchObject({ error: { type: 'server_error' } });
    expect((await call('GET', '/v3/people')).status).toBe(200);
  });
});
