import type { ErrorClass } from '../domain/failures.js';
import type { DeclineCodeMap } from '../domain/payments/decline-codes.js';
import type { ProviderCapabilities } from '../domain/payments/routing.js';
import type { GatewayStatus } from '../domain/payments/payment-status.js';
import type { CustomerSyncAdapter, RemoteCustomerEvent } from './crm-client.js';

/** Decrypted credentials of one connection. Only activities ever hold these. */
export type Credentials = Record<string, string>;

/** What a provider factory gets to build a client for one connection. */
export interface ConnectionContext {
  tenantId: string;
  connectionId: string;
  credentials: Credentials;
  /** Non-secret per-connection settings (e.g. a sandbox base URL), already policy-checked. */
  settings: Record<string, unknown>;
  /**
   * Stores changed credentials on the connection, sealed like the others (a refresh token the
   * provider rotated). Given by every loader of a stored connection.
   */
  storeCredentials?: (changed: Record<string, string>) => Promise<void>;
}

/** A charge as a gateway sees it. Amount in minor units; no card numbers, only tokens/references. */
export interface ChargeRequest {
  paymentId: string;
  attempt: number;
  /** `${paymentId}-${attempt}`: the same on every retry of this attempt, different per attempt. */
  idempotencyKey: string;
  amount: number;
  currency: string;
  country: string;
  paymentMethod: string;
  captureMode: 'automatic' | 'manual';
  customerId?: string;
  description?: string;
  metadata: Record<string, string>;
}

/** Identifies one attempt at the gateway, for status queries after an ambiguous outcome. */
export interface AttemptRef {
  paymentId: string;
  attempt: number;
  idempotencyKey: string;
  /** The gateway's id for the transaction, when the gateway told us one. */
  reference?: string;
}

/** The gateway's view of a transaction. */
export interface GatewayOutcome {
  status: GatewayStatus;
  /** The gateway's transaction id. */
  reference: string;
  amountCaptured?: number;
  declineCode?: string;
  message?: string;
}

export interface RefundRequest {
  reference: string;
  /** ISO 4217 minor units of `currency`; the provider converts to its own units. */
  amount: number;
  /** The payment's currency (ISO 4217, upper case). */
  currency: string;
  idempotencyKey: string;
  paymentId: string;
}

export interface RefundOutcome {
  status: 'pending' | 'succeeded' | 'failed';
  reference: string;
}

