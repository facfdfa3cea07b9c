import { ActivityFailure, ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { PaymentStatus } from '../../domain/payments/payment-status.js';
import {
  DEFAULT_PAYMENT_TIMING,
  type CaptureOutcome,
  type GatewayCallback,
  type PaymentAftercareState,
  type PaymentTiming,
  type PaymentWorkflowInput,
} from '../../shared/payment-messages.js';
import { PaymentStatusAttr } from '../../shared/search-attributes.js';

/** What a payment run ends with. */
export interface PaymentResult {
  status: PaymentStatus;
  attempts: number;
  connectionId?: string;
  reference?: string;
}

/** Everything one payment run knows: the steps of payment.ts move it on, the handlers answer from it. */
export interface PaymentRun {
  readonly input: PaymentWorkflowInput;
  readonly timing: PaymentTiming;
  status: PaymentStatus;
  /** Attempts made so far (the current one's number). */
  attempt: number;
  /** The gateway of the current attempt and its reference there. */
  current: { connectionId?: string; reference?: string };
  /** Callbacks received and not yet taken by a wait: buffered from the run's first moment. */
  readonly callbacks: GatewayCallback[];
  /** The charge has its outcome: refunds and captures may go ahead. */
  chargeDone: boolean;
  /** The run is closing: no more refunds or captures. */
  closing: boolean;
  amountCaptured: number;
  capture?: CaptureOutcome;
  capturing: boolean;
  readonly refunds: Map<string, PaymentAftercareState['refunds'][string]>;
  /** Refund children still running (the run waits for them before it closes or continues as new). */
  childrenRunning: number;
}

/** A new run starts pending; a continued run (aftercare) picks up what the last one carried. */
export function startRun(input: PaymentWorkflowInput): PaymentRun {
  const carried = input.aftercare;
  return {
    input,
    timing: { ...DEFAULT_PAYMENT_TIMING, ...input.timing },
    status: carried?.status ?? 'pending',
    attempt: carried?.attempts ?? 0,
    current: {
      ...(carried?.connectionId ? { connectionId: carried.connectionId } : {}),
      ...(carried?.reference ? { reference: carried.reference } : {}),
    },
    callbacks: [],
    chargeDone: false,
    closing: false,
    amountCaptured: carried?.amountCaptured ?? 0,
    ...(carried?.capture ? { capture: carried.capture } : {}),
    capturing: false,
    refunds: new Map(Object.entries(carried?.refunds ?? {})),
    childrenRunning: 0,
  };
}

/** What the progress query and the outcome update answer. */
export const progressOf = (run: PaymentRun) => ({
  status: run.status,
  attempt: run.attempt,
  ...run.current,
  pendingCallbacks: run.callbacks.length,
});
export const resultOf = (run: PaymentRun): PaymentResult => ({
  status: run.status,
  attempts: run.attempt,
  ...run.current,
});

/** Moves the payment's status and its search attribute. */
export function setStatus(run: PaymentRun, next: PaymentStatus): void {
  if (next === run.status) return;
  run.status = next;
  upsertSearchAttributes([{ key: PaymentStatusAttr, value: next }]);
}

/** An activity failure's type, message and decline code: the workflow branches on the type, never on the message. */
export function failureOf(err: unknown): { type: string; message: string; code?: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as { code?: string } | undefined;
    return {
      type: cause.type ?? 'Error',
      message: cause.message,
      ...(details?.code ? { code: details.code } : {}),
    };
  }
  return { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}
