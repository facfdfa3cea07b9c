/**
 * Workflow ids derive from business ids, never random: a retried API call finds the same run, and an
 * operator can type the id into the Temporal UI.
 */
export const workflowId = {
  payment: (paymentId: string) => `payment-${paymentId}`,
  refund: (refundId: string) => `refund-${refundId}`,
  capture: (paymentId: string, requestKey: string) => `capture-${paymentId}-${requestKey}`,
  connectionTest: (connectionId: string, requestId: string) => `connection-test-${connectionId}-${requestId}`,
  healthCheckSchedule: (tenantId: string) => `health-check-${tenantId}`,
  healthCheck: (connectionId: string) => `health-check-${connectionId}`,
};