export interface HealthProbe {
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

/** A verified, parsed gateway callback. */
export interface GatewayWebhookEvent {
  eventId: string;
  type: string;
  /** The gateway's transaction id, when present. */
  reference?: string;
  /** Our payment id as echoed by the gateway (metadata / merchant reference), when present. */
  paymentId?: string;
  status?: GatewayStatus;
}

export type HeaderBag = Record<string, string | string[] | undefined>;

/** What every connection of every provider answers, whatever families it declares. */
export interface ConnectionProbe {
  /** Checks the credentials against the provider; resolves with a human label of the account. */
  verifyCredentials(): Promise<{ account: string }>;
  checkHealth(): Promise<HealthProbe>;
}

/** Verifies a provider's callback over the raw body and reads it. */
export interface WebhookReceiver {
  /** Verifies the signature over the raw body before parsing; throws WebhookSignatureError. */
  parseWebhook(rawBody: Buffer, headers: HeaderBag): GatewayWebhookEvent;
}

/**
 * One connection's client: the probe and webhook parts every provider has, and the payment gateway
 * when the provider takes payments. Customer sync is built apart ({@link CustomerSyncProvider}).
 */
export interface ConnectionClient extends ConnectionProbe, WebhookReceiver {
  /** Absent: the provider takes no payments (it syncs customers only). */
  readonly payments?: PaymentGateway;
}

/** The client of a provider that takes payments: its gateway is also its probe and webhook receiver. */
export function paymentClient(gateway: PaymentGateway): ConnectionClient {
  return {
    verifyCredentials: () => gateway.verifyCredentials(),
    checkHealth: () => gateway.checkHealth(),
    parseWebhook: (rawBody, headers) => gateway.parseWebhook(rawBody, headers),
    payments: gateway,
  };
}

/**
 * The payments part of a connection. Methods throw {@link GatewayError} for gateway failures; anything
 * else thrown is treated as a bug, not as a payment outcome.
 */
export interface PaymentGateway extends ConnectionProbe, WebhookReceiver {
  authorize(req: ChargeRequest): Promise<GatewayOutcome>;
  /** Resolves with null when the gateway has no record of the attempt (it never reached it). */
  lookup(ref: AttemptRef): Promise<GatewayOutcome | null>;
  /** `amount` in ISO minor units of `currency` (the payment's), converted by the provider to its units. */
  capture(reference: string, amount: number, idempotencyKey: string, currency: string): Promise<GatewayOutcome>;
  refund(req: RefundRequest): Promise<RefundOutcome>;
  cancel(reference: string, idempotencyKey: string): Promise<GatewayOutcome>;
  /** A refund's current state by its gateway id; null when unknown. Absent: refunds cannot be looked up. */
  lookupRefund?(refundReference: string): Promise<RefundOutcome | null>;
  /**
   * Whether a resent refund/capture with the same idempotency key is answered with the first result
   * (so resending is a safe way to learn what became of an ambiguous call).
   */
  replaysWithKey(action: 'refund' | 'capture'): boolean;
  /**
   * Whether a callback claiming a final status must be confirmed by a status lookup before it moves
   * money (a callback is a claim, not a fact: see docs/payment-safety.md).
   */
  readonly confirmsCallbacks: boolean;
}

/**
 * A gateway failure with its classification: `hard_decline` stops the payment, `retryable` is retried
 * and then falls back to the next gateway, `ambiguous` is resolved by a status lookup before anything
 * else (docs/payment-safety.md).
 */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly classification: ErrorClass,
    readonly code: string,
    message: string,
    readonly httpStatus?: number,
    /** How long the provider asked us to wait (Retry-After on a 429/503), in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The callback's signature is missing, wrong or too old. */
export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError';
}

/** A correctly signed callback whose body is not an event we can read (not JSON, no usable id). */
export class WebhookPayloadError extends Error {
  override readonly name = 'WebhookPayloadError';
}

/** The provider refused the connection's credentials. */
export class InvalidCredentialsError extends Error {
  override readonly name = 'InvalidCredentialsError';
}

/** Provided by a ProviderFactory whose system can sync customers. */
export interface CustomerSyncProvider {
  /**
   * Interprets an already verified webhook payload; null when it is not about customers.
   * `deliveryId` is the event id the webhook's verification settled on (used when the body has none).
   */
  customerEventOf(payload: unknown, deliveryId?: string): RemoteCustomerEvent | null;
  connect(ctx: ConnectionContext): CustomerSyncAdapter;
}

/**
 * One provider: builds a client per connection and declares its families. Every provider has the
 * connection probe and webhook parts; it takes payments when `create` gives a client with `payments`
 * (and `capabilities` says what they accept), and syncs customers when `customerSync` is present.
 */
export interface ProviderFactory {
  /** Provider type as stored on the connection (e.g. 'stripe', 'acmepay'). */
  readonly type: string;
  /** Throws a zod-style error naming the missing fields when the credentials are malformed. */
  validateCredentials(credentials: unknown): Credentials;
  /** What the provider supports; absent lists mean "no limit". */
  readonly capabilities?: ProviderCapabilities;
  /** The provider's raw decline/error codes → the unified vocabulary (absent: generic codes only). */
  readonly declineCodes?: DeclineCodeMap;
  create(ctx: ConnectionContext): ConnectionClient;
  /** Present when the provider can keep a customer catalog in sync. */
  readonly customerSync?: CustomerSyncProvider;
}
