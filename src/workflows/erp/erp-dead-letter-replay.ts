/**
 * ErpDeadLetterReplayWorkflow: one dead-letter replay request, on the ERP task queue so that it is
 * retried through database hiccups and visible in the Temporal UI (id from the integration and the
 * API's replay id). The activity's one transaction makes a retry after a commit change nothing.
 */
import { type ActivityOptions, proxyActivities } from '@temporalio/workflow';
import type { DeadLetterReplayActivities } from '../../activities/erp/dead-letter-replay.js';
import { ErpFailureType } from '../../domain/erp/failures.js';
import type { ErpDeadLetterReplayInput, ErpDeadLetterReplayResult } from '../../shared/erp-messages.js';

/**
 * Up to 10,000 letters in one transaction: a generous timeout. A database hiccup is retried for about
 * 10 minutes; a gone integration or a mapping that does not compile is not.
 */
const replayApply = {
  startToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 25,
    nonRetryableErrorTypes: [ErpFailureType.Misconfigured, ErpFailureType.IntegrationGone],
  },
} as const satisfies ActivityOptions;

const { replayErpDeadLetters } = proxyActivities<DeadLetterReplayActivities>(replayApply);

export async function erpDeadLetterReplayWorkflow(
  input: ErpDeadLetterReplayInput,
): Promise<ErpDeadLetterReplayResult> {
  return replayErpDeadLetters(input);
}
