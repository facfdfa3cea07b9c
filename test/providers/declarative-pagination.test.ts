/**
 * The shared paginators (src/providers/declarative/pagination.ts) as a CRM definition's `list` and
 * `changes` use them, against a local server that pages in each style over real HTTP through the
 * egress guard: every record comes once, in order, the read ends where the style says, a next link
 * off the base URL's origin and a page that does not move on are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import type { CustomerSyncAdapter } from '../../src/providers/crm-client.js';
import { createDeclarativeProviderFactory, validateProviderDefinition, type ProviderDefinitionInput } from '../../src/providers/declarative/index.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { linkTarget } from '../../src/providers/declarative/pagination.js';
import { restConnectorSchema } from '../../src/providers/erp/connector-definition.js';
import { createRestSource } from '../../src/providers/erp/rest-source.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { MODIFIED_FORMAT, MODIFIED_ZONE, startPagingServer, type PagingServer } from './paging-server.js';

let server: PagingServer;
let egress: EgressFetch;
beforeAll(async () => {
  server = await startPagingServer();
  egress = createEgressFetch({ allowPrivateNetworks: true });
});
afterAll(async () => {
  await egress?.close();
  await server?.close();
});

const endpoint = (path: string) => ({ method: 'GET' as const, path });

/** A CRM definition over /api/<n> whose list (and changes) endpoint is `list`. */
function definition(n: number, list: Record<string, unknown>, changes?: Record<string, unknown>): ProviderDefinitionInput {
  return {
    name: 'pager',
    displayName: 'Pager',
    version: '1',
    baseUrl: `{{settings.baseUrl}}/api/${n}`,
    auth: { type: 'bearer', token: 'static-token' },
    customerSync: {
      record: { id: 'id' },
      fields: { email: 'email' },
      endpoints: {
        create: endpoint('/contacts'),
        update: endpoint('/contacts/{{remoteId}}'),
        delete: endpoint('/contacts/{{remoteId}}'),
        retrieve: endpoint('/contacts/{{remoteId}}'),
        list: { method: 'GET', items: 'items', ...list },
        ...(changes ? { changes } : {}),
      },
      events: { eventId: 'id', type: 'type', kinds: { updated: 'updated' }, remoteId: 'id', occurredAt: 'at' },
    },
  } as unknown as ProviderDefinitionInput;
}

function adapterOf(def: ProviderDefinitionInput, now: () => number = Date.now): CustomerSyncAdapter {
  const factory = createDeclarativeProviderFactory(def, { fetch: egress, timeoutMs: 2000, now });
  return factory.customerSync!.connect({ tenantId: 't', connectionId: 'c', credentials: {}, settings: { baseUrl: server.url } });
}

/** Every page of `list`, as reconciliation reads it (cursor handed back until null). */
async function listAll(adapter: CustomerSyncAdapter) {
  const before = server.requests.length;
  const pages: string[][] = [];
  const cursors: (string | null)[] = [];
  let cursor: string | null = null;
  do {
    const page = await adapter.list(cursor);
    pages.push(page.records.map((r) => r.remoteId));
    cursors.push(page.cursor);
    cursor = page.cursor;
  } while (cursor !== null && pages.length < 20);
  return { pages, cursors, served: server.requests.slice(before) };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);

