/**
 * The API stores definitions in the current format version whichever version is sent, and refuses a
 * version 2 text that uses a version 1 spelling with the field, its replacement and its line.
 */
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { upgradeProviderDefinition } from '../../src/providers/declarative/format-version.js';
import { upgradeErpConnector } from '../../src/providers/erp/connector-format.js';
import { findProviderDefinition } from '../../src/stores/platform/provider-definition-store.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let tenant: { id: string; auth: { Authorization: string } };
const v1Democrm = readFileSync('test/fixtures/format-v1/democrm.yaml', 'utf8').replace(/^name: democrm$/m, 'name: oldcrm');

beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  tenant = await stack.createTenant('Format versions');
});
afterAll(async () => stack?.close());

describe('format versions through the API', () => {
  it('PUT /v1/providers/:name stores a version 1 definition upgraded to version 2', async () => {
    await request(stack.app).put('/v1/providers/oldcrm').set(tenant.auth).set('Content-Type', 'application/yaml').send(v1Democrm).expect(200);
    const stored = await findProviderDefinition(stack.database.db, tenant.id, 'oldcrm');
    expect(stored!.definition).toEqual(upgradeProviderDefinition(parseYaml(v1Democrm) as Record<string, unknown>));
    expect(stored!.definition.formatVersion).toBe(2);
  });

  it('refuses formatVersion 2 with a version 1 field, naming it, its replacement and its line', async () => {
    const text = `formatVersion: 2\n${v1Democrm}`;
    const res = await request(stack.app).put('/v1/providers/oldcrm').set(tenant.auth).set('Content-Type', 'application/yaml').send(text).expect(400);
    const line = text.split('\n').findIndex((l) => l.includes('scheme: hmac_sha256')) + 1;
    expect(res.body.error.details).toEqual([
      expect.objectContaining({
        path: 'body.customerSync.webhook.signature.scheme',
        message: expect.stringContaining("in formatVersion 2 use 'algorithm: sha256'"),
        line,
      }),
    ]);
  });

  it('POST /v1/integrations stores a version 1 connector upgraded to version 2', async () => {
    const body = defterIntegration('http://127.0.0.1:9');
    const res = await request(stack.app).post('/v1/integrations').set(tenant.auth).send(body).expect(201);
    expect(res.body.connector.formatVersion).toBe(2);
    expect(res.body.connector.streams.products.incremental).toEqual(
      expect.objectContaining({ request: { param: 'guncellemeSonrasi', format: 'dd.MM.yyyy HH:mm:ss', zone: 'Europe/Istanbul' } }),
    );
    expect(res.body.connector.streams.products.incremental.param).toBeUndefined();
    expect(res.body.connector.streams).toEqual((upgradeErpConnector(body.connector) as { streams: unknown }).streams);

    // A client sending back its version 1 connector in a PATCH changes what it meant: the new param,
    // still written in the records' format and zone; a version 2 patch with param is refused.
    const products = { ...body.connector.streams.products, incremental: { ...body.connector.streams.products.incremental, param: 'degisimSonrasi' } };
    const patched = await request(stack.app)
      .patch(`/v1/integrations/${res.body.id}`)
      .set(tenant.auth)
      .send({ connector: { ...body.connector, streams: { ...body.connector.streams, products } } })
      .expect(200);
    expect(patched.body.connector.formatVersion).toBe(2);
    expect(patched.body.connector.streams.products.incremental.request).toEqual({ param: 'degisimSonrasi', format: 'dd.MM.yyyy HH:mm:ss', zone: 'Europe/Istanbul' });
    expect(patched.body.connector.streams.prices.incremental.request.param).toBe('guncellemeSonrasi');
    const refused = await request(stack.app)
      .patch(`/v1/integrations/${res.body.id}`)
      .set(tenant.auth)
      .send({ connector: { formatVersion: 2, streams: { products: { incremental: { param: 'x' } } } } })
      .expect(400);
    expect(refused.body.error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'body.connector.streams.products.incremental.param', message: expect.stringContaining('incremental.request') })]),
    );
  });
});
