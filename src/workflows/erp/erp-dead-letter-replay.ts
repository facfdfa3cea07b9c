/**
 * ErpDeadLetterReplayWorkflow: one dead-letter replay request, on the ERP task queue so that it is
 * retried through database hiccups and visible in the Temporal UI (id from the integration and the
 * API's replay id). The activity's one transaction makes a retry after a commit change nothing.
 */
import { type ActivityOptions, proxyActivities } from '@temporalio/workflow';
import type { DeadLetterReplayActivities } from '../../activities/erp/dead-letter-replay.js';
import type { ErpDeadLetterReplayInput, ErpDeadLetterReplayResult } from '../../shared/erp-messages.js';
import { erpApply } from '../activity-options.js';

/** Up to 10,000 letters in one transaction: a generous timeout, retried (and heartbeating) like any ERP apply. */
const replayApply = { ...erpApply, startToCloseTimeout: '5 minutes' } as const satisfies ActivityOptions;

const { replayErpDeadLetters } =
  proxyActivities<Pick<DeadLetterReplayActivities, 'replayErpDeadLetters'>>(replayApply);

export async function erpDeadLetterReplayWorkflow(
  input: ErpDeadLetterReplayInput,
): Promise<ErpDeadLetterReplayResult> {
  return replayErpDeadLetters(input);
}
