// The bare-Temporal baseline the benchmark measures Switchyard against: the least a durable payment
// could do (one activity: one Postgres insert and one HTTP POST to the same emulated gateway).
import { condition, defineSignal, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { createBaselineActivities } from './activities.js';

const { chargeOnce } = proxyActivities<ReturnType<typeof createBaselineActivities>>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export async function bareChargeWorkflow(input: { id: string; amount: number }): Promise<string> {
  return chargeOnce(input);
}

export const bareCallbackSignal = defineSignal<[{ eventId: string; status: string }]>('bareCallback');

/** Waits for callbacks (the baseline of webhook ingest: insert + signal); ends on a `final` one. */
export async function bareWaitingWorkflow(): Promise<number> {
  let received = 0;
  let done = false;
  setHandler(bareCallbackSignal, ({ status }) => {
    received += 1;
    if (status === 'final') done = true;
  });
  await condition(() => done);
  return received;
}

const { pushCustomerOnce } = proxyLocalActivities<ReturnType<typeof createBaselineActivities>>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export const bareCustomerChangeSignal = defineSignal<[{ version: number }]>('bareCustomerChange');

/**
 * The baseline of customer sync: the least an entity workflow per customer could do. Started by
 * signal-with-start, it pushes each newer version with one local activity (one insert, one create at
 * the emulated Stripe) and waits for the next, as Switchyard's customer workflow does.
 */
export async function bareCustomerWorkflow(input: { id: string }): Promise<void> {
  let wanted = 0;
  let pushed = 0;
  setHandler(bareCustomerChangeSignal, ({ version }) => {
    wanted = Math.max(wanted, version);
  });
  for (;;) {
    if (!(await condition(() => wanted > pushed, '10 minutes'))) return;
    const version = wanted;
    await pushCustomerOnce({ id: input.id, version });
    pushed = version;
  }
}
