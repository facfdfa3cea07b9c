/**
 * Declarative CRM reads are tenant data parsed on a shared worker: a list or change-feed page over the
 * egress response cap, or holding more records than a page may, fails as a hard decline (not
 * retried), since a retry would get the same page.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeclarativeCustomerAdapter } from '../../src/providers/declarative/crm.js';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { GatewayError } from '../../src/providers/types.js';

const MB = 1024 * 1024;
let server: Server;
let egress: EgressFetch;
let adapter: DeclarativeCustomerAdapter;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url?.startsWith('/api/v2/contacts')) {
      // 30 KB holding 10,001 tiny records.
      res.end(`{"contacts":[${Array.from({ length: 10_001 }, () => '0').join(',')}]}`);
    } else {
      // 6 MB: over the egress guard's 5 MB cap.
      res.end(`{"changes":[],"pad":"${'z'.repeat(6 * MB)}"}`);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const definition = await loadProviderDefinitionFile(join(import.meta.dirname, '..', '..', 'providers/democrm.yaml'));
  egress = createEgressFetch({ allowPrivateNetworks: true });
  const factory = createDeclarativeProviderFactory(definition, { fetch: egress, timeoutMs: 5000 });
  adapter = factory.customerSync!.connect({
    tenantId: 't1',
    connectionId: 'con_caps',
    credentials: { apiToken: 'crm_caps_token', webhookSecret: 'crmsig_test' },
    settings: { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
  }) as DeclarativeCustomerAdapter;
});
afterAll(async () => {
  await egress?.close();
  server?.closeAllConnections();
  server?.close();
});

describe('declarative CRM page caps', () => {
  it('refuse a list page holding more records than a page may, as a hard decline', async () => {
    const err = await adapter.list(null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ classification: 'hard_decline', code: 'page_too_large', message: expect.stringContaining('list: 10001 records in one page, over the 10000-record cap') });
  });

  it('refuse a change-feed page over the response size cap, as a hard decline', async () => {
    const err = await adapter.changesSince(null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ classification: 'hard_decline', code: 'response_too_large', message: expect.stringContaining('exceeded the 5242880-byte size cap') });
  });
});
