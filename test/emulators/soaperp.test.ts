/**
 * Ledgerline, the emulated SOAP ERP, over real HTTP: its session login, SOAP envelopes paged by
 * offset with a total, and its faults (429 with and without Retry-After, 500 bursts, expired sessions
 * as a 401 SOAP fault), as its integration guide (emulators/soaperp/emulator.ts) describes them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GET_ITEMS_ACTION, LEDGERLINE_NS, seedLedgerline, SoapErpEmulator } from '../../emulators/soaperp/emulator.js';

let erp: SoapErpEmulator;
beforeAll(async () => {
  erp = new SoapErpEmulator({ sessionTtlSeconds: 1 });
  await erp.start();
  seedLedgerline(erp, 25);
});
afterAll(async () => {
  await erp?.stop();
});
beforeEach(() => {
  erp.faults.set({ rate429: 0, burst500Every: 0, burst500Length: 0 });
});

const getItems = (offset: number | string, limit: number | string) =>
  `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="${LEDGERLINE_NS}"><s:Body>` +
  `<x:GetItems><x:Offset>${offset}</x:Offset><x:Limit>${limit}</x:Limit></x:GetItems></s:Body></s:Envelope>`;

async function call(body: string, auth: Record<string, string>, action = GET_ITEMS_ACTION) {
  const res = await fetch(`${erp.url}/soap/ItemService`, { method: 'POST', headers: { 'content-type': 'text/xml', soapaction: action, ...auth }, body });
  return { status: res.status, type: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), text: await res.text() };
}

async function login(user = 'integration', password = 'ledger-secret') {
  const res = await fetch(`${erp.url}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
  return { status: res.status, body: (await res.json()) as { sessionId?: string; ttl?: number; error?: string } };
}

const codes = (xml: string) => [...xml.matchAll(/<l:ItemCode>([^<]*)<\/l:ItemCode>/g)].map((m) => m[1]);

describe('Ledgerline wire format', () => {
  it('logs in with JSON and answers pages of items in a SOAP envelope, by offset with the total', async () => {
    const { status, body } = await login();
    expect(status).toBe(200);
    expect(body).toMatchObject({ sessionId: expect.stringMatching(/^LL-/), ttl: 1 });
    const page = await call(getItems(20, 10), { 'x-session-id': body.sessionId! });
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/xml/);
    expect(page.text).toContain('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"');
    expect(page.text).toContain('<l:Total>25</l:Total><l:Offset>20</l:Offset>');
    expect(codes(page.text)).toEqual(['LL-00021', 'LL-00022', 'LL-00023', 'LL-00024', 'LL-00025']);
    expect(page.text).toContain('<l:UnitPrice currency="USD">16.00</l:UnitPrice>');
    // Item 18's description is escaped on the wire.
    const first = await call(getItems(17, 1), { 'x-integration-key': erp.integrationKey });
    expect(first.text).toContain('<l:Description>Bolt &amp; nut &lt;M18&gt; &quot;zinc&quot;</l:Description>');
  });

  it('refuses wrong credentials, a missing session and a malformed call', async () => {
    expect(await login('integration', 'nope')).toEqual({ status: 401, body: { error: 'invalid_login' } });
    const none = await call(getItems(0, 5), {});
    expect(none.status).toBe(401);
    const key = { 'x-integration-key': erp.integrationKey };
    for (const bad of [getItems(-1, 5), getItems(0, 500), getItems('x', 5), '<GetItems/>']) {
      const res = await call(bad, key);
      expect(res.status).toBe(400);
      expect(res.text).toContain('<faultcode>soap:Client</faultcode>');
    }
    expect((await call(getItems(0, 5), key, '"urn:ledgerline:items#DeleteItems"')).status).toBe(400);
  });

  it('answers an expired session with 401 and a SOAP fault naming it, and a new login works', async () => {
    const { body } = await login();
    expect((await call(getItems(0, 1), { 'x-session-id': body.sessionId! })).status).toBe(200);
    erp.expireSessions();
    const expired = await call(getItems(0, 1), { 'x-session-id': body.sessionId! });
    expect(expired.status).toBe(401);
    expect(expired.text).toMatch(/<faultstring>Session expired<\/faultstring><detail><l:SessionExpired\/><\/detail>/);
    const again = await login();
    expect((await call(getItems(0, 1), { 'x-session-id': again.body.sessionId! })).status).toBe(200);
    // And sessions end by themselves after their ttl.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(getItems(0, 1), { 'x-session-id': again.body.sessionId! })).status).toBe(401);
  });

  it('throttles with 429, with and without Retry-After, and fails in bursts of 500', async () => {
    const key = { 'x-integration-key': erp.integrationKey };
    erp.faults.set({ rate429: 0.5, withoutRetryAfter: 0.5, retryAfterSeconds: 2 }, 5);
    const throttled = [];
    for (let i = 0; i < 40; i++) throttled.push(await call(getItems(0, 1), key));
    const limited = throttled.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(5);
    expect(limited.every((r) => r.text.includes('<l:Throttled/>'))).toBe(true);
    expect(new Set(limited.map((r) => r.retryAfter))).toEqual(new Set(['2', null]));
    expect(throttled.some((r) => r.status === 200)).toBe(true);

    erp.faults.set({ rate429: 0, burst500Every: 4, burst500Length: 3 });
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await call(getItems(0, 1), key)).status);
    expect(statuses).toEqual([200, 200, 200, 500, 500, 500, 200, 500, 500, 500]);
  });
});
