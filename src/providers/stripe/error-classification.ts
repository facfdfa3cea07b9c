import Stripe from 'stripe';
import { retryAfterOf } from '../retry-after.js';
import { GatewayError, InvalidCredentialsError } from '../types.js';

/** Connection failures that prove the request never left this host. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

const SECRET_PATTERN = /\b(sk|rk|whsec)_(test_|live_)?[A-Za-z0-9*]+/g;

/** Stripe echoes (masked) keys in some messages; never let a key-like string into ours. */
export function redactSecrets(message: string): string {
  return message.replace(SECRET_PATTERN, '[redacted]');
}

function connectionErrorCode(error: Stripe.errors.StripeConnectionError): string | undefined {
  const detail: unknown = error.detail;
  if (detail && typeof detail === 'object' && 'code' in detail && typeof detail.code === 'string')
    return detail.code;
  return undefined;
}

function headerValue(headers: Stripe.errors.StripeError['headers'], name: string): string | undefined {
  const value: unknown = headers?.[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Maps an error thrown by the Stripe SDK to the platform's classification: a decline or a request
 * Stripe refused as invalid is final; throttling and gateway-unavailable answers are retryable;
 * anything after which Stripe may have acted (a reset connection, a timeout, a 500) is ambiguous and
 * must be resolved by a lookup (docs/payment-safety.md, "Ambiguous charges and the resolution window").
 * Errors that are not Stripe's are returned unchanged (bugs, not payment outcomes).
 */
export function classifyStripeError(error: unknown): unknown {
  if (!(error instanceof Stripe.errors.StripeError)) return error;
  const status = error.statusCode;
  const message = redactSecrets(error.message);

  if (
    error instanceof Stripe.errors.StripeAuthenticationError ||
    error instanceof Stripe.errors.StripePermissionError
  ) {
    return new InvalidCredentialsError(
      error instanceof Stripe.errors.StripeAuthenticationError
        ? 'Stripe rejected the secret key'
        : 'The Stripe key lacks the permissions this operation needs',
    );
  }
  if (error instanceof Stripe.errors.StripeCardError) {
    return new GatewayError(
      'hard_decline',
      error.decline_code || error.code || 'card_declined',
      message,
      status,
    );
  }
  // The SDK keeps the response headers on the error: a 429/503 may say when to come back.
  const retryAfterMs = retryAfterOf(status, (name) => headerValue(error.headers, name));
  if (error instanceof Stripe.errors.StripeRateLimitError) {
    return new GatewayError('retryable', error.code ?? 'rate_limit', message, status, retryAfterMs);
  }
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    return new GatewayError('hard_decline', 'idempotency_error', message, status);
  }
  if (error instanceof Stripe.errors.StripeInvalidRequestError) {
    // The same request will be refused again; retrying or falling back on it cannot help.
    return new GatewayError('hard_decline', error.code ?? 'invalid_request', message, status);
  }
  if (error instanceof Stripe.errors.StripeConnectionError) {
    const code = connectionErrorCode(error);
    if (code && NOT_SENT_CODES.has(code)) {
      return new GatewayError('retryable', 'connection_refused', `Could not reach Stripe (${code})`);
    }
    return new GatewayError('ambiguous', 'connection_error', message);
  }
  if (status === 409 || status === 502 || status === 503 || status === 504) {
    // 409: a concurrent request with the same idempotency key is still running; it did nothing itself.
    return new GatewayError('retryable', error.code ?? `http_${status}`, message, status, retryAfterMs);
  }
  return new GatewayError(
    'ambiguous',
    error.code ?? (status ? `http_${status}` : 'api_error'),
    message,
    status,
  );
}

/** Runs a Stripe call and rethrows its failure classified. */
export async function callStripe<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw classifyStripeError(error);
  }
}
