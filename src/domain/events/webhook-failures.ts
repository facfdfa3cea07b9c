/** Failure types thrown by the webhook delivery activity (ApplicationFailure.type). */
export const WebhookFailureType = {
  /** No 2xx (an error status, a timeout, a refused connection): retried on the exponential schedule. */
  AttemptFailed: 'WebhookAttemptFailed',
  /** The endpoint answered 410 Gone: it is disabled and its pending deliveries canceled; not retried. */
  EndpointGone: 'WebhookEndpointGone',
  /** The endpoint failed for longer than WEBHOOK_DISABLE_AFTER_HOURS and was disabled; not retried. */
  EndpointDisabled: 'WebhookEndpointDisabled',
} as const;
export type WebhookFailureType = (typeof WebhookFailureType)[keyof typeof WebhookFailureType];
