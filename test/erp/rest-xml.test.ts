/**
 * XML REST streams against Ledgerline, the emulated SOAP ERP, over real HTTP through the egress
 * guard, configured by emulators/soaperp/integration.yaml: a SOAP envelope POSTed per page with the
 * paginator's values in it (XML-escaped, so a setting cannot rewrite the envelope), records selected
 * from the answer whether a page holds one item or many, and the ERP's faults classified.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { seedLedgerline, SoapErpEmulator } from '../../emulators/soaperp/emulator.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { parseXml } from '../../src/providers/declarative/xml.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { restConnectorSchema } from '../../src/providers/erp/connector-definition.js';
import { createRestSource } from '../../src/providers/erp/rest-source.js';
import { ErpConfigurationError, ErpRateLimitedError, ErpUnavailableError } from '../../src/providers/erp/source.js';

const definition = parseYaml(readFileSync('emulators/soaperp/integration.yaml', 'utf8')) as {
  connector: { streams: { products: Record<string, unknown> } } & Record<string, unknown>;
  credentials: Record<string, string>;
};
const items = definition.connector.streams.products;

let erp: SoapErpEmulator;
let egress: EgressFetch;
beforeAll(async () => {
  erp = new SoapErpEmulator();
  await erp.start();
  egress = createEgressFetch({ allowPrivateNetworks: true });
  seedLedgerline(erp, 81);
});
afterAll(async () => {
  await egress?.close();
  await erp?.stop();
});
beforeEach(() => {
  erp.faults.set({ rate429: 0, burst500Every: 0, burst500Length: 0 });
});

function source(stream: Record<string, unknown> = items, settings: Record<string, unknown> = {}) {
  const connector = restConnectorSchema.parse({ ...definition.connector, streams: { products: stream } });
  return createRestSource(connector, {
    tenantId: 't',
    integrationId: 'i',
    credentials: definition.credentials,
    settings: { baseUrl: erp.url, ...settings },
    fetch: egress,
    urlPolicy: { allowPrivateNetworks: true },
    tokenCache: new TokenCache(),
  });
}

async function readAll(stream?: Record<string, unknown>, settings?: Record<string, unknown>) {
  const pages: Record<string, unknown>[][] = [];
  for await (const page of source(stream, settings).pages('products', null)) pages.push(page.records as Record<string, unknown>[]);
  return pages;
}

const firstPage = (stream?: Record<string, unknown>, settings?: Record<string, unknown>) =>
  source(stream, settings).pages('products', null)[Symbol.asyncIterator]().next();

describe('an XML REST stream (SOAP)', () => {
  it('POSTs the envelope per page with the offset in it and reads every item once, a page of one item like any other', async () => {
    const before = erp.calls.length;
    const pages = await readAll();
    // 81 items by 40: the last page holds a single <Item>, read as a list of one.
    expect(pages.map((p) => p.length)).toEqual([40, 40, 1]);
    expect(pages.flat().map((r) => r.ItemCode)).toEqual(erp.ordered().map((i) => i.code));
    expect(pages[0]![17]).toEqual({
      ItemCode: 'LL-00018',
      Description: 'Bolt & nut <M18> "zinc"',
      UnitPrice: { '@currency': 'EUR', '#text': '14.50' },
      Warehouse: 'north',
      QtyOnHand: '18',
      Active: 'false',
      Modified: '2026-06-01T00:00:18.000Z',
    });
    const calls = erp.calls.slice(before);
    expect(calls.map((c) => [c.auth, c.status, c.offset, c.limit])).toEqual([
      ['key', 200, 0, 40],
      ['key', 200, 40, 40],
      ['key', 200, 80, 40],
    ]);
  });

  it('reads XML by the Content-Type when the stream does not say `format`', async () => {
    const { format: _format, ...unsaid } = items;
    const pages = await readAll(unsaid);
    expect(pages.flat()).toHaveLength(81);
  });

  it('XML-escapes every value rendered into the body: a hostile setting cannot change the document', async () => {
    const template = (items.body as { template: string }).template.replace('</l:GetItems>', '<l:Note>{{settings.note}}</l:Note></l:GetItems>');
    const stream = { ...items, body: { encoding: 'xml', template } };
    for (const note of ['</a><b>', '</l:Note><l:Offset>40</l:Offset><l:Note>', ']]><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>&e;']) {
      const before = erp.calls.length;
      const page = await firstPage(stream, { note });
      // Unescaped, the second value would add an <Offset> and Ledgerline would refuse the call (400).
      expect((page.value as { records: Record<string, unknown>[] }).records[0]!.ItemCode).toBe('LL-00001');
      const sent = parseXml(erp.calls[before]!.body!) as { Envelope: { Body: { GetItems: Record<string, unknown> } } };
      expect(sent.Envelope.Body.GetItems).toEqual({ Offset: '0', Limit: '40', Note: note });
    }
  });

  it('classifies the faults: 429 with and without Retry-After, 500, an answer that is not the envelope expected', async () => {
    erp.faults.set({ rate429: 1, withoutRetryAfter: 0, retryAfterSeconds: 7 });
    await expect(firstPage()).rejects.toEqual(new ErpRateLimitedError(7000));
    erp.faults.set({ rate429: 1, withoutRetryAfter: 1 });
    await expect(firstPage()).rejects.toEqual(new ErpRateLimitedError(1000));
    erp.faults.set({ rate429: 0, burst500Every: 1, burst500Length: 1 });
    await expect(firstPage()).rejects.toBeInstanceOf(ErpUnavailableError);
    erp.faults.set({ burst500Every: 0 });
    await expect(firstPage({ ...items, recordPath: 'Envelope.Body.Nothing' })).resolves.toMatchObject({ value: { records: [] } });
    await expect(firstPage({ ...items, headers: { SOAPAction: 'wrong' } })).rejects.toThrow(new ErpConfigurationError('ERP refused /soap/ItemService with HTTP 400'));
  });

  it("lets the auth block's header replace a stream header of the same name", async () => {
    const before = erp.calls.length;
    const page = await firstPage({ ...items, headers: { ...(items.headers as Record<string, string>), 'x-integration-key': 'not-the-key' } });
    expect((page.value as { records: unknown[] }).records).toHaveLength(40);
    expect(erp.calls[before]).toMatchObject({ auth: 'key', status: 200 });
  });

  it('refuses a JSON stream whose answer is XML, naming why', async () => {
    await expect(firstPage({ ...items, format: 'json' })).rejects.toThrow(/no list of records at 'Envelope.Body.GetItemsResponse.Items.Item'/);
  });
});

describe('XML stream definitions', () => {
  const issues = (stream: Record<string, unknown>) => {
    const parsed = restConnectorSchema.safeParse({ ...definition.connector, streams: { products: stream } });
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  const withTemplate = (template: string) => ({ ...items, body: { encoding: 'xml', template } });

  it('accepts the Ledgerline definition', () => {
    expect(issues(items)).toEqual([]);
  });

  it.each([
    ['an unknown variable', withTemplate('<a>{{secrets.x}}</a>'), /body.template: unknown variable 'secrets.x' \(available: credentials, settings, query\)/],
    ['malformed XML', withTemplate('<a><b></a>'), /body.template: not well-formed XML .*: <\/a> closes <b>/],
    ['a variable in an element name', withTemplate('<a><{{settings.tag}}>1</{{settings.tag}}></a>'), /body.template: not well-formed XML .*expected a name/],
    ['a variable between attributes', withTemplate('<a {{settings.attrs}}>1</a>'), /body.template: not well-formed XML .*expected a name/],
    ['a DTD', withTemplate('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'), /body.template: not well-formed XML .*: a document type declaration/],
    ['a body on GET', { ...items, method: 'GET' }, /body: a body is sent with method: 'POST' only/],
    ['a header that is not a header name', { ...items, headers: { 'SOAP Action': 'x' } }, /headers.SOAP Action: not an HTTP header name/],
    ['a header that frames the request', { ...items, headers: { 'Content-Length': '0' } }, /headers.Content-Length: set by the HTTP client, not by a definition/],
  ])('refuses %s, naming the field', (_name, stream, message) => {
    expect(issues(stream as Record<string, unknown>).join('\n')).toMatch(message);
  });

  it('parses the definitions saved before it exactly as before (no method, body or format added)', () => {
    for (const stream of [{ path: '/items', recordPath: 'data' }, { path: '/items', pagination: { type: 'link' } }]) {
      const parsed = restConnectorSchema.parse({ type: 'rest', baseUrl: 'https://erp.example', streams: { products: stream } });
      expect(parsed.streams.products).toEqual({ pagination: { type: 'none' }, ...stream });
    }
  });
});
