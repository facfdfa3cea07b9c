import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
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
  /** Set only by continue-as-new: the run picks up the aftercare window where the last one stopped. */
  aftercare?: PaymentAftercareState;
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
  /**
   * Aftercare window: how long the payment's workflow stays open after a captured or authorized
   * outcome, taking `capturePayment` / `refundPayment` updates. 0 closes the run at its outcome (then
   * refunds and captures run as standalone workflows). Deployments set it from PAYMENT_AFTERCARE_WINDOW_SECONDS.
   */
  aftercareWindowMs: number;
  /** History length at which an open aftercare run continues as new (besides Temporal's own suggestion). */
  aftercareHistoryLimit: number;
}

export const DEFAULT_PAYMENT_TIMING: PaymentTiming = {
  callbackTimeoutMs: 10 * 60_000,
  maxStatusPolls: 6,
  ambiguousResolutionMs: 24 * 60 * 60_000,
  // A run started without the setting closes at its outcome, as runs did before the aftercare window.
  aftercareWindowMs: 0,
  aftercareHistoryLimit: 10_000,
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

/** What an aftercare run carries over continue-as-new. */
export interface PaymentAftercareState {
  status: PaymentStatus;
  attempts: number;
  connectionId?: string;
  reference?: string;
  amountCaptured: number;
  /** Refunds this payment's workflow has taken, by refund id (amounts of failed ones are free again). */
  refunds: Record<string, { amount: number; status: 'succeeded' | 'failed' | 'pending' }>;
  capture?: CaptureOutcome;
  /** Epoch ms (workflow time) at which the window closes. */
  closesAt: number;
}

/** A refund the API has reserved (refund row committed) and hands to the payment's own workflow. */
export interface RefundRequest {
  refundId: string;
  amount: number;
}
/** The refund's child workflow has started (its id is `refund-<refundId>`); its outcome follows there. */
export interface RefundAccepted {
  refundId: string;
  workflowId: string;
}
export interface CaptureRequest {
  amount: number;
}
export interface CaptureOutcome {
  status: PaymentStatus;
  error?: string;
}

/**
 * Refund through the payment's own run: runs `refundWorkflow` as a child (linked in the UI) and
 * completes once that child has started. Use the refund id as the update id.
 */
export const refundPaymentUpdate = defineUpdate<RefundAccepted, [RefundRequest]>('refundPayment');
/** Capture through the payment's own run: runs `captureWorkflow` as a child and completes with its outcome. */
export const capturePaymentUpdate = defineUpdate<CaptureOutcome, [CaptureRequest]>('capturePayment');
/** Completes once the payment has an outcome (or gave up as unknown); the API's `?wait` rides on it. */
export const paymentOutcomeUpdate = defineUpdate<PaymentProgress, []>('paymentOutcome');

/** Update ids: every waiter of one payment shares one outcome update; one capture per payment. */
export const PAYMENT_UPDATE_IDS = { outcome: 'payment-outcome', capture: 'capture' } as const;

/** Failure types of the aftercare updates, so the API can tell "fall back" from "refuse". */
export const AftercareFailure = {
  /** The run takes no refunds or captures (older run, window over, closing): use the standalone workflow. */
  Closed: 'AftercareClosed',
  /** The request is wrong for this payment (over the refundable amount, not authorized...): a 409. */
  Refused: 'AftercareRefused',
} as const;
