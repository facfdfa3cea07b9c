// The workflow bundle's entry point: every workflow the workers run is exported here.
export { connectionTestWorkflow } from './connection-test.js';
export { paymentWorkflow } from './payments/payment.js';
export { captureWorkflow, refundWorkflow } from './payments/refund-and-capture.js';
export { healthCheckWorkflow } from './payments/health-check.js';
export { reconciliationWorkflow } from './payments/reconciliation.js';
export { customerSyncWorkflow } from './customers/customer-sync.js';
export { customerReconcileWorkflow } from './customers/customer-reconcile.js';
export { erpPollWorkflow } from './erp/erp-poll.js';
export { erpConnectionTestWorkflow } from './erp/erp-connection-test.js';
export { erpWebhookWorkflow } from './erp/erp-webhook.js';
export { erpDeadLetterReplayWorkflow } from './erp/erp-dead-letter-replay.js';
export { webhookDeliveryWorkflow } from './events/webhook-delivery.js';
export { eventRetentionWorkflow } from './events/event-retention.js';
