import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCatalog } from '../../emulators/erp/emulator.js';
import { erpIntegrations } from '../../src/db/tables/erp.js';
import { createIntegration, getRun, restIntegrationBody, startErpFixture, startSync, type ErpFixture } from './erp-fixture.js';

let f: ErpFixture;
beforeAll(async () => {
  f = await startErpFixture({
    tokenTtlSeconds: 60,
    circuit: { windowMs: 60_000, minimumCalls: 3, failureRateThreshold: 0.5, openDurationMs: 60_000, halfOpenSuccessesToClose: 1 },
  });
});
afterAll(async () => {
  await f?.close();
});

describe('the per-integration circuit breaker', () => {
  it('opens after repeated 5xx and stops calling the failing ERP', async () => {
    const { stack, erp } = f;
    seedCatalog(erp, 20);
    const t = await stack.createTenant('Circuit tenant');
    const id = await createIntegration(stack, t.auth, restIntegrationBody(erp.url, 10));
    erp.setFaults({ rate500: 1, rate429: 0 });
    const runId = await startSync(stack, t.auth, id, 'products', 'full');

    const deadline = Date.now() + 60_000;
    let circuit: { state?: string } | null = null;
    while (circuit?.state !== 'open') {
      if (Date.now() > deadline) throw new Error(`circuit never opened: ${JSON.stringify(circuit)}`);
      await new Promise((r) => setTimeout(r, 200));
      const [row] = await stack.database.db.select({ circuit: erpIntegrations.circuit }).from(erpIntegrations).where(eq(erpIntegrations.id, id));
      circuit = (row?.circuit as { state?: string } | null) ?? null;
    }
    const failures = erp.requests.filter((r) => r.status === 500).length;
    expect(failures).toBe(3);
    // While open, retries are refused before any request goes out (the activity waits out the open period).
    await new Promise((r) => setTimeout(r, 5_000));
    expect(erp.requests.filter((r) => r.status === 500).length).toBe(failures);
    expect((await getRun(stack, t.auth, id, runId)).status).toBe('running');
    await stack.temporal.workflow.getHandle(`erp-${id}-products-${runId}`).terminate('test over');
  }, 120_000);
});
