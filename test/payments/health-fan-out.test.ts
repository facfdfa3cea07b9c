import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inArray } from 'drizzle-orm';
import { newId } from '../../src/db/ids.js';
import { connectionHealth, connections } from '../../src/db/schema.js';
import { startPaymentsFixture, type PaymentsFixture } from '../support/payments-fixture.js';
import { recordHistoryIfAsked } from '../support/record-history.js';

const CONNECTIONS = 2_000;
let f: PaymentsFixture;
beforeAll(async () => {
  f = await startPaymentsFixture();
});
afterAll(async () => f?.close());

describe('the health check at scale', () => {
  it(`checks ${CONNECTIONS} connections in batches, each run staying small (continue-as-new between pages)`, async () => {
    const t = await f.stack.createTenant();
    const ids: string[] = [];
    const rows = Array.from({ length: CONNECTIONS }, (_, i) => {
      const id = newId('con');
      ids.push(id);
      const sealed = f.stack.cipher.seal({ accountId: f.acme.accountId, apiKey: f.acme.apiKey }, t.id, id);
      return {
        id,
        tenantId: t.id,
        provider: 'acmepay',
        code: `acme-${i}`,
        name: `AcmePay ${i}`,
        credentialsCiphertext: sealed.ciphertext,
        credentialsKeyId: sealed.keyId,
        settings: { baseUrl: f.acme.url },
      };
    });
    for (let i = 0; i < rows.length; i += 500)
      await f.stack.database.db.insert(connections).values(rows.slice(i, i + 500));
    const probesBefore = f.acme.requestLog().filter((r) => r.path === '/health').length;

    const handle = await f.stack.temporal.workflow.start('healthCheckWorkflow', {
      taskQueue: f.stack.taskQueues.payments,
      workflowId: `health-fan-out-${randomUUID()}`,
      // Pages of 200 (5 per run) so the 2,000 connections cross runs, as 10,000 would with pages of 1,000.
      args: [{ after: null, checked: 0, unhealthy: 0, pageSize: 200 }],
    });
    const result = (await handle.result()) as { checked: number; unhealthy: number };
    recordHistoryIfAsked(handle.workflowId, 'health-check-fan-out');
    expect(result.checked).toBeGreaterThanOrEqual(CONNECTIONS);
    expect(
      f.acme.requestLog().filter((r) => r.path === '/health').length - probesBefore,
    ).toBeGreaterThanOrEqual(CONNECTIONS);
    const checked = await f.stack.database.db
      .select({ id: connectionHealth.connectionId, health: connectionHealth.health })
      .from(connectionHealth)
      .where(inArray(connectionHealth.connectionId, ids));
    expect(checked.filter((h) => h.health === 'healthy')).toHaveLength(CONNECTIONS);

    // Walk the chain of runs back from the last one and count each run's events.
    const eventsPerRun: number[] = [];
    let runId: string | undefined = (await handle.describe()).runId;
    while (runId) {
      const history = await f.stack.temporal.workflow.getHandle(handle.workflowId, runId).fetchHistory();
      const events: NonNullable<typeof history.events> = history.events ?? [];
      eventsPerRun.unshift(events.length);
      runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    }
    console.log(
      `[health] ${result.checked} connections checked in ${eventsPerRun.length} run(s); events per run: ${eventsPerRun.join(', ')}`,
    );
    // Temporal's per-run limits are 51,200 events and 50 MB; the old single Promise.all made ~3 events
    // per connection in one run. Now a run holds 5 pages whatever the number of connections.
    expect(eventsPerRun.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...eventsPerRun)).toBeLessThan(500);
    // Other suites' health checks share this database: leave no 2,000 connections behind.
    await f.stack.database.db.delete(connections).where(inArray(connections.id, ids));
  }, 240_000);
});
