/**
 * ERP integrations of a tenant: CRUD (validated on save, with the path of every problem), manual
 * syncs and their runs, pause/resume of the schedules, dead letters and their replay.
 */
import { z } from 'zod';
import { newId } from '../../../db/ids.js';
import { ERP_ENTITIES } from '../../../domain/erp/entities.js';
import { feedingEntity, IntegrationInvalidError, requireStreamsForMappings, scheduledEntities } from '../../../domain/erp/integration-rules.js';
import { mappingsSchema } from '../../../domain/erp/mapping.js';
import { connectorSchema } from '../../../providers/erp/connector-definition.js';
import { upgradeConnectorPatch } from '../../../providers/erp/connector-format.js';
import { requireMappingsForEnvelope } from '../../../providers/erp/webhook-envelope.js';
import type { ErpDeadLetterReplayInput, ErpPollInput } from '../../../shared/erp-messages.js';
import { workflowId } from '../../../shared/workflow-ids.js';
import { DeadLetterClosedError, deadLetterView, dismissDeadLetter, listDeadLetters } from '../../../stores/erp/dead-letter-store.js';
import { byKey } from '../../../stores/platform/audit-event-store.js';
import {
  checkConnectorUrls,
  connectorOf,
  createIntegration,
  deleteIntegration,
  findIntegration,
  integrationView,
  listIntegrations,
  pauseIntegration,
  readsUploads,
  requireIntegrationKey,
  resumeIntegration,
  updateIntegration,
  type IntegrationDefinition,
  type IntegrationRow,
} from '../../../stores/erp/integration-store.js';
import { createRun, findRun, listRuns, runningRunWorkflowIds, runView } from '../../../stores/erp/run-store.js';
import { storeUpload, UploadTooLargeError } from '../../../stores/erp/upload-store.js';
import { DEFAULT_TENANT_QUOTAS, QuotaExceededError } from '../../../stores/platform/quota-store.js';
import { resultWithin } from '../../await-workflow.js';
import { checkConnectionSettings } from '../../connection-settings.js';
import type { AppDeps } from '../../deps.js';
import type { ResourceRouter } from '../../endpoint.js';
import { erpIntegrationWorkflows } from '../../erp-integration-workflows.js';
import { ApiError } from '../../errors.js';
import { answerPage, pageOut, pageQuery } from '../../common-schemas.js';
import { mergeMember, mergePatchOf } from '../../merge-patch-body.js';
import { checkPollInterval, quotaRefusal } from '../../quota-refusals.js';
import { integrationTryEndpoint } from './integration-try.js';
import { DEAD_LETTER_EXAMPLE, ERP_RUN_EXAMPLE, INTEGRATION_CREATE_EXAMPLE, INTEGRATION_EXAMPLE } from './erp-examples.js';

const settingsSchema = z
  .object({
    intervalSeconds: z.number().int().min(10).max(86_400).default(300),
    warehouse: z.string().trim().min(1).max(100).optional(),
    priceList: z.string().trim().min(1).max(100).optional(),
    pauseAfterFailures: z.number().int().min(1).max(100).default(3),
  })
  .catchall(z.union([z.string().max(2000), z.number(), z.boolean()]))
  .meta({ description: 'Schedule and defaults; other keys are read by connector templates as settings.<key> (e.g. baseUrl).' });

const credentials = z
  .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), z.string().min(1).max(4000))
  .meta({ description: 'Write-only; encrypted at rest bound to tenant and integration. webhookSecret signs webhooks.', writeOnly: true });

const typeSchema = z.enum(['polling', 'webhook', 'hybrid']);

const createBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    type: typeSchema,
    connector: connectorSchema,
    credentials: credentials.optional(),
    settings: settingsSchema.default({ intervalSeconds: 300, pauseAfterFailures: 3 }),
    mappings: mappingsSchema,
  })
  .meta({ examples: [INTEGRATION_CREATE_EXAMPLE] });
const patchBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    type: typeSchema.optional(),
    connector: mergePatchOf(z.unknown(), 'the connector (see createErpIntegration for its shape)').optional(),
    credentials: credentials.optional().meta({ description: 'Write-only; replaces the stored credentials as a whole (they are never read back, so they cannot be merged).' }),
    settings: mergePatchOf(z.union([z.string().max(2000), z.number(), z.boolean()]), 'the settings; a removed intervalSeconds or pauseAfterFailures is back to its default').optional(),
    mappings: mergePatchOf(z.array(z.unknown()), "the mappings: an entity's list of entries replaces its old list, null removes the entity's mapping").optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'at least one field to change is required')
  .meta({
    description: 'A JSON Merge Patch (RFC 7396): what is not sent stays as it is. The merged integration is validated as a whole before it is stored.',
    examples: [{ settings: { intervalSeconds: 900 } }, { settings: { warehouse: null }, mappings: { prices: null } }, { connector: { streams: { products: { path: '/v2/items' } } } }],
  });

const idParams = z.object({ id: z.string().min(1) });
const runParams = z.object({ id: z.string().min(1), runId: z.string().min(1) });
const syncBody = z
  .strictObject({ entity: z.enum(ERP_ENTITIES), mode: z.enum(['full', 'incremental']).default('incremental') })
  .meta({ examples: [{ entity: 'products', mode: 'incremental' }] });
const replayBody = z
  .strictObject({
    ids: z.array(z.string().min(1)).min(1).max(1000).optional().meta({ description: 'Dead letters to replay; all open ones when absent.' }),
  })
  .meta({ examples: [{ ids: [DEAD_LETTER_EXAMPLE.id] }] });
const replayParams = z.object({ id: z.string().min(1), replayId: z.string().min(1) });

export const integrationOut = z.object({
  id: z.string(),
  object: z.literal('integration'),
  name: z.string(),
  type: typeSchema,
  status: z.enum(['active', 'paused']),
  pausedReason: z.string().nullable(),
  consecutiveFailures: z.number(),
  connector: z.record(z.string(), z.unknown()),
  settings: z.record(z.string(), z.unknown()),
  mappings: z.record(z.string(), z.unknown()),
  watermarks: z.record(z.string(), z.object({ watermark: z.string(), key: z.string() })),
  hasCredentials: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'ErpIntegration', examples: [INTEGRATION_EXAMPLE] });
const count = z.number().int().nonnegative();
const countsOut = z
  .object({ read: count, valid: count, invalid: count, upserted: count, unchanged: count, filtered: count.optional() })
  .meta({
    id: 'ErpRecordCounts',
    description: "Records read, valid, invalid (dead-lettered), upserted and unchanged; filtered (only when the stream has a filter): skipped by it before mapping, not in read",
  });
export const runOut = z.object({
  id: z.string(),
  object: z.literal('integration_run'),
  integrationId: z.string(),
  entity: z.string(),
  mode: z.string(),
  trigger: z.string(),
  status: z.enum(['running', 'succeeded', 'failed']),
  counts: countsOut,
  checkpoint: z.record(z.string(), z.unknown()),
  errors: z.array(z.object({ at: z.string(), message: z.string() })),
  workflowId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().int().nonnegative().meta({ description: 'So far, while running.' }),
}).meta({ id: 'ErpRun', examples: [ERP_RUN_EXAMPLE] });
const TEST_WAIT_MS = 30_000;
export const DEFAULT_UPLOAD_MAX_BYTES = 512 * 1024 * 1024;
const UPLOAD_TYPES = ['text/csv', 'application/octet-stream'];
const uploadParams = z.object({ id: z.string().min(1), entity: z.enum(ERP_ENTITIES) });
const uploadOut = z
  .object({ id: z.string(), object: z.literal('integration_file'), integrationId: z.string(), entity: z.string(), size: count })
  .meta({
    id: 'ErpFile',
    examples: [{ id: 'upl_2k7m4q9x1v8t3n6p5r0w', object: 'integration_file', integrationId: 'int_6p2m9k4x7q1v8t3n5r0w', entity: 'products', size: 1048576 }],
  });
