import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { ErpFailureType } from '../domain/erp/erp-failures.js';
import { RETRY_BACKOFF } from '../domain/events/webhook-delivery-rules.js';
import { WebhookFailureType } from '../domain/events/webhook-failures.js';
import { FailureType } from '../domain/failures.js';
import type { WebhookRetryPolicy } from '../shared/event-messages.js';

/** Retry presets, in one place so the retry behaviour of every call is visible. */

/** Failures no retry can fix: they go straight back to the workflow. */
const permanent = [
  FailureType.HardDecline,
  FailureType.Ambiguous,
  FailureType.InvalidCredentials,
  FailureType.ConnectionUnavailable,
  FailureType.CredentialsUndecryptable,
  FailureType.DestinationBlocked,
];

/** Quick calls to a provider to check something (credentials, health). */
export const providerCheck = {
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3, nonRetryableErrorTypes: permanent },
} as const satisfies ActivityOptions;

/**
 * A money-moving call (charge, capture, refund, cancel). Retried a few times on retryable gateway
 * errors and on worker loss (startToClose); every retry carries the same idempotency key, so the
 * gateway answers a retry with the original result instead of charging again.
 */
export const gatewayCall = {
  startToCloseTimeout: '15 seconds',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
    maximumAttempts: 3,
    nonRetryableErrorTypes: permanent,
  },
} as const satisfies ActivityOptions;

/** Asking the gateway for an attempt's status: keep asking (gateway may be down) until told to stop. */
export const statusQuery = {
  startToCloseTimeout: '15 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: [FailureType.InvalidCredentials, FailureType.ConnectionUnavailable, FailureType.CredentialsUndecryptable, FailureType.DestinationBlocked],
  },
} as const satisfies ActivityOptions;

/** Reads and writes of our own database: retried until they succeed (a database blip is not an outcome). */
export const bookkeeping = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
} as const satisfies ActivityOptions;

/**
 * The same reads and writes as local activities: run by the worker inside the workflow task, so they
 * cost no round trip through the server and no workflow task of their own. A worker crash re-runs
 * the workflow task, and with it the local activity: only idempotent writes belong here (forward-only
 * status moves, upserts, circuit outcomes keyed by their call).
 */
export const localBookkeeping = {
  startToCloseTimeout: bookkeeping.startToCloseTimeout,
  retry: bookkeeping.retry,
} as const satisfies LocalActivityOptions;

/**
 * A write to, or read from, a remote system during customer sync. Every write carries an idempotency
 * key, so retrying is always safe: retried until it succeeds (throttling waits for the remote's
 * Retry-After via nextRetryDelay), except for failures no retry can fix.
 */
export const remoteSync = {
  startToCloseTimeout: '20 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [FailureType.InvalidCredentials, FailureType.ConnectionUnavailable, FailureType.CredentialsUndecryptable, FailureType.DestinationBlocked],
  },
} as const satisfies ActivityOptions;

/**
 * The customer entity workflow's steps (re-read and merge, push, list targets) as local activities:
 * they run in the workflow's own worker, inside its workflow task, so a change costs one workflow
 * task instead of three, and no activity task round trips. Safe to re-run after a crash (the
 * workflow task times out and the next worker runs the step again): a push replays the write stored
 * on its mapping with the same idempotency key; applying a remote change re-reads and merges again.
 */
export const localRemoteSync = {
  startToCloseTimeout: remoteSync.startToCloseTimeout,
  retry: remoteSync.retry,
} as const satisfies LocalActivityOptions;

/**
 * One page of bulk work (backfill, reconciliation): a remote list call, a batch of database writes
 * and up to a few hundred signals. Longer than a single call; retried like remoteSync (each page is
 * idempotent: mappings are unique per connection and remote id, pushes carry idempotency keys).
 */
export const bulkSync = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '15 seconds',
  retry: remoteSync.retry,
} as const satisfies ActivityOptions;

/**
 * Applying ERP records (a webhook event, a dead-letter replay) in one transaction: a database hiccup
 * is retried with backoff for about 10 minutes; a gone integration or a mapping that does not
 * compile is not. The activities heartbeat every 3 s (src/activities/heartbeat.ts), so a killed
 * worker's apply is retried after the heartbeat timeout, not the whole start-to-close timeout.
 */
export const erpApply = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '15 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 25,
    nonRetryableErrorTypes: [ErpFailureType.Misconfigured, ErpFailureType.IntegrationGone, FailureType.DestinationBlocked],
  },
} as const satisfies ActivityOptions;

/** Time for an attempt's bookkeeping (load the delivery, record the attempt) besides its HTTP call. */
const WEBHOOK_BOOKKEEPING_MS = 10_000;

/**
 * One webhook POST to a merchant's endpoint, retried on the exponential schedule (first delay,
 * doubling, at most `maxDelayMs` apart: an hour by default) until the delivery's retry window ends (schedule-to-close); a 410
 * or an endpoint disabled for failing too long ends it at once. Start-to-close is the HTTP time cap
 * plus bookkeeping, so a worker killed mid-POST is noticed within seconds. Each attempt is signed
 * anew and carries the same webhook-id, so a receiver can drop a repeat.
 */
export function webhookPost(policy: WebhookRetryPolicy) {
  return {
    startToCloseTimeout: policy.attemptTimeoutMs + WEBHOOK_BOOKKEEPING_MS,
    scheduleToCloseTimeout: policy.windowMs,
    retry: {
      initialInterval: policy.firstDelayMs,
      backoffCoefficient: RETRY_BACKOFF,
      maximumInterval: policy.maxDelayMs,
      nonRetryableErrorTypes: [WebhookFailureType.EndpointGone, WebhookFailureType.EndpointDisabled],
    },
  } as const satisfies ActivityOptions;
}

/** A sweep of our own database in batches (event retention): heartbeats after each batch, retried until done. */
export const retentionSweep = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
} as const satisfies ActivityOptions;
