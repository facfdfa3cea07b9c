import { existsSync } from 'node:fs';
import type { Env } from '../config/env.js';
import { createDeclarativeProviderFactory, loadProviderDefinitions } from './declarative/index.js';
import { ProviderRegistry } from './registry.js';
import { createStripeProviderFactory } from './stripe/index.js';
import type { OutboundUrlPolicy } from './url-policy.js';

type RegistrySettings = Pick<Env, 'STRIPE_API_URL' | 'PROVIDERS_DIR' | 'ALLOW_PRIVATE_PROVIDER_URLS'>;

/** The registry every process uses: Stripe (code adapter) plus every declarative provider file. */
export async function buildProviderRegistry(env: RegistrySettings): Promise<ProviderRegistry> {
  const urlPolicy: OutboundUrlPolicy = { allowPrivateNetworks: env.ALLOW_PRIVATE_PROVIDER_URLS };
  const registry = new ProviderRegistry([createStripeProviderFactory(env.STRIPE_API_URL ? { apiUrl: env.STRIPE_API_URL } : {})]);
  // A missing folder is fine (no declarative providers); a broken file stops start-up, naming the field.
  const definitions = existsSync(env.PROVIDERS_DIR) ? await loadProviderDefinitions(env.PROVIDERS_DIR) : [];
  for (const definition of definitions) registry.register(createDeclarativeProviderFactory(definition, { urlPolicy }));
  return registry;
}
