import { z } from 'zod';
import { byKey } from '../../stores/platform/audit-event-store.js';
import {
  deleteProviderDefinition,
  listProviderDefinitions,
  ProviderDefinitionNotFoundError,
  ProviderInUseError,
  putProviderDefinition,
} from '../../stores/platform/provider-definition-store.js';
import { DEFAULT_TENANT_QUOTAS, QuotaExceededError } from '../../stores/platform/quota-store.js';
import { providerDefinitionJsonSchema, providerDefinitionSchema } from '../../providers/declarative/index.js';
import { upgradeProviderDefinition } from '../../providers/declarative/format-version.js';
import { DefinitionSourceError, MAX_ALIAS_COUNT, MAX_DEFINITION_DEPTH, readDefinitionSource } from '../../providers/declarative/definition-source.js';
import { issuePosition } from '../../providers/declarative/load.js';
import { checkOutboundUrl, OutboundUrlError } from '../../providers/url-policy.js';
import type { AppDeps } from '../deps.js';
import type { ResourceRouter, TextBodySpec } from '../endpoint.js';
import { ApiError } from '../errors.js';
import { quotaRefusal } from '../quota-refusals.js';
import { PROVIDER_DEFINITION_EXAMPLE } from './provider-example.js';
import { providerTryEndpoint } from './provider-try.js';

const providerOut = z.object({
  name: z.string(),
  displayName: z.string().optional(),
  source: z.enum(['built-in', 'tenant']),
  capabilities: z.unknown().optional(),
  updatedAt: z.string().optional(),
}).meta({
  id: 'Provider',
  examples: [
    {
      name: 'examplepay',
      displayName: 'ExamplePay',
      source: 'tenant',
      capabilities: PROVIDER_DEFINITION_EXAMPLE.capabilities,
      updatedAt: '2026-12-07T10:15:30.000Z',
    },
  ],
});
const definitionBody = providerDefinitionSchema.meta({ id: 'ProviderDefinition', examples: [PROVIDER_DEFINITION_EXAMPLE] });
const nameParams = z.object({ name: z.string().regex(/^[a-z][a-z0-9_-]{1,40}$/, 'a lower-case slug, e.g. examplepay') });

/** YAML media types a definition may be sent in (the files in providers/ are YAML). */
export const DEFINITION_YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/**
 * A definition as YAML or JSON text, read with the guards of definition-source.ts (nesting, aliases,
 * tags, size); its problems point at the line and column of the field.
 */
const definitionText: TextBodySpec = {
  contentTypes: DEFINITION_YAML_TYPES,
  read(text, format) {
    try {
      const source = readDefinitionSource(text, format === 'json' ? 'json' : 'yaml');
      return { value: source.value, locate: (issue) => issuePosition(issue, source) };
    } catch (err) {
      if (!(err instanceof DefinitionSourceError)) throw err;
      throw new ApiError(400, 'validation_failed', `invalid request: body ${err.message}`, [{ path: 'body', message: err.message, ...err.position }]);
    }
  },
};

/** The provider definition store's refusals as HTTP answers. */
function refusal(err: unknown): never {
  if (err instanceof ProviderDefinitionNotFoundError) throw ApiError.notFound('provider', err.providerName);
  if (err instanceof ProviderInUseError) throw new ApiError(409, 'conflict', err.message);
  if (err instanceof QuotaExceededError) throw quotaRefusal(err);
  throw err;
}

/**
 * Declarative providers a tenant adds with zero code: PUT a definition (the same format as the files
 * in providers/, see docs/declarative-providers.md), then create connections with that provider name.
 */
export function providersRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  const quotas = deps.quotas ?? DEFAULT_TENANT_QUOTAS;
  return providerTryEndpoint(deps, r)
    .endpoint(
      'get',
      '/v1/providers',
      { operationId: 'listProviders', summary: 'Providers available to the tenant (built-in and its own)', responses: { 200: { description: 'Providers', schema: z.object({ data: z.array(providerOut) }) } } },
      async ({ tenant, res }) => {
        const own = await listProviderDefinitions(db, tenant.id);
        res.json({
          data: [
            ...deps.providers.builtIn().map((f) => ({ name: f.type, source: 'built-in' as const, ...(f.capabilities ? { capabilities: f.capabilities } : {}) })),
            ...own.map((row) => ({
              name: row.name,
              displayName: String(row.definition.displayName ?? row.name),
              source: 'tenant' as const,
              capabilities: row.definition.capabilities,
              updatedAt: row.updatedAt.toISOString(),
            })),
          ],
        });
      },
    )
    .endpoint(
      'get',
      '/v1/providers/definition-schema',
      { operationId: 'getProviderDefinitionSchema', summary: 'JSON Schema of a declarative provider definition', security: 'none', responses: { 200: { description: 'JSON Schema' } } },
      async ({ res }) => {
        res.json(providerDefinitionJsonSchema());
      },
    )
    .endpoint(
      'put',
      '/v1/providers/:name',
      {
        operationId: 'putProvider',
        summary: 'Add or replace a declarative provider of the tenant',
        description:
          'The body is a provider definition as JSON or as YAML (`Content-Type: application/yaml`, `application/x-yaml` or `text/yaml`: the file as written). ' +
          'Every problem is reported with its path and the line and column where the field is written. YAML is read with plain YAML 1.2 values only: ' +
          `custom tags are refused, at most ${MAX_ALIAS_COUNT} aliases, nesting up to ${MAX_DEFINITION_DEPTH} levels. The base URL must pass the outbound URL policy.`,
        params: nameParams,
        body: definitionBody,
        textBody: definitionText,
        responses: {
          200: { description: 'Stored', schema: providerOut },
          422: { description: 'quota_exceeded: the tenant has TENANT_MAX_PROVIDER_DEFINITIONS providers (replacing one is always allowed)' },
        },
      },
      async ({ params, body, tenant, req, res, bodyPosition }) => {
        if (body.name !== params.name) {
          throw new ApiError(400, 'validation_failed', 'name in the body must match the URL', [{ path: 'body.name', message: `expected "${params.name}"`, ...bodyPosition(['name']) }]);
        }
        if (deps.providers.isBuiltIn(params.name)) throw new ApiError(409, 'conflict', `"${params.name}" is a built-in provider; choose another name`);
        const literalBase = /^https?:\/\//.test(body.baseUrl) ? body.baseUrl : undefined;
        if (literalBase) {
          try {
            checkOutboundUrl(literalBase, deps.urlPolicy);
          } catch (err) {
            if (!(err instanceof OutboundUrlError)) throw err;
            throw new ApiError(400, 'validation_failed', 'baseUrl is not an allowed URL', [{ path: 'body.baseUrl', message: err.message, ...bodyPosition(['baseUrl']) }]);
          }
        }
        // Store the definition as written (defaults are applied again when it is loaded), in the
        // current format version whichever version was sent.
        const definition = upgradeProviderDefinition(req.body as Record<string, unknown>);
        const row = await putProviderDefinition(db, quotas, byKey(tenant), params.name, definition).catch(refusal);
        res.json({ name: row.name, displayName: body.displayName, source: 'tenant', capabilities: body.capabilities, updatedAt: row.updatedAt.toISOString() });
      },
    )
    .endpoint(
      'delete',
      '/v1/providers/:name',
      { operationId: 'deleteProvider', summary: "Remove one of the tenant's providers (refused while connections use it)", params: nameParams, responses: { 204: { description: 'Removed' } } },
      async ({ params, tenant, res }) => {
        await deleteProviderDefinition(db, byKey(tenant), params.name).catch(refusal);
        res.status(204).end();
      },
    );
}
