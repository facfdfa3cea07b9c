/**
 * A local stand-in for Stripe's v1 API (PaymentIntents, Refunds, Customers, Webhook endpoints, Events,
 * Balance) speaking Stripe's wire format, with fault injection for tests and the demo.
 */
export {
  createStripeEmulator,
  DEFAULT_STRIPE_API_VERSION,
  type StripeEmulator,
  type StripeEmulatorOptions,
} from './emulator.js';
export type { StripeEmulatorControls } from './routes/control.js';
export { startStripeEmulator, type RunningStripeEmulator } from './server.js';
export type {
  DropNextOptions,
  FailNextOptions,
  FailureRateOptions,
  FaultMatch,
  FaultState,
} from './fault-injection.js';
export type { DeliveryRecord } from './webhook-delivery.js';
export type { RequestRecord } from './request-context.js';
export type { EventObject, PaymentIntentObject, RefundObject } from './objects.js';
export type { CustomerObject, CustomerSeed } from './customer-object.js';
export { signWebhookPayload } from './webhook-signing.js';