const testOut = z.object({
  status: z.enum(['completed', 'running']),
  ok: z.boolean(),
  entity: z.string().optional(),
  records: count.optional(),
  fields: z.array(z.string()).optional().meta({ description: 'Field names of the first record, for writing mappings.' }),
  code: z.string().optional(),
  message: z.string().optional(),
  workflowId: z.string(),
}).meta({
  id: 'ErpConnectionTest',
  examples: [
    {
      status: 'completed',
      ok: true,
      entity: 'products',
      records: 100,
      fields: ['sku', 'title', 'price', 'updated_at'],
      workflowId: 'erp-test-int_6p2m9k4x7q1v8t3n5r0w-tst_7q2k9m4x1v8t3n6p5r0w',
    },
  ],
});
const DEAD_LETTER_STATUSES = ['open', 'replayed', 'dismissed', 'resolved'] as const;
export const deadLetterOut = z.object({
  id: z.string(),
  runId: z.string(),
  entity: z.string(),
  status: z.enum(DEAD_LETTER_STATUSES),
  recordKey: z.string().nullable().meta({ description: "The record's natural key when its key fields mapped: a later valid record with this key resolves it" }),
  raw: z.unknown(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })),
  createdAt: z.string(),
  replayedAt: z.string().nullable(),
  closedAt: z.string().nullable().meta({ description: 'When it was dismissed or resolved' }),
  dismissReason: z.string().nullable(),
  resolvedByRunId: z.string().nullable().meta({ description: 'The run that applied a valid record with the same key' }),
}).meta({ id: 'DeadLetter', examples: [DEAD_LETTER_EXAMPLE] });
const dismissBody = z
  .strictObject({ reason: z.string().trim().min(1).max(500).optional().meta({ description: 'Why, for the audit log and the listing' }) })
  .meta({ examples: [{ reason: 'Discontinued item, fixed by hand in the shop' }] });
const replayOut = z.object({
  replayId: z.string(),
  workflowId: z.string().meta({ description: 'The ErpDeadLetterReplayWorkflow carrying the replay (Temporal UI).' }),
  runId: z.string(),
  status: z.enum(['running', 'completed', 'failed']),
  result: z.object({ replayed: count, stillInvalid: count, counts: countsOut }).nullable(),
  error: z.string().nullable(),
}).meta({
  id: 'DeadLetterReplay',
  examples: [
    {
      replayId: 'dlr_5k2m8q4x7v1t9n3p6r0w',
      workflowId: 'erp-replay-int_6p2m9k4x7q1v8t3n5r0w-dlr_5k2m8q4x7v1t9n3p6r0w',
      runId: '0193a1f2-7c4e-7d2b-9f1a-3e5c7b9d2f40',
      status: 'completed',
      result: { replayed: 1, stillInvalid: 0, counts: { read: 1, valid: 1, invalid: 0, upserted: 1, unchanged: 0 } },
      error: null,
    },
  ],
});

/** A definition the store refused, answered as the 400 naming each problem's path in the body. */
function invalidDefinition(err: IntegrationInvalidError): ApiError {
  return new ApiError(400, 'validation_failed', err.messageAt('body.'), err.problems.map((p) => ({ path: `body.${p.path}`, message: p.message })));
}

