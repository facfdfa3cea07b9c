import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../../src/db/client.js';
import { startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.close());

describe('GET /health', () => {
  it('is ok when Postgres and Temporal answer', async () => {
    const res = await request(stack.app).get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', checks: { database: { ok: true }, temporal: { ok: true } } });
  });

  it('answers 503 naming the database when Postgres is unreachable', async () => {
    const unreachable = connectPostgres('postgres://postgres:hunter2@127.0.0.1:1/nowhere', { poolSize: 1 });
    const app = stack.makeApp({ database: unreachable });
    const res = await request(app).get('/health').set('Authorization', `Bearer ${stack.adminToken}`).expect(503);
    expect(res.body.status).toBe('unavailable');
    expect(res.body.checks.database.ok).toBe(false);
    expect(res.body.checks.database.error).toBeTruthy();
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
    expect(res.body.checks.temporal.ok).toBe(true);

    // Anyone sees which component is down, but not why (driver messages name hosts and users).
    for (const auth of [undefined, 'Bearer not-the-admin-token']) {
      const anonymous = request(app).get('/health');
      const body = (await (auth ? anonymous.set('Authorization', auth) : anonymous).expect(503)).body;
      expect(body.checks).toEqual({ database: { ok: false, latencyMs: expect.any(Number) }, temporal: { ok: true, latencyMs: expect.any(Number) } });
    }
    await unreachable.close();
  });
});

describe('API documentation', () => {
  it('serves an OpenAPI 3.1 document generated from the schemas', async () => {
    const res = await request(stack.app).get('/openapi.json').expect(200);
    expect(res.body.openapi).toBe('3.1.0');
    const create = res.body.paths['/v1/connections'].post;
    expect(create.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['provider', 'code', 'name', 'credentials']));
    expect(res.body.paths['/v1/connections/{id}'].get.parameters[0]).toMatchObject({ name: 'id', in: 'path' });
    expect(res.body.paths['/v1/payments'].post.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }));
  });

  it('serves the interactive docs page and its assets', async () => {
    const page = await request(stack.app).get('/docs').expect(200);
    expect(page.text).toContain('swagger-ui');
    // Every script and stylesheet the page names must be served (a relative path here once broke the page).
    for (const [, src] of page.text.matchAll(/(?:src|href)="([^"]+)"/g)) await request(stack.app).get(src!).expect(200);
    await request(stack.app).get('/docs/assets/swagger-ui-bundle.js').expect(200);
    const init = await request(stack.app).get('/docs/docs-init.js').expect(200);
    expect(init.text).toContain('/openapi.json');
  });

  it('an unknown route gets the common error shape', async () => {
    const res = await request(stack.app).get('/v1/nope').expect(404);
    expect(res.body.error).toMatchObject({ code: 'not_found' });
  });
});
