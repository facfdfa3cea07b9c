/**
 * POST /v1/integrations/:id/try: one page of one entity stream of an ERP integration, read as a run
 * reads it (same connector, auth and egress guard), answering with the exchanges (secrets masked),
 * the raw records and each mapped through the entity's mapping. Nothing is written: no catalog row,
 * dead letter, checkpoint or run.
 */
import { z } from 'zod';
import { ERP_ENTITIES, type ErpEntity } from '../../../domain/erp/entities.js';
import { TokenCache } from '../../../providers/declarative/outbound-auth.js';
import { maskExchanges, recordExchanges } from '../../../providers/declarative/exchange-recorder.js';
import { createErpSource, ErpConfigurationError, ErpRateLimitedError, ErpUnavailableError } from '../../../providers/erp/index.js';
import { GatewayError, InvalidCredentialsError } from '../../../providers/types.js';
import { OutboundUrlError } from '../../../providers/url-policy.js';
import { connectorOf, mappingOf, openIntegrationCredentials, requireIntegrationKey, type IntegrationRow } from '../../../stores/erp/integration-store.js';
import { latestUpload, readUpload } from '../../../stores/erp/upload-store.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { ApiError } from '../../errors.js';
import { recordedExchange } from '../provider-try.js';
import { INTEGRATION_TRY_EXAMPLE, INTEGRATION_TRY_OUT_EXAMPLE } from '../provider-try-examples.js';

/** Records of the page shown (each with its mapping); `count` says how many the page held. */
export const SHOWN_RECORDS = 100;

const tryBody = z
  .strictObject({
    entity: z.enum(ERP_ENTITIES),
    cursor: z.string().min(1).max(4000).optional().meta({ description: "The page's position as the connector's paginator writes it (a cursor, page number, offset or next URL); absent: the first page." }),
  })
  .meta({ id: 'IntegrationTryRequest', examples: [INTEGRATION_TRY_EXAMPLE] });

const mappedRecord = z.union([
  z.object({ raw: z.unknown(), ok: z.literal(true), record: z.record(z.string(), z.unknown()) }),
  z.object({ raw: z.unknown(), ok: z.literal(false), errors: z.array(z.object({ field: z.string(), message: z.string() })) }),
  z.object({ raw: z.unknown() }),
]);

const tryOut = z
  .object({
    entity: z.enum(ERP_ENTITIES),
    exchanges: z.array(recordedExchange),
    next: z.string().nullable().optional().meta({ description: 'Position of the following page (send it as cursor); null on the last page.' }),
    count: z.number().int().optional().meta({ description: 'Records in the page.' }),
    records: z.array(mappedRecord).optional().meta({ description: `The first ${SHOWN_RECORDS} records, raw and mapped (absent ok: the entity has no mapping yet).` }),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'IntegrationTryResult', examples: [INTEGRATION_TRY_OUT_EXAMPLE] });

function failureOf(err: unknown): { code: string; message: string } | undefined {
  if (err instanceof ErpRateLimitedError) return { code: 'rate_limited', message: err.message };
  if (err instanceof ErpUnavailableError) return { code: 'unavailable', message: err.message };
  if (err instanceof ErpConfigurationError) return { code: 'misconfigured', message: err.message };
  if (err instanceof InvalidCredentialsError) return { code: 'credentials_refused', message: err.message };
  if (err instanceof GatewayError) return { code: err.code, message: err.message };
  return undefined;
}

export function integrationTryEndpoint(deps: AppDeps, r: ResourceRouter, findOwned: (tenantId: string, id: string) => Promise<IntegrationRow>): ResourceRouter {
  const { db } = deps.database;
  return r.endpoint(
    'post',
    '/v1/integrations/:id/try',
    {
      operationId: 'tryErpIntegration',
      summary: 'Read one page of one entity stream and see the exchange, the raw records and the mapped ones (nothing is stored)',
      description:
        'The page is read as a run reads it (connector, auth, egress guard). Credential values, Authorization/Cookie headers and secret-named fields are shown as ***; ' +
        `bodies are cut at 64 KiB, records at ${SHOWN_RECORDS}. An ERP failure is a 200 with \`error\`; a destination the egress guard refuses is a 422 destination_blocked.`,
      params: z.object({ id: z.string().min(1) }),
      body: tryBody,
      responses: { 200: { description: 'What the page read sent, received and mapped', schema: tryOut } },
    },
    async ({ params, body, tenant, res }) => {
      const row = await findOwned(tenant.id, params.id);
      const entity: ErpEntity = body.entity;
      const connector = connectorOf(row);
      if (!(connector.streams as Record<string, unknown>)[entity]) {
        throw new ApiError(400, 'validation_failed', `the connector has no stream for ${entity}`, [{ path: 'body.entity', message: `no connector.streams.${entity}` }]);
      }
      requireIntegrationKey(deps.cipher, row);
      const mapping = mappingOf(row, entity);
      const credentials = openIntegrationCredentials(deps.cipher, row);
      const recorder = recordExchanges(deps.egress);
      let shown: Record<string, unknown>;
      try {
        const source = createErpSource(connector, {
          tenantId: row.tenantId,
          integrationId: row.id,
          credentials,
          settings: row.settings,
          fetch: recorder.fetch,
          urlPolicy: deps.urlPolicy,
          tokenCache: new TokenCache(),
          uploads: { latest: (e) => latestUpload(db, row.id, e), read: (uploadId, fromByte) => readUpload(db, row.id, uploadId, fromByte) },
        });
        shown = { next: null, count: 0, records: [] };
        // The first page only: the generator asks for the next one only when iterated on.
        for await (const page of source.pages(entity, body.cursor ?? null)) {
          shown = {
            next: page.next,
            count: page.records.length,
            records: page.records.slice(0, SHOWN_RECORDS).map((raw) => {
              if (!mapping) return { raw };
              const mapped = mapping.map(raw);
              return mapped.ok ? { raw, ok: true, record: mapped.record } : { raw, ok: false, errors: mapped.errors };
            }),
          };
          break;
        }
      } catch (err) {
        if (err instanceof OutboundUrlError) throw new ApiError(422, 'destination_blocked', err.message, [{ path: 'connector', message: 'refused by the egress guard' }]);
        const error = failureOf(err);
        if (!error) throw err;
        shown = { error };
      }
      res.json(maskExchanges({ entity, ...shown, exchanges: recorder.exchanges }, recorder.exchanges, Object.values(credentials)));
    },
  );
}
