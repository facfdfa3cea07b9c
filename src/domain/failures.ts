/**
 * The one list of failure types thrown by activities as ApplicationFailure.type. Workflows branch on
 * these, never on message text.
 */
export const FailureType = {
  /** The gateway refused the payment for good (insufficient funds, invalid card): no fallback. */
  HardDecline: 'HardDecline',
  /** Nothing reached the gateway, or it answered 5xx/429: retry, then fall back. */
  Retryable: 'GatewayRetryable',
  /** The request may have reached the gateway: ask for its status before anything else. */
  Ambiguous: 'GatewayAmbiguous',
  /** The connection's credentials were refused by the provider. */
  InvalidCredentials: 'InvalidCredentials',
  /** The connection does not exist, is disabled, or its provider is unknown. */
  ConnectionUnavailable: 'ConnectionUnavailable',
  /** A stored ciphertext failed authentication (tampered or moved). */
  CredentialsUndecryptable: 'CredentialsUndecryptable',
  /** The egress guard refused the connection's destination (private, internal, not allowed): fix the URL. */
  DestinationBlocked: 'DestinationBlocked',
  /** The credentials were sealed with a key id missing from CREDENTIALS_KEYS: an operator must add it back. */
  CredentialsKeyMissing: 'CredentialsKeyMissing',
  /** The gateway offers no safe way to learn an outcome (no lookup, no idempotent resend): leave it for review. */
  Unresolvable: 'GatewayUnresolvable',
  /**
   * The tenant already has its share of this worker's provider calls running: nothing was sent. Not
   * retried by the activity (that would spend the call's attempts); the workflow waits and calls again
   * (src/workflows/wait-for-tenant-share.ts).
   */
  TenantBusy: 'TenantBusy',
  /** A remote system throttled a sync call: retried no sooner than its Retry-After. */
  RemoteRateLimited: 'RemoteRateLimited',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** How an attempt's error is classified; maps 1:1 onto the failure types above. */
export type ErrorClass = 'hard_decline' | 'retryable' | 'ambiguous';

export const failureTypeFor: Record<ErrorClass, FailureType> = {
  hard_decline: FailureType.HardDecline,
  retryable: FailureType.Retryable,
  ambiguous: FailureType.Ambiguous,
};
