/**
 * A destination the egress guard refuses is a configuration error, never an outage: customer
 * reconciliation and an ERP CSV poll against a refused URL fail at their first attempt with the one
 * failure type DestinationBlocked, instead of retrying for ever (attempt 108 was seen in production).
 */
import type { temporal } from '@temporalio/proto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FailureType } from '../../src/domain/failures.js';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { workflowId } from '../../src/shared/workflow-ids.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { createIntegration, startSync, waitForRun } from '../erp/erp-fixture.js';

let stack: TestStack;
// The CRM's guard refuses private networks; the API's save-time check (private allowed in tests) lets
// the loopback URL through, as a public name that later resolves inside would.
let crmEgress: EgressFetch;

beforeAll(async () => {
  crmEgress = createEgressFetch({ allowPrivateNetworks: false });
  const definition = await loadProviderDefinitionFile('providers/democrm.yaml');
  stack = await startTestStack({ providers: [createDeclarativeProviderFactory(definition, { fetch: crmEgress })] });
});
afterAll(async () => {
  await stack?.close();
  await crmEgress?.close();
});

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The history of a workflow once an activity has failed for good (the refusal reaches the workflow). */
async function historyWithFailedActivity(id: string, timeoutMs = 20_000): Promise<HistoryEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = (await stack.temporal.workflow.getHandle(id).fetchHistory()).events ?? [];
    if (events.some((e) => e.activityTaskFailedEventAttributes)) return events;
    if (Date.now() > deadline) throw new Error(`no activity of ${id} failed within ${timeoutMs} ms: still retrying`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Attempt and failure type of each failed activity. */
function failedActivities(events: HistoryEvent[]): { attempt: number; type: string | null | undefined }[] {
  return events
    .filter((e) => e.activityTaskFailedEventAttributes)
    .map((e) => {
      const failed = e.activityTaskFailedEventAttributes!;
      const started = events.find((s) => Number(s.eventId) === Number(failed.startedEventId))!;
      return { attempt: started.activityTaskStartedEventAttributes!.attempt!, type: failed.failure?.applicationFailureInfo?.type };
    });
}

describe('a blocked destination', () => {
  it('fails customer reconciliation after one attempt with DestinationBlocked', async () => {
    const t = await stack.createTenant();
    const conn = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'democrm', code: 'crm', name: 'CRM', credentials: { apiToken: 'crm_token' }, settings: { baseUrl: 'http://127.0.0.1:9', customerSync: { enabled: true } } });
    expect(conn.status, JSON.stringify(conn.body)).toBe(201);
    const events = await historyWithFailedActivity(workflowId.customerReconcile(conn.body.id as string));
    const failed = failedActivities(events);
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(f).toEqual({ attempt: 1, type: FailureType.DestinationBlocked });
  }, 60_000);

  it('fails an ERP CSV poll after one attempt with DestinationBlocked', async () => {
    const t = await stack.createTenant();
    // Temporal's own address: refused by the guard even where private networks are allowed.
    const id = await createIntegration(stack, t.auth, {
      name: 'Blocked CSV',
      type: 'polling',
      connector: { type: 'csv', baseUrl: '{{settings.baseUrl}}', streams: { products: { url: '/export.csv', pageSize: 10 } } },
      settings: { baseUrl: `http://${inject('temporalAddress')}`, intervalSeconds: 3600 },
      mappings: { products: [{ sourceField: 'sku', targetField: 'sku' }, { sourceField: 'name', targetField: 'name' }] },
    });
    const runId = await startSync(stack, t.auth, id, 'products', 'full');
    const events = await historyWithFailedActivity(workflowId.erpRun(id, 'products', runId));
    expect(failedActivities(events)).toEqual([{ attempt: 1, type: FailureType.DestinationBlocked }]);
    const run = await waitForRun(stack, t.auth, id, runId, 20_000);
    expect(run.status).toBe('failed');
  }, 60_000);
});
