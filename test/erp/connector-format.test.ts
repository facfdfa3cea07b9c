/**
 * Format versions of ERP connectors: the connectors the ERP tests use (the Defter ERP integration,
 * written in the first format with `incremental.param`, and the Parcelo and Ledgerline files) upgraded
 * to version 2 send the same HTTP requests (method, URL, headers, body, recorded by a local server
 * over real HTTP through the egress guard) for full and incremental reads; version 2 refuses the old
 * spelling, naming its replacement.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ERP_TIME_FORMAT, ERP_ZONE } from '../../emulators/erp/emulator.js';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { TokenCache } from '../../src/providers/declarative/outbound-auth.js';
import { createEgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { connectorSchema, type RestConnector } from '../../src/providers/erp/connector-definition.js';
import { upgradeErpConnector } from '../../src/providers/erp/connector-format.js';
import { createRestSource } from '../../src/providers/erp/rest-source.js';

interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let server: Server;
let baseUrl: string;
let recorded: Recorded[] = [];
/** One answer every reader accepts as a last page (a token for the logins, an empty record list). */
const ANSWER = { access_token: 'tok_1', token_type: 'bearer', expires_in: 3600, data: { token: 'sess_1' }, token: 'sess_1', kayitlar: [], items: [] };
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      recorded.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ANSWER));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

/** The requests a connector sends for a full read and an incremental read of each of its streams, and their outcomes. */
async function requestsOf(connector: RestConnector, credentials: Record<string, string>, settings: Record<string, unknown>) {
  recorded = [];
  const egress = createEgressFetch({ allowPrivateNetworks: true });
  const source = createRestSource(connector, {
    tenantId: 't',
    integrationId: 'i',
    credentials,
    settings: { ...settings, baseUrl },
    fetch: egress,
    urlPolicy: { allowPrivateNetworks: true },
    tokenCache: new TokenCache(),
  });
  const outcomes: string[] = [];
  for (const entity of Object.keys(connector.streams) as (keyof RestConnector['streams'])[]) {
    for (const since of [undefined, { watermark: '2026-01-13T07:00:05Z', key: 'STK-00005' }]) {
      try {
        const sizes: number[] = [];
        for await (const page of source.pages(entity, null, since)) sizes.push(page.records.length);
        outcomes.push(`${entity}: pages of ${sizes.join(', ')} records`);
      } catch (err) {
        outcomes.push(`${entity}: ${(err as Error).name}: ${(err as Error).message}`);
      }
    }
  }
  await egress.close();
  return { requests: recorded, outcomes };
}

const root = join(import.meta.dirname, '..', '..');
const fileIntegration = (file: string) => parseYaml(readFileSync(join(root, file), 'utf8')) as { connector: Record<string, unknown>; credentials: Record<string, string>; settings: Record<string, unknown> };
const defter = defterIntegration('http://unused.example');
const connectors: [string, Record<string, unknown>, Record<string, string>, Record<string, unknown>][] = [
  ['Defter ERP (emulators/erp/integration.ts)', defter.connector, defter.credentials, defter.settings],
  ...['emulators/linkerp/integration.yaml', 'emulators/soaperp/integration.yaml', 'emulators/soaperp/integration-session.yaml'].map((file) => {
    const i = fileIntegration(file);
    return [file, i.connector, i.credentials, i.settings] as [string, Record<string, unknown>, Record<string, string>, Record<string, unknown>];
  }),
];

describe.each(connectors)('%s in format versions 1 and 2', (name, v1, credentials, settings) => {
  const v2 = upgradeErpConnector(v1);

  it('upgrades idempotently to a text without the old spellings', () => {
    expect(v1.formatVersion).toBeUndefined();
    expect(v2.formatVersion).toBe(2);
    expect(upgradeErpConnector(v2)).toEqual(v2);
    // Version 2 refuses the old spellings: accepted means none is left.
    expect(connectorSchema.safeParse(v2).error?.issues ?? []).toEqual([]);
  });

  it('sends the same requests, full and incremental, with the same outcomes', async () => {
    const before = await requestsOf(connectorSchema.parse(v1) as RestConnector, credentials, settings);
    const after = await requestsOf(connectorSchema.parse(v2) as RestConnector, credentials, settings);
    expect(before.requests.length).toBeGreaterThanOrEqual(2);
    expect(after.requests).toEqual(before.requests);
    expect(after.outcomes).toEqual(before.outcomes);
    if (name.startsWith('Defter')) {
      // The watermark 07:00:05Z went out in the records' notation and zone (Istanbul), in both versions.
      const since = before.requests.map((r) => new URL(r.url, baseUrl).searchParams.get('guncellemeSonrasi')).filter(Boolean);
      expect(since).toEqual(['13.01.2026 10:00:05', '13.01.2026 10:00:05', '13.01.2026 10:00:05']);
    }
  });
});

describe('the Defter ERP connector', () => {
  it("writes incremental.param as request in the records' format and zone", () => {
    const v2 = upgradeErpConnector(defter.connector) as { streams: { products: { incremental: Record<string, unknown> } } };
    expect(v2.streams.products.incremental).toEqual({
      cursorField: 'GuncellemeTarihi',
      format: ERP_TIME_FORMAT,
      zone: ERP_ZONE,
      keyField: 'StokKodu',
      request: { param: 'guncellemeSonrasi', format: ERP_TIME_FORMAT, zone: ERP_ZONE },
    });
  });

  it('formatVersion 2 with incremental.param is refused, naming the field and its replacement', () => {
    const result = connectorSchema.safeParse({ ...defter.connector, formatVersion: 2 });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual(
      ['products', 'prices', 'inventory'].map((e) => [
        `streams.${e}.incremental.param`,
        expect.stringMatching(/formatVersion 1 field; in formatVersion 2 use 'incremental.request: \{param, format, zone\}'/),
      ]),
    );
  });
});
