import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCatalog } from '../../emulators/erp/emulator.js';
import { startWorkerProcess } from '../support/processes.js';
import { createIntegration, getRun, readCatalog, restIntegrationBody, startErpFixture, startSync, waitForRun, type ErpFixture } from './erp-fixture.js';

let f: ErpFixture;

beforeAll(async () => {
  f = await startErpFixture({ startWorker: false });
});
afterAll(async () => {
  await f?.close();
});


describe('a worker killed in the middle of an ERP run', () => {
  it('is replaced, the run resumes from the last committed page, and every record is applied exactly once', async () => {
    const { stack, erp } = f;
    seedCatalog(erp, 400);
    const t = await stack.createTenant('Crash tenant');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url, 10));
    // Some 500s and 429s as well, so retries and the crash interleave.
    erp.setFaults({ rate429: 0.05, rate500: 0.05, retryAfterSeconds: 1 }, 3);

    const child = await startWorkerProcess(stack);
    const runId = await startSync(stack, t.auth, id, 'products', 'full');
    const deadline = Date.now() + 60_000;
    let before = await getRun(stack, t.auth, id, runId);
    while (before.checkpoint.pages < 5) {
      if (Date.now() > deadline) throw new Error(`no progress: ${JSON.stringify(before)}`);
      await new Promise((r) => setTimeout(r, 50));
      before = await getRun(stack, t.auth, id, runId);
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = await getRun(stack, t.auth, id, runId);
    expect(atKill.status).toBe('running');
    expect(atKill.checkpoint.done).toBe(false);

    await stack.startWorker();
    const pages: number[] = [atKill.checkpoint.pages];
    const watermarks: string[] = [];
    const run = await waitForRun(stack, t.auth, id, runId, 150_000, (r) => {
      pages.push(r.checkpoint.pages);
      if (r.checkpoint.watermark) watermarks.push(`${r.checkpoint.watermark.watermark}|${r.checkpoint.watermark.key}`);
    });
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    // Exactly once: every source record read, counted and written once, despite the crash.
    expect(run.counts).toEqual({ read: 400, valid: 400, invalid: 0, upserted: 400, unchanged: 0 });
    expect(run.checkpoint.pages).toBe(40);
    // The checkpoint (pages and watermark) only moved forward.
    expect(pages).toEqual([...pages].sort((a, b) => a - b));
    expect(watermarks).toEqual([...watermarks].sort());
    const products = await readCatalog(stack, t.auth, 'products');
    expect(products.map((p) => p.sku)).toEqual(erp.ordered('urunler').map((r) => r.key).sort());

    // The killed attempt timed out on its heartbeat and a new attempt carried on.
    const handle = stack.temporal.workflow.getHandle(`erp-${id}-products-${runId}`);
    const history = await handle.fetchHistory();
    const retried = (history.events ?? []).some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    expect(retried).toBe(true);
  }, 240_000);
});
