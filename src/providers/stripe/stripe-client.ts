import Stripe from 'stripe';

export interface StripeClientOptions {
  secretKey: string;
  /** Base URL of a Stripe-compatible API (the emulator); absent means api.stripe.com. */
  apiUrl?: string;
  timeoutMs: number;
}

/** Where the SDK should send requests, from an `http(s)://host:port` base URL. */
export function sdkAddress(apiUrl: string): { host: string; port: number; protocol: 'http' | 'https' } {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new Error(`Stripe apiUrl must be an absolute http(s) URL, got "${apiUrl}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`Stripe apiUrl must use http or https, got "${url.protocol}"`);
  }
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443, protocol };
}

/**
 * Pinned: the SDK's types describe exactly this version, so upgrading the SDK fails type-checking
 * here until someone reviews the API changes.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive' satisfies Stripe.LatestApiVersion;

/**
 * The official SDK, configured for use inside Temporal activities: no SDK-level retries (Temporal
 * owns retries; the SDK still retries a reset connection once, with the same idempotency key), a
 * bounded timeout, and the API version its types describe.
 */
export function createStripeClient(options: StripeClientOptions): Stripe {
  return new Stripe(options.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 0,
    timeout: options.timeoutMs,
    telemetry: false,
    ...(options.apiUrl ? sdkAddress(options.apiUrl) : {}),
  });
}
