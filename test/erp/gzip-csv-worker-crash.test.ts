/**
 * A worker killed in the middle of a gzip CSV export (Parcelo's stock.csv.gz, connected by
 * emulators/linkerp/integration-exports.yaml): a gzip stream cannot be entered at a byte offset, so
 * the replacement reads the file again from its start and skips the rows already committed by count.
 * Every row is still read, counted and written exactly once.
 */
import { readFileSync } from 'node:fs';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { LinkErpEmulator, seedParcelo } from '../../emulators/linkerp/emulator.js';
import { catalogInventory } from '../../src/db/tables/erp.js';
import { startWorkerProcess } from '../support/processes.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { createIntegration, getRun, startSync, waitForRun } from './erp-fixture.js';

const ROWS = 30_000;

let stack: TestStack;
let erp: LinkErpEmulator;
beforeAll(async () => {
  erp = new LinkErpEmulator({ seed: 23 });
  await erp.start();
  seedParcelo(erp, ROWS);
  stack = await startTestStack({ startWorker: false });
});
afterAll(async () => {
  await stack?.close();
  await erp?.stop();
});

describe('a worker killed in the middle of a gzip CSV export', () => {
  it('is replaced, the export is read again and the committed rows skipped, and every row is applied exactly once', async () => {
    const body = parseYaml(readFileSync('emulators/linkerp/integration-exports.yaml', 'utf8')) as { settings: Record<string, unknown> };
    const t = await stack.createTenant('gzip crash tenant');
    const id = await createIntegration(stack, t.auth, { ...body, settings: { ...body.settings, baseUrl: erp.url } });
    // A few 429s and 500s as well, so re-reads for retries and for the crash interleave.
    erp.faults.set({ rate429: 0.1, withoutRetryAfter: 0.5, retryAfterSeconds: 1, burst500Every: 4, burst500Length: 1 }, 2);

    const child = await startWorkerProcess(stack);
    const runId = await startSync(stack, t.auth, id, 'inventory', 'full');
    const deadline = Date.now() + 90_000;
    let before = await getRun(stack, t.auth, id, runId);
    while (before.checkpoint.pages < 20) {
      if (Date.now() > deadline) throw new Error(`no progress: ${JSON.stringify(before)}`);
      await new Promise((r) => setTimeout(r, 50));
      before = await getRun(stack, t.auth, id, runId);
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = await getRun(stack, t.auth, id, runId);
    expect(atKill.status).toBe('running');
    expect(atKill.checkpoint.done).toBe(false);
    expect(atKill.counts.read).toBe(atKill.checkpoint.pages * 100);
    const exportReads = erp.calls.filter((c) => c.path === '/v2/exports/stock.csv.gz' && c.status === 200).length;

    await stack.startWorker();
    const pages: number[] = [atKill.checkpoint.pages];
    const run = await waitForRun(stack, t.auth, id, runId, 180_000, (r) => pages.push(r.checkpoint.pages));
    expect(run.status, JSON.stringify(run.errors)).toBe('succeeded');
    // Exactly once: every row read, counted and written once, despite the crash and the re-read.
    expect(run.counts).toEqual({ read: ROWS, valid: ROWS, invalid: 0, upserted: ROWS, unchanged: 0 });
    // 300 full pages, then the empty one that finds the end (a full page cannot know it was the last).
    expect(run.checkpoint.pages).toBe(ROWS / 100 + 1);
    expect(pages).toEqual([...pages].sort((a, b) => a - b));
    const rows = await stack.database.db
      .select({ sku: catalogInventory.sku, quantity: catalogInventory.quantity })
      .from(catalogInventory)
      .where(and(eq(catalogInventory.tenantId, t.id), eq(catalogInventory.integrationId, id)));
    expect(rows).toHaveLength(ROWS);
    const bySku = new Map(rows.map((r) => [r.sku, r.quantity]));
    expect(erp.ordered().every((p) => bySku.get(p.sku) === p.onHand)).toBe(true);
    // The replacement read the export again from its start (no byte offset into a gzip stream).
    expect(erp.calls.filter((c) => c.path === '/v2/exports/stock.csv.gz' && c.status === 200).length).toBeGreaterThan(exportReads);

    const history = await stack.temporal.workflow.getHandle(`erp-${id}-inventory-${runId}`).fetchHistory();
    expect((history.events ?? []).some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)).toBe(true);
  }, 300_000);
});
