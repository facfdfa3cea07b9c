/**
 * Deleting an integration or a connection stops its work in Temporal: a run caught mid-call (the
 * remote never answers) is terminated within seconds, and its schedule is gone. Before, the run went
 * on retrying against a resource that no longer existed.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScheduleNotFoundError } from '@temporalio/client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeclarativeProviderFactory, loadProviderDefinitionFile } from '../../src/providers/declarative/index.js';
import { createEgressFetch, type EgressFetch } from '../../src/providers/egress/egress-fetch.js';
import { workflowId } from '../../src/shared/workflow-ids.js';
import { startTestStack, type TestStack } from '../support/stack.js';
import { createIntegration, startSync } from '../erp/erp-fixture.js';

let stack: TestStack;
let crmEgress: EgressFetch;
/** A remote system that accepts every request and never answers. */
let hanging: Server;
let hangingUrl: string;
const waiting = new Set<(req: IncomingMessage) => void>();

beforeAll(async () => {
  hanging = createServer((req) => {
    for (const w of waiting) w(req);
  });
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
  hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
  crmEgress = createEgressFetch({ allowPrivateNetworks: true });
  const definition = await loadProviderDefinitionFile('providers/democrm.yaml');
  stack = await startTestStack({ providers: [createDeclarativeProviderFactory(definition, { fetch: crmEgress })] });
});
afterAll(async () => {
  hanging?.closeAllConnections();
  await new Promise((r) => hanging?.close(r));
  await stack?.close();
  await crmEgress?.close();
});

/** Resolves when the hanging remote receives a request whose path starts with `prefix`. */
function requestArrives(prefix: string): Promise<void> {
  return new Promise((resolve) => {
    const w = (req: IncomingMessage) => {
      if (!req.url?.startsWith(prefix)) return;
      waiting.delete(w);
      resolve();
    };
    waiting.add(w);
  });
}

async function closedWithin(id: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { status } = await stack.temporal.workflow.getHandle(id).describe();
    if (status.name !== 'RUNNING') return status.name;
    if (Date.now() > deadline) return status.name;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function scheduleExists(id: string): Promise<boolean> {
  try {
    await stack.temporal.schedule.getHandle(id).describe();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

describe('deleting', () => {
  it('an ERP integration terminates its running poll and removes its schedule', async () => {
    const t = await stack.createTenant();
    const id = await createIntegration(stack, t.auth, {
      name: 'Hanging CSV',
      type: 'polling',
      connector: { type: 'csv', baseUrl: '{{settings.baseUrl}}', streams: { products: { url: '/export.csv', pageSize: 10 } } },
      settings: { baseUrl: hangingUrl, intervalSeconds: 3600 },
      mappings: { products: [{ sourceField: 'sku', targetField: 'sku' }, { sourceField: 'name', targetField: 'name' }] },
    });
    expect(await scheduleExists(workflowId.erpSchedule(id, 'products'))).toBe(true);
    const arrived = requestArrives('/export.csv');
    const runId = await startSync(stack, t.auth, id, 'products', 'full');
    await arrived;

    const started = Date.now();
    await request(stack.app).delete(`/v1/integrations/${id}`).set(t.auth).expect(204);
    expect(await closedWithin(workflowId.erpRun(id, 'products', runId), 5_000)).toBe('TERMINATED');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await scheduleExists(workflowId.erpSchedule(id, 'products'))).toBe(false);
  }, 60_000);

  it('a connection terminates its running customer reconciliation and removes its schedule', async () => {
    const t = await stack.createTenant();
    const arrived = requestArrives('/api/v2/');
    const conn = await request(stack.app)
      .post('/v1/connections')
      .set(t.auth)
      .send({ provider: 'democrm', code: 'crm', name: 'CRM', credentials: { apiToken: 'crm_token' }, settings: { baseUrl: hangingUrl, customerSync: { enabled: true } } });
    expect(conn.status, JSON.stringify(conn.body)).toBe(201);
    const connectionId = conn.body.id as string;
    // The backfill started with the connection and is waiting on the CRM.
    await arrived;
    expect(await scheduleExists(workflowId.customerReconcileSchedule(connectionId))).toBe(true);

    const started = Date.now();
    await request(stack.app).delete(`/v1/connections/${connectionId}`).set(t.auth).expect(204);
    expect(await closedWithin(workflowId.customerReconcile(connectionId), 5_000)).toBe('TERMINATED');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await scheduleExists(workflowId.customerReconcileSchedule(connectionId))).toBe(false);
  }, 60_000);
});
