import { paymentClient, type ConnectionClient, type ConnectionContext, type Credentials, type ProviderFactory } from '../types.js';
import { stripeCredentialsSchema } from './credentials.js';
import { createStripeClient, sdkAddress } from './stripe-client.js';
import { STRIPE_DECLINE_CODES } from './stripe-decline-codes.js';
import { StripeGateway } from './stripe-gateway.js';
import { stripeCustomerSync } from './stripe-customers.js';

export interface StripeProviderOptions {
  /** Base URL of a Stripe-compatible API, e.g. the emulator's `http://127.0.0.1:12111`; absent = Stripe. */
  apiUrl?: string;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

/** The `stripe` provider: a code adapter over the official SDK. */
export function createStripeProviderFactory(options: StripeProviderOptions = {}): ProviderFactory {
  // Fail at start-up, not at the first payment, when the URL is malformed.
  if (options.apiUrl) sdkAddress(options.apiUrl);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    type: 'stripe',
    customerSync: stripeCustomerSync((secretKey) =>
      createStripeClient({ secretKey, timeoutMs, ...(options.apiUrl ? { apiUrl: options.apiUrl } : {}) }),
    ),
    declineCodes: STRIPE_DECLINE_CODES,
    validateCredentials(credentials: unknown): Credentials {
      const { secretKey, webhookSecret } = stripeCredentialsSchema.parse(credentials);
      return webhookSecret ? { secretKey, webhookSecret } : { secretKey };
    },
    create(ctx: ConnectionContext): ConnectionClient {
      const { secretKey, webhookSecret } = stripeCredentialsSchema.parse(ctx.credentials);
      const stripe = createStripeClient({
        secretKey,
        timeoutMs,
        ...(options.apiUrl ? { apiUrl: options.apiUrl } : {}),
      });
      return paymentClient(new StripeGateway(stripe, webhookSecret));
    },
  };
}

export { StripeGateway } from './stripe-gateway.js';
export { classifyStripeError } from './error-classification.js';
export { stripeCredentialsSchema, type StripeCredentials } from './credentials.js';
