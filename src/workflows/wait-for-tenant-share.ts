import { ActivityFailure, ApplicationFailure, sleep, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../domain/failures.js';

/**
 * First and longest wait before a refused provider call is made again. Long: every call made again
 * costs a workflow task and an activity task on the shared server and workers, and a tenant over its
 * share typically has hundreds of runs waiting (a hanging gateway frees a call every 15 s); at 10 s,
 * 800 waiting payments cost the others 80 tasks a second (measured by the isolation bench).
 */
const FIRST_WAIT_MS = 1_000;
const LONGEST_WAIT_MS = 60_000;

/** 80-120 % of `ms`, spread by run and try, so waiting runs do not come back in step. Deterministic on replay. */
function spread(ms: number, tryNumber: number): number {
  let hash = tryNumber;
  for (const c of workflowInfo().workflowId) hash = (hash * 31 + c.charCodeAt(0)) | 0;
  return Math.round(ms * (0.8 + ((hash >>> 0) % 401) / 1000));
}

function refusedForTenantShare(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === FailureType.TenantBusy;
}

/**
 * Activities that call a tenant's provider, made again after a wait when the worker refused them
 * because the tenant had its share of provider calls running (src/workers/tenant-share.ts). Nothing
 * was sent on a refusal, so the call is made again as it was (same idempotency key); it does not
 * spend the call's retry attempts. Waits double from 1 s to 60 s (spread by 20 %): a tenant over its
 * share backs off instead of polling the worker. Histories without a refusal are unchanged, so no patch is needed.
 */
export function waitingForTenantShare<T extends object>(activities: T): T {
  return new Proxy(activities, {
    get(target, name, receiver) {
      const call = Reflect.get(target, name, receiver) as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        for (let tryNumber = 0, wait = FIRST_WAIT_MS; ; tryNumber++, wait = Math.min(wait * 2, LONGEST_WAIT_MS)) {
          try {
            return await call(...args);
          } catch (err) {
            if (!refusedForTenantShare(err)) throw err;
            await sleep(spread(wait, tryNumber));
          }
        }
      };
    },
  });
}
