/**
 * Webhook bodies are tenant data parsed on the API: ERP and gateway/customer webhooks read the raw
 * body (for the signature) with a 1 MB cap, so an oversize one is a 413 in the one error shape, never
 * buffered whole.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defterIntegration } from '../../emulators/erp/integration.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let integrationId: string;
beforeAll(async () => {
  stack = await startTestStack({ startWorker: false });
  const { auth } = await stack.createTenant('Webhook body tenant');
  const body = { ...defterIntegration('http://127.0.0.1:9'), type: 'webhook' };
  const res = await request(stack.app).post('/v1/integrations').set(auth).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  integrationId = res.body.id as string;
});
afterAll(async () => stack?.close());

const LIMIT = 1024 * 1024;

describe('webhook body caps', () => {
  it.each([
    ['an ERP webhook', () => `/v1/integrations/${integrationId}/webhooks`],
    ['a gateway or customer webhook', () => '/v1/webhooks/conn_unknown'],
  ])('refuse a body over 1 MB on %s with 413 payload_too_large', async (_what, path) => {
    const over = `{"id":"evt","entity":"products","data":{"x":"${'a'.repeat(LIMIT)}"}}`;
    const res = await request(stack.app).post(path()).set('content-type', 'application/json').send(over);
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: 'payload_too_large', message: 'request body is too large', requestId: expect.any(String) });
  });

  it('lets a body just under the cap reach the signature check', async () => {
    const under = `{"id":"evt","entity":"products","data":{"x":"${'a'.repeat(LIMIT - 100)}"}}`;
    const res = await request(stack.app).post(`/v1/integrations/${integrationId}/webhooks`).set('content-type', 'application/json').send(under);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('webhook_signature_invalid');
  });
});
