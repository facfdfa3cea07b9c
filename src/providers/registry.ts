import type { Credentials, PaymentGateway, ProviderFactory } from './types.js';

/** What the registry needs to know about a connection to build (or reuse) its client. */
export interface ConnectionDescriptor {
  id: string;
  tenantId: string;
  provider: string;
  credentialsVersion: number;
  settings: Record<string, unknown>;
}

/** A provider type no factory is registered for. */
export class UnknownProviderError extends Error {
  override readonly name = 'UnknownProviderError';
}

/**
 * Maps provider type to factory, and builds provider clients lazily per connection. Clients are
 * cached per (connection, credentials version): changing a connection's credentials bumps its
 * version, so the next use builds a fresh client in every process without any cross-process message.
 */
export class ProviderRegistry {
  private readonly factories = new Map<string, ProviderFactory>();
  private readonly clients = new Map<string, { version: number; client: PaymentGateway }>();

  constructor(factories: ProviderFactory[] = []) {
    for (const f of factories) this.register(f);
  }

  register(factory: ProviderFactory): void {
    if (this.factories.has(factory.type)) throw new Error(`provider "${factory.type}" is registered twice`);
    this.factories.set(factory.type, factory);
  }

  types(): string[] {
    return [...this.factories.keys()].sort();
  }

  factory(type: string): ProviderFactory {
    const f = this.factories.get(type);
    if (!f) throw new UnknownProviderError(`unknown provider "${type}"; known: ${this.types().join(', ')}`);
    return f;
  }

  /** `openCredentials` is called only when a new client must be built (decryption stays rare). */
  client(conn: ConnectionDescriptor, openCredentials: () => Credentials): PaymentGateway {
    const cached = this.clients.get(conn.id);
    if (cached && cached.version === conn.credentialsVersion) return cached.client;
    const client = this.factory(conn.provider).create({
      tenantId: conn.tenantId,
      connectionId: conn.id,
      credentials: openCredentials(),
      settings: conn.settings,
    });
    this.clients.set(conn.id, { version: conn.credentialsVersion, client });
    return client;
  }

  /** What a provider declares it supports (routing skips a connection that cannot take a payment). */
  capabilities(type: string): ProviderFactory['capabilities'] {
    return this.factories.get(type)?.capabilities;
  }

  /** Drops a cached client (connection deleted or disabled). */
  forget(connectionId: string): void {
    this.clients.delete(connectionId);
  }

  cachedClientCount(): number {
    return this.clients.size;
  }
}
