/**
 * Workflow ids derive from business ids, never random: a retried API call finds the same run, and an
 * operator can type the id into the Temporal UI.
 */
export const workflowId = {
  payment: (paymentId: string) => `payment-${paymentId}`,
  refund: (refundId: string) => `refund-${refundId}`,
  capture: (paymentId: string, requestKey: string) => `capture-${paymentId}-${requestKey}`,
  /** One connection test (its id made by the API per request: a test always checks the provider anew). */
  connectionTest: (connectionId: string, testId: string) => `connection-test-${connectionId}-${testId}`,
  healthCheckSchedule: (tenantId: string) => `health-check-${tenantId}`,
  healthCheck: (connectionId: string) => `health-check-${connectionId}`,
  customer: (customerId: string) => `customer-${customerId}`,
  customerReconcile: (connectionId: string) => `customer-reconcile-${connectionId}`,
  /** Schedule of a connection's periodic reconciliation; its runs are this id plus the scheduled time. */
  customerReconcileSchedule: (connectionId: string) => `customer-reconcile-schedule-${connectionId}`,
  /** Schedule of one integration and entity; its runs are this id plus the scheduled time. */
  erpSchedule: (integrationId: string, entity: string) => `erp-${integrationId}-${entity}`,
  erpRun: (integrationId: string, entity: string, runId: string) => `erp-${integrationId}-${entity}-${runId}`,
  /** One integration test (its id made by the API per request, as for connection tests). */
  erpConnectionTest: (integrationId: string, testId: string) => `erp-test-${integrationId}-${testId}`,
  /** Applies one stored ERP webhook event (its inbox row id): one workflow per event, so a redelivery cannot apply it twice. */
  erpWebhook: (inboxId: string) => `erp-webhook-${inboxId}`,
  /** One dead-letter replay request of an integration (its id made by the API). */
  erpDeadLetterReplay: (integrationId: string, replayId: string) => `erp-replay-${integrationId}-${replayId}`,
  /** Delivers one resource's events to one webhook endpoint, in order: one entity workflow per pair. */
  webhookDelivery: (endpointId: string, resourceType: string, resourceId: string) =>
    `webhook-delivery-${endpointId}-${resourceType}-${resourceId}`,
};
