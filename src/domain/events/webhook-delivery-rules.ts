/**
 * The rules of a webhook delivery, pure: what an answer means, when a failing endpoint is disabled,
 * and the retry schedule a delivery follows. (The body is the event's: eventBody in the event store.)
 */

/** Bytes of an endpoint's answer kept with each attempt (GET .../deliveries shows them). */
export const RESPONSE_HEAD_BYTES = 1024;

/** The longest wait between two attempts of one delivery, unless WEBHOOK_RETRY_MAX_DELAY_SECONDS says otherwise. */
export const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;
/** Each wait doubles the one before (up to the longest wait). */
export const RETRY_BACKOFF = 2;

/**
 * What an attempt's answer means: a 2xx is delivered; 410 Gone says the endpoint is gone for good;
 * everything else (other statuses, 3xx too since redirects are not followed, no answer) is retried.
 */
export type AttemptVerdict = 'delivered' | 'gone' | 'retry';

export function attemptVerdict(statusCode: number | null): AttemptVerdict {
  if (statusCode === null) return 'retry';
  if (statusCode >= 200 && statusCode < 300) return 'delivered';
  if (statusCode === 410) return 'gone';
  return 'retry';
}

/** Whether an endpoint failing since `failingSince` has failed for long enough to be disabled. */
/** The delay the schedule waits after attempt `attempt` (1-based) fails. */
export function scheduledRetryDelay(policy: { firstDelayMs: number; maxDelayMs?: number }, attempt: number): number {
  return Math.min(policy.firstDelayMs * RETRY_BACKOFF ** Math.max(0, attempt - 1), policy.maxDelayMs ?? MAX_RETRY_DELAY_MS);
}

export function failingTooLong(failingSince: Date, now: Date, disableAfterMs: number): boolean {
  return now.getTime() - failingSince.getTime() >= disableAfterMs;
}

/**
 * The delays before each retry of a delivery that keeps failing within its window: first
 * `firstDelayMs`, doubling up to `maxDelayMs` (an hour by default), until the window ends. (Temporal applies the same schedule
 * from the activity's retry policy; this is for the documentation and the tests.)
 */
export function retryDelays(policy: { windowMs: number; firstDelayMs: number; maxDelayMs?: number }): number[] {
  const delays: number[] = [];
  const longest = policy.maxDelayMs ?? MAX_RETRY_DELAY_MS;
  let elapsed = 0;
  for (let delay = Math.min(policy.firstDelayMs, longest); elapsed + delay < policy.windowMs; delay = Math.min(delay * RETRY_BACKOFF, longest)) {
    delays.push(delay);
    elapsed += delay;
  }
  return delays;
}
