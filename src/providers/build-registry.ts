import { existsSync } from 'node:fs';
import type { Env } from '../config/env.js';
import { createDeclarativeProviderFactory, loadProviderDefinitions, validateProviderDefinition } from './declarative/index.js';
import { LruCache } from './lru-cache.js';
import { ProviderRegistry, type TenantProvider } from './registry.js';
import { createStripeProviderFactory } from './stripe/index.js';
import type { ProviderFactory } from './types.js';
import type { FetchLike } from './declarative/http.js';

type RegistrySettings = Pick<Env, 'STRIPE_API_URL' | 'PROVIDERS_DIR'>;

/** Reads a tenant's stored definition (the caller owns the database). */
export type TenantDefinitionSource = (
  tenantId: string,
  name: string,
) => Promise<{ definition: Record<string, unknown>; updatedAt: Date } | null>;

/**
 * Tenant-registered definitions become factories on first use and are rebuilt only when the stored
 * definition changes (its updatedAt is the version). At most `maxEntries` are kept (least recently
 * used dropped), and a definition found deleted is dropped at once.
 */
export function tenantProviderLoader(source: TenantDefinitionSource, egress: FetchLike, opts: { maxEntries?: number } = {}) {
  const built = new LruCache<string, TenantProvider>(opts.maxEntries ?? 500);
  const load = async (tenantId: string, name: string): Promise<TenantProvider | null> => {
    const key = `${tenantId}/${name}`;
    const stored = await source(tenantId, name);
    if (!stored) {
      built.delete(key);
      return null;
    }
    const version = stored.updatedAt.toISOString();
    const cached = built.get(key);
    if (cached?.version === version) return cached;
    const entry = { version, factory: createDeclarativeProviderFactory(validateProviderDefinition(stored.definition, `${tenantId}/${name}`), { fetch: egress }) };
    built.set(key, entry);
    return entry;
  };
  return Object.assign(load, { cached: () => built.size });
}

/**
 * The built-in providers: Stripe (code adapter) plus every declarative definition file. `egress` is
 * the guarded fetch every declarative provider sends through.
 */
export async function builtInProviders(env: RegistrySettings, egress: FetchLike): Promise<ProviderFactory[]> {
  // A missing folder is fine (no declarative providers); a broken file stops start-up, naming the field.
  const definitions = existsSync(env.PROVIDERS_DIR) ? await loadProviderDefinitions(env.PROVIDERS_DIR) : [];
  return [
    createStripeProviderFactory(env.STRIPE_API_URL ? { apiUrl: env.STRIPE_API_URL } : {}),
    ...definitions.map((d) => createDeclarativeProviderFactory(d, { fetch: egress })),
  ];
}

export async function buildProviderRegistry(env: RegistrySettings, tenantDefinitions: TenantDefinitionSource, egress: FetchLike): Promise<ProviderRegistry> {
  return new ProviderRegistry(await builtInProviders(env, egress), { loadTenantProvider: tenantProviderLoader(tenantDefinitions, egress) });
}
