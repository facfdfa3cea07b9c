import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import request from 'supertest';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.js';

interface MediaType {
  schema: { $ref?: string; examples?: unknown[] };
}
interface Operation {
  operationId?: string;
  summary?: string;
  requestBody?: { content: Record<string, MediaType> };
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { examples?: unknown[] }> };
}

let stack: TestStack;
let doc: Document;
let dir: string;
beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  doc = (await request(stack.app).get('/openapi.json').expect(200)).body as Document;
  dir = mkdtempSync(path.join(tmpdir(), 'switchyard-client-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await stack?.close();
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ name: `${method.toUpperCase()} ${p}`, op })),
  );

/** The schema behind a `$ref` to a component, or the schema itself. */
function resolved(schema: MediaType['schema']): { examples?: unknown[] } {
  return schema.$ref ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]! : schema;
}

/** `tsc --noEmit --strict` over the given files: the diagnostics, formatted. */
function typeCheck(files: string[]): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('a client generated from the OpenAPI document', () => {
  it('openapi-typescript output type-checks under strict, and the documented examples fit its types', async () => {
    writeFileSync(
      path.join(dir, 'switchyard-api.ts'),
      astToString(await openapiTS(doc as unknown as OpenAPI3)),
    );
    const payment = resolved({ $ref: '#/components/schemas/Payment' }).examples![0];
    const createBody =
      doc.paths['/v1/payments']!.post!.requestBody!.content['application/json']!.schema.examples![0];
    // How a client uses it: operations by their ids, resources by their component names.
    writeFileSync(
      path.join(dir, 'usage.ts'),
      [
        "import type { components, operations } from './switchyard-api.js';",
        "type CreatePaymentBody = operations['createPayment']['requestBody']['content']['application/json'];",
        `export const body: CreatePaymentBody = ${JSON.stringify(createBody)};`,
        `export const payment: components['schemas']['Payment'] = ${JSON.stringify(payment)};`,
        "export const refund: components['schemas']['Refund'] | undefined = payment.refunds[0];",
      ].join('\n'),
    );
    expect(typeCheck([path.join(dir, 'usage.ts')])).toEqual([]);
  });

  it('names every operation uniquely and readably, and summarises it', () => {
    const all = operations();
    expect(all.length).toBeGreaterThan(50);
    for (const { name, op } of all) {
      expect(op.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.summary, name).toBeTruthy();
    }
    const ids = all.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/v1/payments']!.post!.operationId).toBe('createPayment');
    expect(doc.paths['/v1/payments/{id}/refunds']!.post!.operationId).toBe('refundPayment');
  });

  it('gives every JSON request body an example, and resources their own named schemas', () => {
    const withBody = operations().filter(({ op }) => op.requestBody?.content['application/json']);
    expect(withBody.length).toBeGreaterThan(15);
    for (const { name, op } of withBody) {
      expect(
        resolved(op.requestBody!.content['application/json']!.schema).examples?.length,
        name,
      ).toBeGreaterThan(0);
    }
    expect(doc.paths['/v1/payments/{id}']!.get).toMatchObject({
      responses: {
        200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Payment' } } } },
      },
    });
    for (const name of [
      'Payment',
      'Refund',
      'Connection',
      'Customer',
      'RoutingRule',
      'ErpIntegration',
      'ErpRun',
      'DeadLetter',
      'Provider',
      'ProviderDefinition',
      'Tenant',
      'ApiKey',
      'Quota',
      'Error',
    ]) {
      expect(doc.components.schemas[name]?.examples?.length, name).toBeGreaterThan(0);
    }
    expect(JSON.stringify(resolved({ $ref: '#/components/schemas/Payment' }).examples)).toContain(
      'pm_card_visa',
    );
  });

  it('states no integer bound that is only the safe-integer range', () => {
    const placeholders: string[] = [];
    const walk = (value: unknown, at: string): void => {
      if (!value || typeof value !== 'object') return;
      const node = value as Record<string, unknown>;
      if (node.minimum === Number.MIN_SAFE_INTEGER || node.maximum === Number.MAX_SAFE_INTEGER)
        placeholders.push(at);
      for (const [key, child] of Object.entries(node)) walk(child, `${at}/${key}`);
    };
    walk(doc, '#');
    expect(placeholders).toEqual([]);
  });
});
