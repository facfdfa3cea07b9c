/** Builds a ProviderFactory from a provider definition: zero code per gateway. */
import { z } from 'zod';
import { renderString } from '../../domain/template.js';
import { paymentClient, type ConnectionClient, type ConnectionContext, type Credentials, type HeaderBag, type ProviderFactory } from '../types.js';
import { createAuthApplier, TokenCache } from './outbound-auth.js';
import { createDeclarativeCustomerSync } from './crm.js';
import type { ConnectionRuntime } from './outbound.js';
import type { GatewayDefinition, ProviderDefinition, ProviderDefinitionInput } from './definition.js';
import { DeclarativeGateway } from './gateway.js';
import type { FetchLike } from './http.js';
import { validateProviderDefinition } from './load.js';

export interface DeclarativeFactoryOptions {
  /**
   * The egress path for every request of the provider (actions and OAuth token calls): the guarded
   * fetch from ../egress, injected at composition so no tenant URL is reached around it.
   */
  fetch: FetchLike;
  /** Per-request timeout (a timeout is ambiguous). Defaults to the definition's timeoutMs, then 10 s. */
  timeoutMs?: number;
  /** Clock in epoch ms (token expiry, webhook tolerance, latency); injectable for tests. */
  now?: () => number;
}

export interface DeclarativeProviderFactory extends ProviderFactory {
  /** The validated definition, e.g. for its capabilities and display name. */
  readonly definition: ProviderDefinition;
}

const DEFAULT_TIMEOUT_MS = 10_000;

const NO_PAYMENTS = { currencies: [], countries: [], paymentMethods: [], captureModes: [] };

/** A ProviderFactory for a declarative definition (validated again here, so plain objects work too). */
export function createDeclarativeProviderFactory(
  input: ProviderDefinition | ProviderDefinitionInput,
  opts: DeclarativeFactoryOptions,
): DeclarativeProviderFactory {
  const definition = validateProviderDefinition(
    input,
    `provider '${String((input as { name?: unknown }).name)}'`,
  );
  const fetchImpl = opts.fetch;
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? definition.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tokenCache = new TokenCache();

  const credentialSchema = z.object(
    Object.fromEntries(
      definition.credentials.map((c) => {
        const field = z
          .string(`credential '${c.name}' must be a string`)
          .min(1, `credential '${c.name}' is empty`);
        return [c.name, c.required ? field : field.optional()];
      }),
    ),
  );

  function validateCredentials(credentials: unknown): Credentials {
    // Throws a ZodError whose issues name the missing fields; values are never echoed.
    return credentialSchema.parse(credentials) as Credentials;
  }

  /** Credentials and required settings checked, base URL rendered, auth built: what every call needs. */
  function runtimeOf(ctx: ConnectionContext): ConnectionRuntime {
    const credentials = validateCredentials(ctx.credentials);
    for (const setting of definition.settings) {
      if (
        setting.required &&
        (ctx.settings[setting.name] === undefined || ctx.settings[setting.name] === '')
      ) {
        throw new Error(`${definition.name}: connection setting '${setting.name}' is required`);
      }
    }
    const vars = { credentials, settings: ctx.settings };
    const baseUrl = renderString(definition.baseUrl, vars).replace(/\/+$/, '');
    const auth = createAuthApplier(definition.auth, {
      provider: definition.name,
      connectionKey: `${ctx.tenantId}/${ctx.connectionId}`,
      baseUrl,
      vars,
      fetch: fetchImpl,
      timeoutMs,
      now,
      tokenCache,
      ...(ctx.storeCredentials ? { storeCredentials: ctx.storeCredentials } : {}),
    });
    return { connection: { ...ctx, credentials }, baseUrl, auth, fetch: fetchImpl, timeoutMs, now };
  }

  const customerSync = definition.customerSync
    ? createDeclarativeCustomerSync(definition, definition.customerSync, runtimeOf)
    : undefined;

  function create(ctx: ConnectionContext): ConnectionClient {
    const rt = runtimeOf(ctx);
    if (!definition.actions || !definition.capabilities) {
      // Validation guarantees customerSync here: a provider without payment actions syncs customers.
      if (!customerSync) throw new Error(`${definition.name}: neither actions nor customerSync`);
      return customerSync.client(rt);
    }
    return paymentClient(new DeclarativeGateway({
      ...rt,
      definition: definition as GatewayDefinition,
      ...(customerSync
        ? {
            otherWebhooks: (raw: Buffer, headers: HeaderBag) =>
              customerSync.parseWebhook(rt.connection.credentials, raw, headers, now()),
          }
        : {}),
    }));
  }

  return {
    type: definition.name,
    definition,
    // A customer system takes no payment: empty capabilities make routing skip it, with the reason.
    capabilities: definition.capabilities ?? NO_PAYMENTS,
    declineCodes: definition.declineCodes,
    validateCredentials,
    create,
    ...(customerSync ? { customerSync } : {}),
  };
}
