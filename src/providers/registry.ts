import { createHash } from 'node:crypto';
import { LruCache } from './lru-cache.js';
import type { ConnectionClient, ConnectionContext, Credentials, ProviderFactory } from './types.js';

/** What the registry needs to know about a connection to build (or reuse) its client. */
export interface ConnectionDescriptor {
  id: string;
  tenantId: string;
  provider: string;
  credentialsVersion: number;
  settings: Record<string, unknown>;
}

/**
 * What a cached client was built from: a client is reused only while all of it is unchanged. The
 * settings enter as a hash of their JSON, which is stable for equal settings because they come from
 * a jsonb column (Postgres stores an object's keys in one order).
 */
export function clientVersion(credentialsVersion: number, providerVersion: string, settings: Record<string, unknown>): string {
  return `${credentialsVersion}/${providerVersion}/${createHash('sha256').update(JSON.stringify(settings)).digest('base64url')}`;
}

/** A provider type no factory is registered for. */
export class UnknownProviderError extends Error {
  override readonly name = 'UnknownProviderError';
}

/** The part every provider builds for a connection: its client (see ProviderRegistry.part). */
export const CONNECTION_CLIENT = 'client';
export const buildConnectionClient = (factory: ProviderFactory, context: () => ConnectionContext): ConnectionClient => factory.create(context());

/** A provider that does not declare the family a caller needs (payments, customers). */
export class MissingCapabilityError extends Error {
  override readonly name = 'MissingCapabilityError';
  constructor(
    readonly provider: string,
    readonly family: 'payments' | 'customers',
  ) {
    super(`provider "${provider}" does not support ${family}`);
  }
}

/** A provider a tenant registered through the API; `version` changes whenever it is replaced. */
export interface TenantProvider {
  version: string;
  factory: ProviderFactory;
}

export interface ProviderRegistryOptions {
  /** Looks up a tenant's own (declarative) provider by name; null when it has none. */
  loadTenantProvider?: (tenantId: string, name: string) => Promise<TenantProvider | null>;
  /** At most this many connection clients are kept (least recently used dropped). Default 1000. */
  maxClients?: number;
}

/**
 * Maps provider type to factory, and builds provider clients lazily per connection (the client and, per family, its parts). Clients are
 * cached per (connection, credentials version, provider version, settings): changing a connection's
 * credentials bumps its version and a PATCH of its settings changes them, so the next use builds a
 * fresh client in every process without any cross-process message. Built-in providers (Stripe, definition files) are shared by all tenants;
 * a tenant may add its own declarative providers, visible to that tenant only. The cache is bounded,
 * and a connection found deleted is forgotten (see activities/connection-clients.ts), so it never grows without limit.
 */
export class ProviderRegistry {
  private readonly factories = new Map<string, ProviderFactory>();
  private readonly clients: LruCache<string, { version: string; parts: Map<string, unknown> }>;

  constructor(
    factories: ProviderFactory[] = [],
    private readonly options: ProviderRegistryOptions = {},
  ) {
    for (const f of factories) this.register(f);
    this.clients = new LruCache(options.maxClients ?? 1000);
  }

  register(factory: ProviderFactory): void {
    if (this.factories.has(factory.type)) throw new Error(`provider "${factory.type}" is registered twice`);
    this.factories.set(factory.type, factory);
  }

  /** Built-in provider types. */
  types(): string[] {
    return [...this.factories.keys()].sort();
  }

  isBuiltIn(type: string): boolean {
    return this.factories.has(type);
  }

  builtIn(): ProviderFactory[] {
    return [...this.factories.values()];
  }

  /** The factory for a provider type as seen by one tenant (built-in first, then its own). */
  async resolve(tenantId: string, type: string): Promise<TenantProvider> {
    const builtIn = this.factories.get(type);
    if (builtIn) return { version: 'built-in', factory: builtIn };
    const own = await this.options.loadTenantProvider?.(tenantId, type);
    if (own) return own;
    throw new UnknownProviderError(`unknown provider "${type}"; available: ${this.types().join(', ')} or one registered at /v1/providers`);
  }

  /** The connection's client (probe, webhooks, payments when declared); see {@link part}. */
  async client(
    conn: ConnectionDescriptor,
    openCredentials: () => Credentials,
    storeCredentials?: ConnectionContext['storeCredentials'],
  ): Promise<ConnectionClient> {
    return this.part(conn, CONNECTION_CLIENT, buildConnectionClient, openCredentials, storeCredentials);
  }

  /**
   * One part of a connection's client (the client itself, a customer-sync adapter), built by `build`
   * once per clientVersion and cached with the connection's other parts. `build` may refuse (e.g.
   * {@link MissingCapabilityError}) before it asks for the context: the credentials are opened only
   * then (decryption stays rare); `storeCredentials` stores credentials the provider rotated (see
   * ConnectionContext).
   */
  async part<P>(
    conn: ConnectionDescriptor,
    name: string,
    build: (factory: ProviderFactory, context: () => ConnectionContext) => P,
    openCredentials: () => Credentials,
    storeCredentials?: ConnectionContext['storeCredentials'],
  ): Promise<P> {
    const { version: providerVersion, factory } = await this.resolve(conn.tenantId, conn.provider);
    const version = clientVersion(conn.credentialsVersion, providerVersion, conn.settings);
    let entry = this.clients.get(conn.id);
    if (entry?.parts.has(name) && entry.version === version) return entry.parts.get(name) as P;
    if (!entry || entry.version !== version) {
      entry = { version, parts: new Map() };
      this.clients.set(conn.id, entry);
    }
    const built = build(factory, () => ({
      tenantId: conn.tenantId,
      connectionId: conn.id,
      credentials: openCredentials(),
      settings: conn.settings,
      ...(storeCredentials ? { storeCredentials } : {}),
    }));
    entry.parts.set(name, built);
    return built;
  }

  /**
   * What a provider declares it supports, as seen by one tenant (built-in or its own): routing skips
   * a connection that cannot take a payment. Unknown providers have no capabilities to check.
   */
  async capabilities(tenantId: string, type: string): Promise<ProviderFactory['capabilities']> {
    try {
      return (await this.resolve(tenantId, type)).factory.capabilities;
    } catch (err) {
      if (err instanceof UnknownProviderError) return undefined;
      throw err;
    }
  }

  /** Drops a cached client (connection deleted or disabled). */
  forget(connectionId: string): void {
    this.clients.delete(connectionId);
  }

  /** How many connection clients are cached (metrics, tests). */
  get cachedClients(): number {
    return this.clients.size;
  }
}