describe('shared paginators on a CRM list endpoint', () => {
  it('cursor in the body: sent back in its parameter until it is null', async () => {
    const { pages, served } = await listAll(
      adapterOf(definition(23, { path: '/cursor-body', pagination: { type: 'cursor', cursorPath: 'next', param: 'after' } })),
    );
    expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(pages.flat()).toEqual(ids(23));
    expect(served).toEqual(['/api/23/cursor-body', '/api/23/cursor-body?after=10', '/api/23/cursor-body?after=20']);
  });

  it('cursor in a header', async () => {
    const { pages, served } = await listAll(
      adapterOf(definition(23, { path: '/cursor-header', pagination: { type: 'cursor', cursorHeader: 'X-Next-Cursor', param: 'after' } })),
    );
    expect(pages.flat()).toEqual(ids(23));
    expect(served).toHaveLength(3);
  });

  it('next URL in the body (absolute)', async () => {
    const { pages, served } = await listAll(adapterOf(definition(23, { path: '/next-body', pagination: { type: 'next_url', urlPath: 'links.next' } })));
    expect(pages.flat()).toEqual(ids(23));
    expect(served).toEqual(['/api/23/next-body', '/api/23/next-body?from=10', '/api/23/next-body?from=20']);
  });

  it('next URL in a header, relative to the page it came from', async () => {
    const { pages, served } = await listAll(adapterOf(definition(23, { path: '/next-header', pagination: { type: 'next_url', header: 'X-Next-Page' } })));
    expect(pages.flat()).toEqual(ids(23));
    expect(served).toEqual(['/api/23/next-header', '/api/23/next-header?from=10', '/api/23/next-header?from=20']);
  });

  it('RFC 8288 Link header: rel="next" among several links, quoted parameters, a relative target', async () => {
    const { pages, served } = await listAll(adapterOf(definition(23, { path: '/link', pagination: { type: 'link' } })));
    expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(pages.flat()).toEqual(ids(23));
    expect(served).toEqual(['/api/23/link', '/api/23/link?from=10', '/api/23/link?from=20']);
  });

  it('a next link to another origin is refused (it would carry our credentials elsewhere)', async () => {
    const adapter = adapterOf(definition(23, { path: '/link-away', pagination: { type: 'link' } }));
    const before = server.requests.length;
    await expect(adapter.list(null)).rejects.toMatchObject({ code: 'pagination_refused', message: expect.stringMatching(/away from the base URL/) });
    expect(server.requests.slice(before)).toEqual(['/api/23/link-away']);
  });

  it('a cursor handed back with a foreign next URL is refused too (cursors are stored, then come back)', async () => {
    const adapter = adapterOf(definition(23, { path: '/link', pagination: { type: 'link' } }));
    const forged = JSON.stringify({ position: { url: 'http://elsewhere.example/api/23/link?from=10' } });
    await expect(adapter.list(forged)).rejects.toMatchObject({ code: 'pagination_refused' });
    await expect(adapter.list('not a cursor of ours')).rejects.toMatchObject({ code: 'invalid_cursor' });
  });

  it('page numbers ending at the page count: no request for an empty page after an exact multiple', async () => {
    const { pages, served } = await listAll(
      adapterOf(definition(20, { path: '/page', pagination: { type: 'page', param: 'page', size: 10, sizeParam: 'per_page', totalPagesPath: 'meta.pages' } })),
    );
    expect(pages.map((p) => p.length)).toEqual([10, 10]);
    expect(served).toEqual(['/api/20/page?page=1&per_page=10', '/api/20/page?page=2&per_page=10']);
  });

  it('page numbers ending on a short or empty page', async () => {
    const short = await listAll(adapterOf(definition(23, { path: '/page', pagination: { type: 'page', param: 'page', size: 10, sizeParam: 'per_page' } })));
    expect(short.pages.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(short.pages.flat()).toEqual(ids(23));
    const exact = await listAll(adapterOf(definition(20, { path: '/page', pagination: { type: 'page', param: 'page', size: 10, sizeParam: 'per_page' } })));
    expect(exact.pages.map((p) => p.length)).toEqual([10, 10, 0]);
  });

  it('offset and limit ending at the total', async () => {
    const { pages, served } = await listAll(
      adapterOf(definition(20, { path: '/offset', pagination: { type: 'offset', param: 'offset', size: 10, sizeParam: 'limit', totalPath: 'total' } })),
    );
    expect(pages.flat()).toEqual(ids(20));
    expect(served).toEqual(['/api/20/offset?offset=0&limit=10', '/api/20/offset?offset=10&limit=10']);
  });

  it('offset and limit ending on a short page', async () => {
    const { pages } = await listAll(adapterOf(definition(23, { path: '/offset', pagination: { type: 'offset', param: 'offset', size: 10, sizeParam: 'limit' } })));
    expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
  });

  it('the cursor is the paginator state: a later call resumes where the last one stopped', async () => {
    const def = definition(23, { path: '/page', pagination: { type: 'page', param: 'page', size: 10, sizeParam: 'per_page' } });
    const first = await adapterOf(def).list(null);
    // Another client (another worker, after a restart) resumes from the stored cursor.
    const second = await adapterOf(def).list(first.cursor);
    expect(second.records.map((r) => r.remoteId)).toEqual(ids(20).slice(10));
  });

  it('a page that does not move on is refused, not read for ever', async () => {
    const adapter = adapterOf(definition(23, { path: '/loop', pagination: { type: 'cursor', cursorPath: 'next', param: 'after' } }));
    const first = await adapter.list(null);
    await expect(adapter.list(first.cursor)).rejects.toMatchObject({ code: 'pagination_refused', message: expect.stringMatching(/does not move on/) });
  });

  it('a change feed that loops back to a page already read stops with an error', async () => {
    const def = definition(23, { path: '/page' }, {
      method: 'GET',
      path: '/loop',
      items: 'items',
      pagination: { type: 'cursor', cursorPath: 'next', param: 'after' },
      event: { eventId: 'id', type: 'email', kinds: { x: 'updated' }, remoteId: 'id', occurredAt: 'id' },
    });
    await expect(adapterOf(def).changesSince(null)).rejects.toMatchObject({ code: 'pagination_refused' });
  });

  it('the old nextCursor form keeps working unchanged, and cannot be mixed with pagination', async () => {
    const { pages } = await listAll(adapterOf(definition(23, { path: '/cursor-body', query: { after: '{{cursor | optional}}' }, nextCursor: 'next' })));
    expect(pages.flat()).toEqual(ids(23));
    expect(() =>
      validateProviderDefinition(definition(23, { path: '/x', nextCursor: 'next', pagination: { type: 'link' } }), 'pager'),
    ).toThrow(/pagination replaces nextCursor/);
  });

  it('validation names the field of a paginator missing its source', () => {
    expect(() => validateProviderDefinition(definition(23, { path: '/x', pagination: { type: 'cursor', param: 'after' } }), 'pager')).toThrow(
      /list\.pagination.*exactly one of cursorPath and cursorHeader/s,
    );
  });
});

describe('the same paginators on an ERP REST stream', () => {
  /** Every page of a products stream over /api/<n><path>, with the positions the checkpoint would store. */
  async function readStream(n: number, path: string, pagination: Record<string, unknown>) {
    const connector = restConnectorSchema.parse({ type: 'rest', baseUrl: `${server.url}/api/${n}`, streams: { products: { path, recordPath: 'items', pagination } } });
    const source = createRestSource(connector, {
      tenantId: 't',
      integrationId: 'i',
      credentials: {},
      settings: {},
      fetch: egress,
      urlPolicy: { allowPrivateNetworks: true },
      tokenCache: new TokenCache(),
    });
    const pages: string[][] = [];
    const positions: (string | null)[] = [];
    for await (const page of source.pages('products', null)) {
      pages.push(page.records.map((r) => (r as { id: string }).id));
      positions.push(page.next);
    }
    return { pages, positions };
  }

  it('next URL in a header, positions stored as resolved URLs', async () => {
    const { pages, positions } = await readStream(23, '/next-header', { type: 'next_url', header: 'X-Next-Page' });
    expect(pages.flat()).toEqual(ids(23));
    expect(positions).toEqual([`${server.url}/api/23/next-header?from=10`, `${server.url}/api/23/next-header?from=20`, null]);
  });

  it('page numbers ending at the page count', async () => {
    const { pages, positions } = await readStream(20, '/page', { type: 'page', param: 'page', size: 10, sizeParam: 'per_page', totalPagesPath: 'meta.pages' });
    expect(pages.map((p) => p.length)).toEqual([10, 10]);
    expect(positions).toEqual(['2', null]);
  });

  it('offset ending at the total', async () => {
    const { positions } = await readStream(20, '/offset', { type: 'offset', param: 'offset', size: 10, sizeParam: 'limit', totalPath: 'total' });
    expect(positions).toEqual(['10', null]);
  });

  it('a total that is not a number is an error naming the field', async () => {
    await expect(readStream(20, '/offset', { type: 'offset', param: 'offset', size: 10, sizeParam: 'limit', totalPath: 'items' })).rejects.toThrow(
      /pagination\.totalPath: no count at 'items'/,
    );
  });

  it('a stream whose next page is the same page fails instead of looping', async () => {
    await expect(readStream(23, '/loop', { type: 'cursor', cursorPath: 'next', param: 'after' })).rejects.toThrow(/does not move on/);
  });
});

describe('list filtered by modification time (a system without a change feed)', () => {
  it('the first read starts the clock; the next asks for records modified since it, less the lookback, in the declared format and zone', async () => {
    let now = Date.UTC(2026, 5, 1, 9, 0, 0);
    const def = definition(23, {
      path: '/page',
      pagination: { type: 'page', param: 'page', size: 10, sizeParam: 'per_page' },
      modifiedAfter: { param: 'modified_after', format: MODIFIED_FORMAT, zone: MODIFIED_ZONE, lookbackSeconds: 120 },
    });
    const adapter = adapterOf(def, () => now);
    const before = server.requests.length;
    const start = await adapter.changesSince(null);
    expect(start.events).toEqual([]);
    expect(server.requests.length).toBe(before); // nothing read: the full scan covers the past

    server.touch('c05', now + 60_000);
    server.touch('c17', now + 90_000);
    now += 3_600_000;
    const read = await adapter.changesSince(start.cursor);
    expect(read.events.map((e) => [e.remoteId, e.kind])).toEqual([
      ['c05', 'updated'],
      ['c17', 'updated'],
    ]);
    // 09:00 UTC less 120 s, written in Istanbul time (UTC+3).
    const served = server.requests.slice(before);
    expect(served).toHaveLength(1);
    expect(Object.fromEntries(new URL(server.url + served[0]!).searchParams)).toEqual({ modified_after: '01.06.2026 11:58:00', page: '1', per_page: '10' });

    // The next read starts where this one started: c05 (touched before) is not seen again.
    const readAt = now;
    server.touch('c09', readAt + 1000);
    now += 3_600_000;
    const again = await adapter.changesSince(read.cursor);
    expect(again.events.map((e) => e.remoteId)).toEqual(['c09']);
    const sent = new URL(server.url + server.requests.at(-1)!).searchParams.get('modified_after')!;
    expect(DateTime.fromFormat(sent, MODIFIED_FORMAT, { zone: MODIFIED_ZONE }).toMillis()).toBe(readAt - 120_000);
  });

  it('refuses a zone that is not IANA', () => {
    expect(() =>
      validateProviderDefinition(definition(23, { path: '/x', modifiedAfter: { param: 'since', zone: 'Mars/Olympus' } }), 'pager'),
    ).toThrow(/modifiedAfter\.zone.*IANA/s);
  });
});

describe('RFC 8288 Link header parsing', () => {
  it.each([
    ['<https://a.example/p2>; rel="next"', 'https://a.example/p2'],
    ['<https://a.example/p1>; rel="prev", <https://a.example/p3>; rel="next"', 'https://a.example/p3'],
    ['<https://a.example/p?x=1,2>; rel=next', 'https://a.example/p?x=1,2'],
    ['<p3>; title="a, b; c"; rel="last next"', 'p3'],
    ['<p3>; REL=NEXT', 'p3'],
    ['<p1>; rel="prev"; title="next"', null],
    ['<p1>; rel="nextpage"', null],
    ['<p1>; rel="next"; rel="prev"', 'p1'],
    ['<p1>; rel="prev"; rel="next"', null],
    ['garbage', null],
    ['', null],
  ])('%s', (header, target) => {
    expect(linkTarget(header, 'next')).toBe(target);
  });
});
