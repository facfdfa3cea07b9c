import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { GatewayStatus, PaymentStatus } from '../domain/payments/payment-status.js';
import type { PaymentMethodType } from '../domain/payments/routing.js';

/** Input of PaymentWorkflow. Carries connection ids and tokens only, never credentials or card data. */
export interface PaymentWorkflowInput {
  paymentId: string;
  tenantId: string;
  amount: number;
  currency: string;
  country: string;
  paymentMethod: { type: PaymentMethodType; token: string };
  captureMode: 'automatic' | 'manual';
  customerId?: string;
  description?: string;
  metadata: Record<string, string>;
  timing?: Partial<PaymentTiming>;
}

/** How long the workflow waits for gateways; overridable per deployment (and by tests). */
export interface PaymentTiming {
  /** Wait for a callback before asking the gateway for the status. */
  callbackTimeoutMs: number;
  /** Status polls after callback timeouts before the attempt is canceled as stuck. */
  maxStatusPolls: number;
  /**
   * Resolution window: how long an ambiguous charge, refund or capture is asked about (lookups that
   * time out or get 5xx/429 are retried with backoff) before it is left to reconciliation.
   */
  ambiguousResolutionMs: number;
}

export const DEFAULT_PAYMENT_TIMING: PaymentTiming = {
  callbackTimeoutMs: 10 * 60_000,
  maxStatusPolls: 6,
  ambiguousResolutionMs: 24 * 60 * 60_000,
};

/** A verified gateway callback, signalled by the webhook endpoint after it is stored in the inbox. */
export interface GatewayCallback {
  eventId: string;
  connectionId: string;
  reference?: string;
  status: GatewayStatus;
}

export const gatewayCallbackSignal = defineSignal<[GatewayCallback]>('gatewayCallback');

/** Live progress of a payment run (also readable in the Temporal UI's Queries tab). */
export interface PaymentProgress {
  status: PaymentStatus;
  attempt: number;
  connectionId?: string;
  reference?: string;
  pendingCallbacks: number;
}
export const paymentProgressQuery = defineQuery<PaymentProgress>('paymentProgress');

export interface RefundWorkflowInput {
  refundId: string;
  paymentId: string;
  tenantId: string;
  amount: number;
  timing?: Partial<PaymentTiming>;
}

/** Input of ReconciliationWorkflow (the Schedule passes none: defaults apply). */
export interface ReconciliationInput {
  /** Only attempts untouched for this long (default: the resolution window). */
  olderThanMs?: number;
  /** At most this many attempts per run (default 200); the next run takes the rest. */
  limit?: number;
  /** Only this tenant's payments (an operator's targeted run). */
  tenantId?: string;
  /** A payment or refund row still `pending` this long has no workflow (its start failed): start it (default 2 min). */
  orphanAfterMs?: number;
  /** Timing given to the payment and refund workflows the sweep starts. */
  paymentTiming?: Partial<PaymentTiming>;
}

export interface CaptureWorkflowInput {
  paymentId: string;
  tenantId: string;
  amount: number;
  timing?: Partial<PaymentTiming>;
}
