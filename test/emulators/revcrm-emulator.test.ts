/**
 * RevCRM's wire format and faults over real HTTP (emulators/revcrm): two-header auth, revisions with
 * If-Revision and 409, page-number listing with modified_after, remote deletes, `t=,v1=` signed
 * webhooks and their faults (lost, duplicate, out of order), 429 with and without Retry-After, 500s.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signRevWebhook, startRevCrmEmulator, type RevCrmEmulator } from '../../emulators/revcrm/emulator.js';

let crm: RevCrmEmulator;
let receiver: Server;
let receiverUrl: string;
const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];

beforeAll(async () => {
  crm = await startRevCrmEmulator({ retryBaseMs: 20 });
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

function client(account: { accountId: string; apiKey: string }) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${crm.url}${path}`, {
      method,
      headers: { 'X-Account-Id': account.accountId, 'X-Api-Key': account.apiKey, 'Content-Type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json };
  };
}

const contactOf = (body: Json) => body['contact'] as Json & { id: string; revision: number };
const eventually = async <T>(check: () => T | undefined): Promise<T> => {
  for (let i = 0; i < 200; i++) {
    const value = check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('timed out');
};

describe('RevCRM emulator', () => {
  it('wants both auth headers of one account', async () => {
    const a = crm.addAccount();
    const b = crm.addAccount();
    expect((await client(a)('GET', '/api/contacts')).status).toBe(200);
    expect((await client({ accountId: a.accountId, apiKey: b.apiKey })('GET', '/api/contacts')).status).toBe(401);
    const onlyKey = await fetch(`${crm.url}/api/contacts`, { headers: { 'X-Api-Key': a.apiKey } });
    expect(onlyKey.status).toBe(401);
    expect(await onlyKey.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('keeps a revision per contact: writes need If-Revision, a stale one is 409 stale_revision, missing is 428', async () => {
    const api = client(crm.addAccount());
    const created = await api('POST', '/api/contacts', { contact: { display_name: 'Ada', address: { city: 'London' } } });
    expect(created.status).toBe(201);
    const c = contactOf(created.body);
    expect(c).toMatchObject({ revision: 1, display_name: 'Ada', address: { city: 'London', street: null } });
    expect(c['modified_at']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    expect((await api('PATCH', `/api/contacts/${c.id}`, { contact: { note: 'x' } })).status).toBe(428);
    const patched = await api('PATCH', `/api/contacts/${c.id}`, { contact: { phone_number: '+1 2', address: { postcode: 'N1' } } }, { 'If-Revision': '1' });
    expect(contactOf(patched.body)).toMatchObject({ revision: 2, display_name: 'Ada', phone_number: '+1 2', address: { city: 'London', postcode: 'N1' } });
    const stale = await api('PATCH', `/api/contacts/${c.id}`, { contact: { note: 'late' } }, { 'If-Revision': '1' });
    expect(stale).toMatchObject({ status: 409, body: { error: { code: 'stale_revision', current_revision: 2 } } });
    // PUT replaces: what it leaves out is cleared.
    const put = await api('PUT', `/api/contacts/${c.id}`, { contact: { display_name: 'Ada L' } }, { 'If-Revision': '"2"' });
    expect(contactOf(put.body)).toMatchObject({ revision: 3, display_name: 'Ada L', phone_number: null, address: { city: null } });
    expect((await api('PATCH', `/api/contacts/${c.id}`, { contact: { revision: 9 } }, { 'If-Revision': '3' })).status).toBe(422);
  });

  it('an edit racing in before a write makes that write stale', async () => {
    const api = client(crm.addAccount());
    const c = contactOf((await api('POST', '/api/contacts', { contact: { display_name: 'Grace' } })).body);
    crm.editBeforeNextWrite(c.id, { phone_number: '+9' });
    const res = await api('PATCH', `/api/contacts/${c.id}`, { contact: { display_name: 'G' } }, { 'If-Revision': '1' });
    expect(res.status).toBe(409);
    const now = contactOf((await api('GET', `/api/contacts/${c.id}`)).body);
    expect(now).toMatchObject({ revision: 2, display_name: 'Grace', phone_number: '+9' });
  });

  it('lists by page number with meta.pages and filters by modified_after; a deleted contact is 404 and gone from the list', async () => {
    const account = crm.addAccount();
    const api = client(account);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(contactOf((await api('POST', '/api/contacts', { contact: { display_name: `n${i}` } })).body).id);
    ids.sort();
    const page2 = await api('GET', '/api/contacts?page=2&per_page=2');
    expect(page2.body['meta']).toEqual({ page: 2, pages: 3, total: 5 });
    expect((page2.body['data'] as Json[]).map((c) => c['id'])).toEqual(ids.slice(2, 4));
    expect((await api('GET', '/api/contacts?page=4&per_page=2')).body['data']).toEqual([]);

    const cutoff = new Date(Date.now() - 1000).toISOString();
    expect((await api('GET', `/api/contacts?modified_after=${encodeURIComponent(cutoff)}&per_page=100`)).body['meta']).toMatchObject({ total: 5 });
    expect((await api('GET', `/api/contacts?modified_after=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body['meta']).toMatchObject({ total: 0, pages: 1 });
    expect((await api('GET', '/api/contacts?modified_after=yesterday')).status).toBe(400);

    expect((await api('DELETE', `/api/contacts/${ids[0]}`, undefined, { 'If-Revision': '1' })).status).toBe(204);
    expect((await api('GET', `/api/contacts/${ids[0]}`)).body).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    expect((await api('GET', '/api/contacts?per_page=100')).body['meta']).toMatchObject({ total: 4 });
    expect(crm.contact(account.accountId, ids[0]!)).toBeUndefined();
  });

  it('signs webhooks X-Sig: t=<unix>,v1=<base64 HMAC-SHA256 of "t.body">', async () => {
    const account = crm.addAccount();
    const secret = crm.subscribe(account.accountId, receiverUrl);
    const c = contactOf((await client(account)('POST', '/api/contacts', { contact: { display_name: 'Signed' } })).body);
    const hit = await eventually(() => received[0]);
    const sig = String(hit.headers['x-sig']);
    const [, t, v1] = /^t=(\d+),v1=(.+)$/.exec(sig)!;
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(30);
    expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${hit.body}`).digest('base64'));
    expect(signRevWebhook(hit.body, secret, Number(t))).toBe(sig);
    expect(JSON.parse(hit.body)).toMatchObject({ id: expect.stringMatching(/^evt_/), type: 'contact.created', contact: { id: c.id, revision: 1 } });
  });

  it('webhook faults: lost, duplicated, out of order', async () => {
    const account = crm.addAccount();
    crm.subscribe(account.accountId, receiverUrl);
    const api = client(account);
    const c = contactOf((await api('POST', '/api/contacts', { contact: { display_name: 'v1' } })).body);
    await eventually(() => received[0]);

    crm.webhookFaults({ lose: 1 });
    await api('PATCH', `/api/contacts/${c.id}`, { contact: { display_name: 'v2' } }, { 'If-Revision': '1' });
    expect(crm.deliveries().at(-1)).toMatchObject({ type: 'contact.updated', state: 'lost', attempts: 0 });

    crm.webhookFaults({ duplicate: true });
    await api('PATCH', `/api/contacts/${c.id}`, { contact: { display_name: 'v3' } }, { 'If-Revision': '2' });
    await eventually(() => (received.length === 3 ? true : undefined));
    expect(received[1]!.body).toBe(received[2]!.body);

    received.length = 0;
    crm.webhookFaults({ reorderBatch: 2 });
    await api('PATCH', `/api/contacts/${c.id}`, { contact: { display_name: 'v4' } }, { 'If-Revision': '3' });
    await api('DELETE', `/api/contacts/${c.id}`, undefined, { 'If-Revision': '4' });
    await eventually(() => (received.length === 2 ? true : undefined));
    expect(received.map((r) => (JSON.parse(r.body) as { type: string }).type)).toEqual(['contact.deleted', 'contact.updated']);
  });

  it('answers 429 with and without Retry-After and 500 bursts in its own error format', async () => {
    const api = client(crm.addAccount());
    crm.faults.failNext(1, 429, { retryAfter: '2' });
    crm.faults.failNext(1, 429);
    crm.faults.failNext(2, 500);
    const first = await api('GET', '/api/contacts');
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('2');
    expect(first.body).toEqual({ error: { code: 'rate_limited', message: 'injected 429' } });
    const second = await api('GET', '/api/contacts');
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBeNull();
    expect((await api('GET', '/api/contacts')).body).toEqual({ error: { code: 'server_error', message: 'injected 500' } });
    expect((await api('GET', '/api/contacts')).status).toBe(500);
    expect((await api('GET', '/api/contacts')).status).toBe(200);
  });
});