export function integrationsRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  const policy = deps.urlPolicy;
  const maxUploadBytes = deps.erpUploadMaxBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
  const quotas = deps.quotas ?? DEFAULT_TENANT_QUOTAS;
  const workflows = erpIntegrationWorkflows(deps, quotas.erp_min_poll_interval_seconds);
  const tooLarge = () => new ApiError(413, 'payload_too_large', `the file is larger than the limit of ${maxUploadBytes} bytes`);

  async function findOwned(tenantId: string, id: string): Promise<IntegrationRow> {
    const row = await findIntegration(db, tenantId, id);
    if (!row) throw ApiError.notFound('integration', id);
    return row;
  }

  /** The checks of a definition before it is saved, in the order their refusals take precedence. */
  function checkDefinition(definition: Pick<IntegrationDefinition, 'type' | 'connector' | 'mappings' | 'settings'>, newSettings: IntegrationDefinition['settings'] | undefined): void {
    try {
      requireStreamsForMappings(definition.type, definition.connector.streams, definition.mappings);
      requireMappingsForEnvelope(definition.connector.webhook, definition.mappings);
      if (newSettings) checkConnectionSettings(newSettings, policy);
      checkPollInterval(quotas, newSettings?.intervalSeconds);
      checkConnectorUrls(definition.connector, definition.settings, policy);
    } catch (err) {
      throw err instanceof IntegrationInvalidError ? invalidDefinition(err) : err;
    }
  }

  return integrationTryEndpoint(deps, r, findOwned)
    .endpoint(
      'post',
      '/v1/integrations',
      {
        operationId: 'createErpIntegration',
        summary: 'Create an ERP integration (connector, encrypted credentials, settings, mappings per entity)',
        description: 'Everything is validated before it is stored: an unknown field, transformation or stream is a 400 naming its path. See docs/erp-integrations.md.',
        body: createBody,
        responses: {
          201: { description: 'Created', schema: integrationOut },
          422: { description: 'quota_exceeded: the tenant has TENANT_MAX_ERP_INTEGRATIONS integrations, or intervalSeconds is below ERP_MIN_POLL_INTERVAL_SECONDS' },
        },
      },
      async ({ body, tenant, res }) => {
        checkDefinition(body, body.settings);
        const row = await createIntegration(db, deps.cipher, tenant.id, body, quotas).catch((err: unknown) => {
          throw err instanceof QuotaExceededError ? quotaRefusal(err) : err;
        });
        await workflows.syncSchedules(row);
        res.status(201).json(integrationView(row));
      },
    )
    .endpoint(
      'get',
      '/v1/integrations',
      { operationId: 'listErpIntegrations', summary: "List the tenant's ERP integrations", responses: { 200: { description: 'Integrations', schema: z.object({ data: z.array(integrationOut) }) } } },
      async ({ tenant, res }) => {
        res.json({ data: (await listIntegrations(db, tenant.id)).map(integrationView) });
      },
    )
    .endpoint(
      'get',
      '/v1/integrations/:id',
      { operationId: 'getErpIntegration', summary: 'Get an ERP integration', params: idParams, responses: { 200: { description: 'The integration', schema: integrationOut } } },
      async ({ params, tenant, res }) => {
        res.json(integrationView(await findOwned(tenant.id, params.id)));
      },
    )
    .endpoint(
      'patch',
      '/v1/integrations/:id',
      {
        operationId: 'updateErpIntegration',
        summary: 'Update an ERP integration (JSON Merge Patch); new credentials replace the old ones',
        description:
          'Only what is sent changes: `settings`, `connector` and `mappings` are merged into the stored ones per RFC 7396 (`null` removes a key, arrays replace), ' +
          'then the whole integration is validated as on create (400 naming each field). Accepts `application/json` and `application/merge-patch+json`.',
        params: idParams,
        body: patchBody,
        responses: {
          200: { description: 'Updated', schema: integrationOut },
          422: { description: 'quota_exceeded: intervalSeconds is below ERP_MIN_POLL_INTERVAL_SECONDS' },
        },
      },
      async ({ params, body, tenant, res }) => {
        // Merged onto the row the write locks, and checked there: a concurrent PATCH of another key is kept.
        const updated = await updateIntegration(db, deps.cipher, tenant.id, params.id, (current) => {
          const settings = body.settings && mergeMember(settingsSchema, current.settings, body.settings, 'settings');
          const change = {
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.type !== undefined ? { type: body.type } : {}),
            ...(body.credentials !== undefined ? { credentials: body.credentials } : {}),
            ...(settings ? { settings } : {}),
            ...(body.connector ? { connector: mergeMember(connectorSchema, current.connector, upgradeConnectorPatch(body.connector, current.connector), 'connector') } : {}),
            ...(body.mappings ? { mappings: mergeMember(mappingsSchema, current.mappings, body.mappings, 'mappings') } : {}),
          };
          checkDefinition(
            {
              type: change.type ?? current.type,
              connector: change.connector ?? connectorOf(current),
              mappings: change.mappings ?? current.mappings,
              settings: change.settings ?? current.settings,
            },
            settings,
          );
          return change;
        });
        if (!updated) throw ApiError.notFound('integration', params.id);
        await workflows.syncSchedules(updated.after, updated.before);
        res.json(integrationView(updated.after));
      },
    )
    .endpoint(
      'delete',
      '/v1/integrations/:id',
      { operationId: 'deleteErpIntegration', summary: 'Delete an ERP integration, its schedules, runs and dead letters', params: idParams, responses: { 204: { description: 'Deleted' } } },
      async ({ params, tenant, res }) => {
        const current = await findOwned(tenant.id, params.id);
        // Its schedules and running workflows go first: a run left going would retry against nothing.
        await workflows.stop(current, await runningRunWorkflowIds(db, current.id));
        await deleteIntegration(db, current);
        res.status(204).end();
      },
    )
    .endpoint(
      'post',
      '/v1/integrations/:id/pause',
      { operationId: 'pauseErpIntegration', summary: 'Pause the scheduled polling of an integration', params: idParams, responses: { 200: { description: 'Paused', schema: integrationOut } } },
      async ({ params, tenant, res }) => {
        const current = await findOwned(tenant.id, params.id);
        const reason = 'paused through the API';
        const row = await pauseIntegration(db, current, reason);
        await workflows.pauseSchedules(current, reason);
        res.json(integrationView(row));
      },
    )
    .endpoint(
      'post',
      '/v1/integrations/:id/resume',
      { operationId: 'resumeErpIntegration', summary: 'Resume scheduled polling (also after an automatic pause) and clear the failure streak', params: idParams, responses: { 200: { description: 'Resumed', schema: integrationOut } } },
      async ({ params, tenant, res }) => {
        const current = await findOwned(tenant.id, params.id);
        const row = await resumeIntegration(db, current);
        await workflows.resumeSchedules(current);
        res.json(integrationView(row));
      },
    )
    .endpoint(
      'post',
      '/v1/integrations/:id/test-connection',
      {
        operationId: 'testErpIntegration',
        summary: 'Fetch the first page of the first stream: checks URL, credentials and record path, lists the source fields',
        description: `Runs as a Temporal workflow on the erp queue; waits up to ${TEST_WAIT_MS / 1000}s, else answers status "running". Every call runs a new test, also when it reuses an X-Request-Id.`,
        params: idParams,
        responses: { 200: { description: 'Result of the check', schema: testOut } },
      },
      async ({ params, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        requireIntegrationKey(deps.cipher, integration);
        const handle = await workflows.startConnectionTest(integration, newId('tst'));
        const outcome = await resultWithin<z.infer<typeof testOut>>(handle, TEST_WAIT_MS);
        res.json(outcome ? { ...outcome, status: 'completed', workflowId: handle.workflowId } : { ok: false, status: 'running', workflowId: handle.workflowId });
      },
    )
    .endpoint(
      'post',
      '/v1/integrations/:id/sync',
      {
        operationId: 'syncErpEntity',
        summary: 'Start a sync of one entity now; returns the run id (follow it at /runs/{runId})',
        params: idParams,
        body: syncBody,
        responses: { 202: { description: 'Started', schema: runOut } },
      },
      async ({ params, body, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        requireIntegrationKey(deps.cipher, integration);
        if (!scheduledEntities(integration).includes(body.entity)) {
          const feeder = feedingEntity(integration.connector.streams as Record<string, unknown>, body.entity);
          if (feeder && feeder !== body.entity) {
            throw new ApiError(400, 'validation_failed', `${body.entity} is read by the ${feeder} stream: sync ${feeder}`, [
              { path: 'body.entity', message: `a run of ${feeder} also writes ${body.entity} (connector.streams.${feeder}.alsoFeeds)` },
            ]);
          }
          throw new ApiError(400, 'validation_failed', `integration has no mapped stream for ${body.entity}`, [{ path: 'body.entity', message: 'not mapped or no connector stream' }]);
        }
        const runId = newId('erun');
        const wfId = workflowId.erpRun(integration.id, body.entity, runId);
        const run = await createRun(db, integration, { runId, entity: body.entity, mode: body.mode, trigger: 'api', workflowId: wfId });
        const input: ErpPollInput = { tenantId: tenant.id, integrationId: integration.id, entity: body.entity, mode: body.mode, trigger: 'api', runId };
        await workflows.startSync(integration, input, wfId);
        res.status(202).json(runView(run));
      },
    )
    .endpoint(
      'put',
      '/v1/integrations/:id/files/:entity',
      {
        operationId: 'uploadErpFile',
        summary: 'Upload the CSV file of an entity (read by a CSV stream with `upload: true`); the newest upload is the one synced',
        description:
          `The raw file is the body, streamed to storage (never held whole in memory); at most ${maxUploadBytes} bytes (413 beyond). ` +
          'The tenant keeps at most TENANT_MAX_UPLOAD_BYTES of uploads (422 quota_exceeded, nothing stored) and sends at most ' +
          'TENANT_MAX_CONCURRENT_UPLOADS at once (429 quota_exceeded with Retry-After).',
        params: uploadParams,
        streamBody: { contentTypes: UPLOAD_TYPES, description: 'The CSV file as it is (any supported encoding and dialect).' },
        responses: {
          201: { description: 'Stored', schema: uploadOut },
          413: { description: 'The file is too large' },
          415: { description: 'Not a CSV body (text/csv or application/octet-stream)' },
          422: { description: 'quota_exceeded: the file does not fit in TENANT_MAX_UPLOAD_BYTES' },
          429: { description: 'quota_exceeded: TENANT_MAX_CONCURRENT_UPLOADS uploads of the tenant are in progress' },
        },
      },
      async ({ params, tenant, req, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        if (!readsUploads(integration, params.entity)) {
          throw new ApiError(400, 'validation_failed', `the connector's ${params.entity} stream does not read uploaded files`, [
            { path: 'params.entity', message: `set connector.streams.${params.entity}.upload to true to sync uploaded files` },
          ]);
        }
        const declaredBytes = Number(req.headers['content-length'] ?? 0);
        if (declaredBytes > maxUploadBytes) throw tooLarge();
        try {
          const stored = await storeUpload(
            db,
            { tenantId: tenant.id, integrationId: integration.id, entity: params.entity, contentType: req.get('content-type') ?? '' },
            req,
            maxUploadBytes,
            { maxBytes: quotas.upload_bytes, maxConcurrent: quotas.concurrent_uploads },
            Number.isSafeInteger(declaredBytes) ? declaredBytes : 0,
          );
          res.status(201).json({ id: stored.id, object: 'integration_file', integrationId: integration.id, entity: params.entity, size: stored.size });
        } catch (err) {
          if (err instanceof UploadTooLargeError) {
            // Stop reading: the rest of an oversized body is not wanted.
            res.set('Connection', 'close');
            throw tooLarge();
          }
          if (err instanceof QuotaExceededError) {
            res.set('Connection', 'close');
            throw quotaRefusal(err);
          }
          throw err;
        }
      },
    )
    .endpoint(
      'get',
      '/v1/integrations/:id/runs',
      {
        operationId: 'listErpRuns',
        summary: 'Runs of an integration, newest first, a page at a time',
        description: 'Page with `cursor` (`hasMore`, `nextCursor`); nothing is cut off silently.',
        params: idParams,
        query: z.strictObject(pageQuery(20, 100)),
        responses: { 200: { description: 'A page of runs', schema: pageOut(runOut) } },
      },
      async ({ params, query, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        res.json(await answerPage(listRuns(db, integration.id, query), runView));
      },
    )
    .endpoint(
      'get',
      '/v1/integrations/:id/runs/:runId',
      { operationId: 'getErpRun', summary: 'One run: status, counts, checkpoint and errors (live while it runs)', params: runParams, responses: { 200: { description: 'The run', schema: runOut } } },
      async ({ params, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        const row = await findRun(db, integration.id, params.runId);
        if (!row) throw ApiError.notFound('run', params.runId);
        res.json(runView(row));
      },
    )
    .endpoint(
      'get',
      '/v1/integrations/:id/dead-letters',
      {
        operationId: 'listDeadLetters',
        summary: 'Rows that did not map or validate, with the raw row and the errors, oldest first, a page at a time',
        description:
          '`open` until replayed (`replayed`), dismissed (`dismissed`) or closed by a later run that applied a valid record with the same natural key (`resolved`, with `closedAt` and `resolvedByRunId`). ' +
          'Page with `cursor` (`hasMore`, `nextCursor`); nothing is cut off silently.',
        params: idParams,
        query: z.strictObject({ status: z.enum(DEAD_LETTER_STATUSES).default('open'), ...pageQuery(100, 500) }),
        responses: { 200: { description: 'A page of dead letters', schema: pageOut(deadLetterOut) } },
      },
      async ({ params, query, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        res.json(await answerPage(listDeadLetters(db, integration.id, query.status, query), deadLetterView));
      },
    )
    .endpoint(
      'post',
      '/v1/integrations/:id/dead-letters/:deadLetterId/dismiss',
      {
        operationId: 'dismissDeadLetter',
        summary: 'Dismiss an open dead letter: it is no longer open and no replay takes it (audited)',
        description: 'Idempotent: dismissing a dismissed dead letter answers it unchanged. A replayed or resolved one is a 409.',
        params: z.object({ id: z.string().min(1), deadLetterId: z.string().min(1).max(64) }),
        body: dismissBody,
        responses: {
          200: { description: 'The dismissed dead letter', schema: deadLetterOut },
          409: { description: 'conflict: the dead letter was replayed or resolved already' },
        },
      },
      async ({ params, body, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        const row = await dismissDeadLetter(db, byKey(tenant), integration.id, params.deadLetterId, body.reason).catch((err: unknown) => {
          throw err instanceof DeadLetterClosedError ? new ApiError(409, 'conflict', err.message) : err;
        });
        if (!row) throw ApiError.notFound('dead letter', params.deadLetterId);
        res.json(deadLetterView(row));
      },
    )
    .endpoint(
      'post',
      '/v1/integrations/:id/dead-letters/replay',
      {
        operationId: 'replayDeadLetters',
        summary: 'Map open dead letters again with the current mapping in a workflow; the ones that now pass are upserted (follow it at /dead-letters/replays/{replayId})',
        params: idParams,
        body: replayBody,
        responses: { 202: { description: 'Started', schema: replayOut } },
      },
      async ({ params, body, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        const replayId = newId('dlr');
        const input: ErpDeadLetterReplayInput = { tenantId: tenant.id, integrationId: integration.id, replayId, ...(body.ids ? { ids: body.ids } : {}) };
        const handle = await workflows.startDeadLetterReplay(integration, input);
        res.status(202).json({ replayId, workflowId: handle.workflowId, runId: handle.firstExecutionRunId, status: 'running', result: null, error: null });
      },
    )
    .endpoint(
      'get',
      '/v1/integrations/:id/dead-letters/replays/:replayId',
      {
        operationId: 'getDeadLetterReplay',
        summary: 'One dead-letter replay: running, or its outcome (kept as long as Temporal retains the run)',
        params: replayParams,
        responses: { 200: { description: 'The replay', schema: replayOut } },
      },
      async ({ params, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        const state = await workflows.replayState(integration, params.replayId);
        if (!state) throw ApiError.notFound('replay', params.replayId);
        res.json({ replayId: params.replayId, ...state });
      },
    );
}
