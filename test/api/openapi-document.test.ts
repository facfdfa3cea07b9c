import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OpenApiRegistry } from '../../src/api/openapi.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let doc: Record<string, unknown> & { paths: Record<string, Record<string, Operation>> };
interface Operation {
  parameters: { name: string; in: string; schema: Record<string, unknown> }[];
  requestBody?: { content: { 'application/json': { schema: Record<string, unknown> & { properties: Record<string, Record<string, unknown>> } } } };
}
beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  doc = (await request(stack.app).get('/openapi.json').expect(200)).body;
});
afterAll(async () => stack?.close());

/** Every `$ref` string in a JSON value, with where it was found. */
function refs(value: unknown, at = '#'): { ref: string; at: string }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => refs(v, `${at}/${i}`));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [{ ref: v, at }] : refs(v, `${at}/${k}`)));
}

/** Resolves a local JSON pointer against the document root (RFC 6901 escapes included). */
function resolve(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!node || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

describe('the OpenAPI document', () => {
  it('every $ref resolves at the document root', () => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(40);
    const dangling = all.filter((r) => resolve(r.ref) === undefined);
    expect(dangling).toEqual([]);
    // The provider definition and its recursive parts are shared components.
    expect(JSON.stringify(doc.paths['/v1/providers/{name}']!.put)).toContain('#/components/schemas/ProviderDefinition');
    expect(JSON.stringify(resolve('#/components/schemas/ProviderDefinition'))).toContain('#/components/schemas/ProviderTemplate');
  });

  it('is as strict as the API where generated requests used to be refused', () => {
    const createPayment = doc.paths['/v1/payments']!.post!;
    const key = createPayment.parameters.find((p) => p.name === 'Idempotency-Key')!;
    expect(key.schema).toMatchObject({ type: 'string', pattern: expect.any(String) });
    expect(new RegExp(key.schema.pattern as string).test('')).toBe(false);
    const body = createPayment.requestBody!.content['application/json'].schema;
    expect(body.properties.currency!.enum).toContain('EUR');
    expect(body.properties.currency!.enum).not.toContain('ABC');
    expect(body.properties.country!.enum).toContain('DE');
    expect(body.properties.metadata).toMatchObject({ maxProperties: 50 });
    const credentials = doc.paths['/v1/connections']!.post!.requestBody!.content['application/json'].schema.properties.credentials!;
    expect(credentials).toMatchObject({ minProperties: 1 });
    const cursor = doc.paths['/v1/payments']!.get!.parameters.find((p) => p.name === 'cursor')!;
    expect(cursor.schema).toMatchObject({ pattern: expect.any(String) });
  });
});

describe('definitions as text and trials', () => {
  it('documents YAML bodies of PUT /v1/providers/{name} and the trial operations with their examples', () => {
    const put = doc.paths['/v1/providers/{name}']!.put as unknown as { requestBody: { content: Record<string, unknown> }; description: string };
    expect(Object.keys(put.requestBody.content)).toEqual(['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml']);
    expect(put.description).toContain('line and column');
    const errorDetail = JSON.stringify(resolve('#/components/schemas/Error'));
    expect(errorDetail).toContain('"line"');
    for (const [path, id] of [['/v1/providers/{name}/try', 'tryProvider'], ['/v1/integrations/{id}/try', 'tryErpIntegration']] as const) {
      const op = (doc.paths[path] as unknown as Record<string, { operationId: string; requestBody: { content: { 'application/json': { schema: unknown } } }; responses: Record<string, { content?: { 'application/json': { schema: unknown } } }> }>).post!;
      expect(op.operationId).toBe(id);
      const body = op.requestBody.content['application/json'].schema as { $ref?: string };
      const response = op.responses['200']!.content!['application/json'].schema as { $ref?: string };
      // Examples are checked against their schemas when the document is built; here: they are there.
      expect((resolve(body.$ref!) as { examples?: unknown[] }).examples).toHaveLength(1);
      expect((resolve(response.$ref!) as { examples?: unknown[] }).examples).toHaveLength(1);
    }
    expect(JSON.stringify(resolve('#/components/schemas/ProviderTryRequest'))).toContain('never moves money');
  });
});

describe('examples in the OpenAPI document', () => {
  const documentWith = (example: unknown) => {
    const registry = new OpenApiRegistry();
    const body = z.strictObject({ amount: z.number().int().positive() }).meta({ examples: [example] });
    registry.add({ method: 'post', path: '/v1/things', operationId: 'createThing', summary: 'Create a thing', tag: 'Things', security: 'tenant', body, responses: {} });
    return registry.document({ title: 'Test', version: '1' });
  };

  it('are shown as written when their schema accepts them, and stop the build when it does not', () => {
    expect(JSON.stringify(documentWith({ amount: 1050 }))).toContain('"examples":[{"amount":1050}]');
    expect(() => documentWith({ amount: -1 })).toThrow(/an example does not match its schema: \{"amount":-1\}/);
  });
});
