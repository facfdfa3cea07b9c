import { existsSync } from 'node:fs';
import type { Env } from '../config/env.js';
import { createDeclarativeProviderFactory, loadProviderDefinitions, validateProviderDefinition } from './declarative/index.js';
import { ProviderRegistry, type TenantProvider } from './registry.js';
import { createStripeProviderFactory } from './stripe/index.js';
import type { ProviderFactory } from './types.js';
import type { OutboundUrlPolicy } from './url-policy.js';

type RegistrySettings = Pick<Env, 'STRIPE_API_URL' | 'PROVIDERS_DIR' | 'ALLOW_PRIVATE_PROVIDER_URLS'>;

/** Reads a tenant's stored definition (the caller owns the database). */
export type TenantDefinitionSource = (
  tenantId: string,
  name: string,
) => Promise<{ definition: Record<string, unknown>; updatedAt: Date } | null>;

/**
 * Tenant-registered definitions become factories on first use and are rebuilt only when the stored
 * definition changes (its updatedAt is the version).
 */
export function tenantProviderLoader(source: TenantDefinitionSource, urlPolicy: OutboundUrlPolicy) {
  const built = new Map<string, TenantProvider>();
  return async (tenantId: string, name: string): Promise<TenantProvider | null> => {
    const stored = await source(tenantId, name);
    if (!stored) return null;
    const key = `${tenantId}/${name}`;
    const version = stored.updatedAt.toISOString();
    const cached = built.get(key);
    if (cached?.version === version) return cached;
    const entry = { version, factory: createDeclarativeProviderFactory(validateProviderDefinition(stored.definition, `${tenantId}/${name}`), { urlPolicy }) };
    built.set(key, entry);
    return entry;
  };
}

/** The built-in providers: Stripe (code adapter) plus every declarative definition file. */
export async function builtInProviders(env: RegistrySettings): Promise<ProviderFactory[]> {
  const urlPolicy: OutboundUrlPolicy = { allowPrivateNetworks: env.ALLOW_PRIVATE_PROVIDER_URLS };
  // A missing folder is fine (no declarative providers); a broken file stops start-up, naming the field.
  const definitions = existsSync(env.PROVIDERS_DIR) ? await loadProviderDefinitions(env.PROVIDERS_DIR) : [];
  return [
    createStripeProviderFactory(env.STRIPE_API_URL ? { apiUrl: env.STRIPE_API_URL } : {}),
    ...definitions.map((d) => createDeclarativeProviderFactory(d, { urlPolicy })),
  ];
}

export async function buildProviderRegistry(env: RegistrySettings, tenantDefinitions: TenantDefinitionSource): Promise<ProviderRegistry> {
  const urlPolicy: OutboundUrlPolicy = { allowPrivateNetworks: env.ALLOW_PRIVATE_PROVIDER_URLS };
  return new ProviderRegistry(await builtInProviders(env), { loadTenantProvider: tenantProviderLoader(tenantDefinitions, urlPolicy) });
}
