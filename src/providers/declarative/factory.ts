/** Builds a ProviderFactory from a provider definition: zero code per gateway. */
import { z } from 'zod';
import { renderString } from '../../domain/template.js';
import type { ConnectionContext, Credentials, PaymentGateway, ProviderFactory } from '../types.js';
import { checkOutboundUrl, type OutboundUrlPolicy } from '../url-policy.js';
import { createAuthApplier, TokenCache } from './auth.js';
import type { ProviderDefinition, ProviderDefinitionInput } from './definition.js';
import { DeclarativeGateway } from './gateway.js';
import type { FetchLike } from './http.js';
import { validateProviderDefinition } from './load.js';

export interface DeclarativeFactoryOptions {
  /** HTTP client; defaults to the global fetch. */
  fetch?: FetchLike;
  /** Per-request timeout (a timeout is ambiguous). Defaults to the definition's timeoutMs, then 10 s. */
  timeoutMs?: number;
  /** Outbound URL policy applied to the base URL and token URL at connect time. Default: no private networks. */
  urlPolicy?: OutboundUrlPolicy;
  /** Clock in epoch ms (token expiry, webhook tolerance, latency); injectable for tests. */
  now?: () => number;
}

export interface DeclarativeProviderFactory extends ProviderFactory {
  /** The validated definition, e.g. for its capabilities and display name. */
  readonly definition: ProviderDefinition;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** A ProviderFactory for a declarative definition (validated again here, so plain objects work too). */
export function createDeclarativeProviderFactory(
  input: ProviderDefinition | ProviderDefinitionInput,
  opts: DeclarativeFactoryOptions = {},
): DeclarativeProviderFactory {
  const definition = validateProviderDefinition(
    input,
    `provider '${String((input as { name?: unknown }).name)}'`,
  );
  const policy = opts.urlPolicy ?? { allowPrivateNetworks: false };
  const fetchImpl = opts.fetch ?? ((...args: Parameters<FetchLike>) => fetch(...args));
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

  function create(ctx: ConnectionContext): PaymentGateway {
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
    checkOutboundUrl(baseUrl, policy);
    const auth = createAuthApplier(definition.auth, {
      provider: definition.name,
      connectionKey: `${ctx.tenantId}/${ctx.connectionId}`,
      baseUrl,
      vars,
      fetch: fetchImpl,
      timeoutMs,
      now,
      tokenCache,
      checkUrl: (url) => void checkOutboundUrl(url, policy),
    });
    return new DeclarativeGateway({
      definition,
      connection: { ...ctx, credentials },
      baseUrl,
      auth,
      fetch: fetchImpl,
      timeoutMs,
      now,
    });
  }

  return { type: definition.name, definition, capabilities: definition.capabilities, validateCredentials, create };
}
