/** Failure types thrown by ERP activities (ApplicationFailure.type); the poll workflow branches on them. */
export const ErpFailureType = {
  /** 429 from the ERP: retried after the delay it asked for. */
  RateLimited: 'ErpRateLimited',
  /** 5xx, timeout or connection failure: retried with backoff. */
  Unavailable: 'ErpUnavailable',
  /** The circuit breaker of the integration is open: retried once it may let a probe through. */
  CircuitOpen: 'ErpCircuitOpen',
  /** The definition does not work against this ERP (4xx, no record list): fix the integration. */
  Misconfigured: 'ErpMisconfigured',
  /** The ERP refused the credentials. */
  CredentialsRefused: 'ErpCredentialsRefused',
  /** The integration was deleted while a run was going. */
  IntegrationGone: 'ErpIntegrationGone',
} as const;
export type ErpFailureType = (typeof ErpFailureType)[keyof typeof ErpFailureType];
