/**
 * Payment and attempt statuses form a forward-only state machine: a transition that would move a
 * payment backwards (a late or duplicated callback) is refused, so replays change nothing.
 */
export const PAYMENT_STATUSES = [
  'pending',
  'processing',
  'requires_action',
  'unknown',
  'authorized',
  'succeeded',
  'partially_refunded',
  'refunded',
  'failed',
  'canceled',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** What a gateway says about one attempt (from a response, a status query or a callback). */
export const GATEWAY_STATUSES = [
  'pending',
  'requires_action',
  'authorized',
  'succeeded',
  'failed',
  'canceled',
] as const;
export type GatewayStatus = (typeof GATEWAY_STATUSES)[number];

const RANK: Record<PaymentStatus, number> = {
  pending: 0,
  processing: 1,
  unknown: 1,
  requires_action: 2,
  authorized: 3,
  succeeded: 4,
  partially_refunded: 5,
  refunded: 6,
  failed: 9,
  canceled: 9,
};

const TERMINAL: ReadonlySet<PaymentStatus> = new Set(['failed', 'canceled', 'refunded']);

/** Allowed moves besides "forward by rank". */
const EXTRA_EDGES: Partial<Record<PaymentStatus, PaymentStatus[]>> = {
  // A gateway may report success for an attempt we could only classify as unknown; processing may
  // bounce through unknown while an ambiguous attempt is resolved.
  processing: ['unknown'],
  unknown: ['processing'],
  partially_refunded: ['partially_refunded'],
};

export function isTerminal(status: PaymentStatus): boolean {
  return TERMINAL.has(status);
}

/** Still waiting for its outcome: the API answers 202 for such a payment, 200 once it has one. */
const IN_FLIGHT: ReadonlySet<PaymentStatus> = new Set(['pending', 'processing', 'unknown']);

/** The payment has an outcome to show (requires_action is one: the payer must act). */
export function hasOutcome(status: PaymentStatus): boolean {
  return !IN_FLIGHT.has(status);
}

/** Outcomes after which the payment's run stays open for refunds and captures (the aftercare window). */
const AFTERCARE: ReadonlySet<PaymentStatus> = new Set(['succeeded', 'authorized', 'partially_refunded']);

export function takesAftercare(status: PaymentStatus): boolean {
  return AFTERCARE.has(status);
}

/** What a gateway says when an attempt is over: callbacks and status polls are no longer waited for. */
const FINAL_AT_GATEWAY: ReadonlySet<GatewayStatus> = new Set(['succeeded', 'authorized', 'failed', 'canceled']);

export function isFinalAtGateway(status: GatewayStatus): boolean {
  return FINAL_AT_GATEWAY.has(status);
}

/** True when `to` is a legal next status after `from`. Same-status is not a transition. */
export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  if (EXTRA_EDGES[from]?.includes(to)) return true;
  if (from === to || TERMINAL.has(from)) return false;
  // failed/canceled are reachable from anything not yet captured or beyond.
  if (to === 'failed' || to === 'canceled') return RANK[from] < RANK.succeeded;
  // Only captured money can be refunded: an authorization is voided (canceled) instead, and a
  // refund can never skip the capture it refunds.
  if (to === 'partially_refunded' || to === 'refunded') return RANK[from] >= RANK.succeeded;
  return RANK[to] > RANK[from];
}

/** Maps a gateway's view of an attempt to the payment status it implies. */
export function paymentStatusFor(gateway: GatewayStatus): PaymentStatus {
  switch (gateway) {
    case 'pending':
      return 'processing';
    default:
      return gateway;
  }
}
