/**
 * The rules of a webhook delivery, pure: what an answer means, when a failing endpoint is disabled,
 * and the retry schedule a delivery follows. (The body is the event's: eventBody in the event store.)
 */

/** Bytes of an endpoint's answer kept with each attempt (GET .../deliveries shows them). */
export const RESPONSE_HEAD_BYTES = 1024;

/** The longest wait between two attempts of one delivery. */
export const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;
/** Each wait doubles the one before (up to MAX_RETRY_DELAY_MS). */
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
export function failingTooLong(failingSince: Date, now: Date, disableAfterMs: number): boolean {
  return now.getTime() - failingSince.getTime() >= disableAfterMs;
}

/**
 * The delays before each retry of a delivery that keeps failing within its window: first
 * `firstDelayMs`, doubling up to an hour, until the window ends. (Temporal applies the same schedule
 * from the activity's retry policy; this is for the documentation and the tests.)
 */
export function retryDelays(policy: { windowMs: number; firstDelayMs: number }): number[] {
  const delays: number[] = [];
  let elapsed = 0;
  for (let delay = policy.firstDelayMs; elapsed + delay < policy.windowMs; delay = Math.min(delay * RETRY_BACKOFF, MAX_RETRY_DELAY_MS)) {
    delays.push(delay);
    elapsed += delay;
  }
  return delays;
}
