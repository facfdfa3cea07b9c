import request from 'supertest';
import { expect } from 'vitest';
import { ErpEmulator } from '../../emulators/erp/emulator.js';
export { defterIntegration as restIntegrationBody } from '../../emulators/erp/integration.js';
import { startTestStack, type TestStack, type TestStackOptions } from '../support/stack.js';

export interface ErpFixture {
  stack: TestStack;
  erp: ErpEmulator;
  close(): Promise<void>;
}

export async function startErpFixture(opts: TestStackOptions & { tokenTtlSeconds?: number } = {}): Promise<ErpFixture> {
  const erp = new ErpEmulator({ tokenTtlSeconds: opts.tokenTtlSeconds ?? 2, seed: 7 });
  await erp.start();
  const stack = await startTestStack(opts);
  return {
    stack,
    erp,
    async close() {
      await stack.close();
      await erp.stop();
    },
  };
}

export async function createIntegration(stack: TestStack, auth: { Authorization: string }, body: Record<string, unknown>): Promise<string> {
  const res = await request(stack.app).post('/v1/integrations').set(auth).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

export interface RunView {
  id: string;
  status: string;
  counts: { read: number; valid: number; invalid: number; upserted: number; unchanged: number };
  checkpoint: { pages: number; done: boolean; watermark?: { watermark: string; key: string } };
  errors: { message: string }[];
}

export async function getRun(stack: TestStack, auth: { Authorization: string }, integrationId: string, runId: string): Promise<RunView> {
  const res = await request(stack.app).get(`/v1/integrations/${integrationId}/runs/${runId}`).set(auth).expect(200);
  return res.body as RunView;
}

export async function waitForRun(
  stack: TestStack,
  auth: { Authorization: string },
  integrationId: string,
  runId: string,
  timeoutMs = 90_000,
  onProgress?: (run: RunView) => void,
): Promise<RunView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(stack, auth, integrationId, runId);
    onProgress?.(run);
    if (run.status !== 'running') return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still running: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startSync(stack: TestStack, auth: { Authorization: string }, integrationId: string, entity: string, mode: 'full' | 'incremental'): Promise<string> {
  const res = await request(stack.app).post(`/v1/integrations/${integrationId}/sync`).set(auth).send({ entity, mode });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

/** Every row of a catalog entity, following the cursors. */
export async function readCatalog(stack: TestStack, auth: { Authorization: string }, entity: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const res = await request(stack.app)
      .get(`/v1/catalog/${entity}`)
      .query({ limit: 100, ...(cursor ? { cursor } : {}) })
      .set(auth)
      .expect(200);
    rows.push(...(res.body.data as Record<string, unknown>[]));
    cursor = res.body.nextCursor as string | null;
    expect(res.body.hasMore).toBe(cursor !== null);
  } while (cursor);
  return rows;
}
