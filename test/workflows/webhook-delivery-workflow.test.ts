import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DeliverWebhookInput, WebhookDeliveryActivities } from '../../src/activities/events/webhook-delivery-activities.js';
import { WebhookFailureType } from '../../src/domain/events/webhook-failures.js';
import {
  webhookDeliveriesSignal,
  type QueuedWebhookDelivery,
  type WebhookDeliveryInput,
  type WebhookRetryPolicy,
} from '../../src/shared/event-messages.js';
import { eventually } from '../support/customers-fixture.js';
import { quietTemporalRuntime } from '../support/stack.js';

/**
 * The delivery workflow's decisions on their own (the run's bundle, activities replaced by plain
 * functions): order, repeats, giving up, and continuing as new. On the run's dev server with short
 * retry windows (see payment-timers.test.ts for why not time-skipping).
 */

/** Retries every 100-400 ms, which the server's timers round up to about a second, within a 4 s window. */
const POLICY: WebhookRetryPolicy = { windowMs: 4_000, firstDelayMs: 100, maxDelayMs: 400, attemptTimeoutMs: 1_000 };

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  quietTemporalRuntime();
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await env?.teardown();
});

type Deliver = (input: DeliverWebhookInput) => Promise<Awaited<ReturnType<WebhookDeliveryActivities['deliverWebhook']>>>;

async function withWorker<T>(deliver: Deliver, body: (ctx: { taskQueue: string; gaveUp: string[] }) => Promise<T>): Promise<T> {
  const taskQueue = `webhook-delivery-${randomUUID()}`;
  const gaveUp: string[] = [];
  const activities: WebhookDeliveryActivities = {
    webhookRetryPolicy: () => Promise.resolve(POLICY),
    deliverWebhook: deliver,
    giveUpWebhookDelivery: (input) => {
      gaveUp.push(input.deliveryId);
      return Promise.resolve();
    },
  };
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: inject('workflowBundlePath') }, activities });
  return worker.runUntil(body({ taskQueue, gaveUp }));
}

function queued(...sequences: number[]): QueuedWebhookDelivery[] {
  return sequences.map((sequence) => ({ deliveryId: `wdl_${sequence}`, sequence, eventType: 'payment.succeeded' }));
}

function signal(taskQueue: string, workflowId: string, deliveries: QueuedWebhookDelivery[]) {
  const input: WebhookDeliveryInput = { tenantId: 'ten_1', endpointId: 'we_1', resourceType: 'payment', resourceId: 'pay_1' };
  return env.client.workflow.signalWithStart('webhookDeliveryWorkflow', {
    taskQueue,
    workflowId,
    args: [input],
    signal: webhookDeliveriesSignal,
    signalArgs: [{ deliveries }],
  });
}

describe('webhook delivery workflow (activities mocked)', () => {
  it('sends in sequence order whatever order the deliveries arrive in, once each', async () => {
    const sent: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const deliver: Deliver = async ({ deliveryId }) => {
      sent.push(deliveryId);
      if (deliveryId === 'wdl_5') await gate; // busy with 5 while more arrive
      return 'delivered';
    };
    await withWorker(deliver, async ({ taskQueue }) => {
      const id = `webhook-delivery-${randomUUID()}`;
      await signal(taskQueue, id, queued(5));
      await eventually('5 in flight', () => (sent.length === 1 ? true : undefined));
      await signal(taskQueue, id, queued(7, 6, 5)); // 5 again: a relay repeating itself after a crash
      await signal(taskQueue, id, queued(6)); // and 6 twice
      release();
      await eventually('all sent', () => (sent.length >= 3 ? true : undefined));
      await new Promise((r) => setTimeout(r, 500));
      expect(sent).toEqual(['wdl_5', 'wdl_6', 'wdl_7']);
      await env.client.workflow.getHandle(id).terminate();
    });
  });

  it('gives a delivery up when its retry window ends, then sends the next one', async () => {
    const tries = new Map<string, number[]>();
    const deliver: Deliver = ({ deliveryId }) => {
      tries.set(deliveryId, [...(tries.get(deliveryId) ?? []), Date.now()]);
      if (deliveryId === 'wdl_1') throw ApplicationFailure.create({ type: WebhookFailureType.AttemptFailed, message: 'HTTP 500' });
      return Promise.resolve('delivered');
    };
    await withWorker(deliver, async ({ taskQueue, gaveUp }) => {
      const id = `webhook-delivery-${randomUUID()}`;
      // The retry window runs from when the activity is scheduled (after this moment, and possibly well
      // before its first attempt starts on a busy machine), and Temporal gives up as soon as the next
      // retry would land past it: so the next delivery goes no earlier than window - longest backoff.
      const signalled = Date.now();
      await signal(taskQueue, id, queued(1, 2));
      await eventually('the second sent', () => tries.get('wdl_2'), 20_000);
      expect(gaveUp).toEqual(['wdl_1']);
      const first = tries.get('wdl_1')!;
      expect(first.length).toBeGreaterThanOrEqual(3);
      expect(first.at(-1)! - first[0]!).toBeLessThan(POLICY.windowMs);
      for (let i = 1; i < first.length; i++) expect(first[i]! - first[i - 1]!).toBeGreaterThanOrEqual(POLICY.firstDelayMs - 20);
      expect(tries.get('wdl_2')![0]! - signalled).toBeGreaterThanOrEqual(POLICY.windowMs - POLICY.maxDelayMs);
      await env.client.workflow.getHandle(id).terminate();
    });
  });

  it('does not give up a delivery the endpoint ended by disabling itself (410), and goes on', async () => {
    const sent: string[] = [];
    const deliver: Deliver = ({ deliveryId }) => {
      sent.push(deliveryId);
      if (deliveryId === 'wdl_1') throw ApplicationFailure.create({ type: WebhookFailureType.EndpointGone, nonRetryable: true, message: '410' });
      return Promise.resolve('canceled');
    };
    await withWorker(deliver, async ({ taskQueue, gaveUp }) => {
      const id = `webhook-delivery-${randomUUID()}`;
      await signal(taskQueue, id, queued(1, 2));
      await eventually('the second tried', () => (sent.includes('wdl_2') ? true : undefined));
      expect(sent).toEqual(['wdl_1', 'wdl_2']); // the 410 was not retried
      expect(gaveUp).toEqual([]);
      await env.client.workflow.getHandle(id).terminate();
    });
  });

  it('continues as new after a bounded number of deliveries, carrying what is still queued', async () => {
    const sent: number[] = [];
    const deliver: Deliver = ({ deliveryId }) => {
      sent.push(Number(deliveryId.slice(4)));
      return Promise.resolve('delivered');
    };
    await withWorker(deliver, async ({ taskQueue }) => {
      const id = `webhook-delivery-${randomUUID()}`;
      const total = 230;
      const first = await signal(taskQueue, id, queued(...Array.from({ length: total }, (_, i) => i + 1)));
      await eventually('all sent', () => (sent.length >= total ? true : undefined), 60_000);
      expect(sent).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      const now = await env.client.workflow.getHandle(id).describe();
      expect(now.runId).not.toBe(first.signaledRunId);
      await env.client.workflow.getHandle(id).terminate();
    });
  });
});
