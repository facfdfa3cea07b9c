// The bare-Temporal baseline the benchmark measures Switchyard against: the least a durable payment
// could do (one activity: one Postgres insert and one HTTP POST to the same emulated gateway).
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
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
