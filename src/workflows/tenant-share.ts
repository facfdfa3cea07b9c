import { ActivityFailure, ApplicationFailure, sleep } from '@temporalio/workflow';
import { FailureType } from '../domain/failures.js';

/** First and longest wait before a refused provider call is made again. */
const FIRST_WAIT_MS = 500;
const LONGEST_WAIT_MS = 10_000;

function refusedForTenantShare(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === FailureType.TenantBusy;
}

/**
 * Activities that call a tenant's provider, made again after a wait when the worker refused them
 * because the tenant had its share of provider calls running (src/workers/tenant-share.ts). Nothing
 * was sent on a refusal, so the call is made again as it was (same idempotency key); it does not
 * spend the call's retry attempts. Waits double from 0.5 s to 10 s: a tenant over its share backs off
 * instead of polling the worker. Histories without a refusal are unchanged, so no patch is needed.
 */
export function waitingForTenantShare<T extends object>(activities: T): T {
  return new Proxy(activities, {
    get(target, name, receiver) {
      const call = Reflect.get(target, name, receiver) as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        for (let wait = FIRST_WAIT_MS; ; wait = Math.min(wait * 2, LONGEST_WAIT_MS)) {
          try {
            return await call(...args);
          } catch (err) {
            if (!refusedForTenantShare(err)) throw err;
            await sleep(wait);
          }
        }
      };
    },
  });
}
