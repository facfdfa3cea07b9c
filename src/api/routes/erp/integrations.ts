/**
 * ERP integrations of a tenant: CRUD (validated on save, with the path of every problem), manual
 * syncs and their runs, pause/resume of the schedules, dead letters and their replay.
 */
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { and, asc, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { newId } from '../../../db/ids.js';
import { erpDeadLetters, erpIntegrations, erpRuns } from '../../../db/tables/erp.js';
import { ERP_ENTITIES, type ErpEntity } from '../../../domain/erp/entities.js';
import { mappingsSchema } from '../../../domain/erp/mapping.js';
import { connectorSchema, type ErpConnector } from '../../../providers/erp/connector-definition.js';
import { checkOutboundUrl, OutboundUrlError } from '../../../providers/url-policy.js';
import { renderString, TemplateError } from '../../../domain/template.js';
import { ZERO_COUNTS } from '../../../activities/erp/apply-records.js';
import { requireIntegrationKey, sealIntegrationCredentials, type IntegrationRow } from '../../../activities/erp/integration-store.js';
import { storeUpload, UploadQuotaError, UploadTooLargeError } from '../../../activities/erp/upload-store.js';
import type { ErpDeadLetterReplayInput, ErpPollInput } from '../../../shared/erp-messages.js';
import type { Workflows } from '../../../shared/workflow-types.js';
import { integrationSearchAttributes } from '../../../shared/search-attributes.js';
import { workflowId } from '../../../shared/workflow-ids.js';
import { changeErpSchedules, stopErpIntegration } from '../../../temporal/erp/erp-schedule-changes.js';
import { ensureErpSchedules } from '../../../temporal/erp/erp-schedules.js';
import { startWorkflow } from '../../../temporal/start-workflow.js';
import type { AppDeps } from '../../deps.js';
import { checkConnectionSettings } from '../../connection-settings.js';
import type { ResourceRouter } from '../../endpoint.js';
import { ApiError } from '../../errors.js';
import { checkPollInterval, quotaExceeded, requireRoom } from '../../quota-refusals.js';
import { DEFAULT_TENANT_QUOTAS } from '../../../stores/platform/quota-store.js';
import { resultWithin } from '../../await-workflow.js';
import { tenantPriority } from '../../../shared/fairness.js';
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
    connector: connectorSchema.optional(),
    credentials: credentials.optional(),
    settings: settingsSchema.optional(),
    mappings: mappingsSchema.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'at least one field to change is required')
  .meta({ examples: [{ settings: { intervalSeconds: 900, pauseAfterFailures: 5, baseUrl: 'https://erp.example.com/api' } }] });

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

const integrationOut = z.object({
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
  .object({ read: count, valid: count, invalid: count, upserted: count, unchanged: count })
  .meta({ id: 'ErpRecordCounts', description: 'Records read, valid, invalid (dead-lettered), upserted and unchanged' });
const runOut = z.object({
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
const deadLetterOut = z.object({
  id: z.string(),
  runId: z.string(),
  entity: z.string(),
  status: z.enum(['open', 'replayed']),
  raw: z.unknown(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })),
  createdAt: z.string(),
}).meta({ id: 'DeadLetter', examples: [DEAD_LETTER_EXAMPLE] });
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

export function presentIntegration(row: IntegrationRow): z.infer<typeof integrationOut> {
  return {
    id: row.id,
    object: 'integration',
    name: row.name,
    type: row.type,
    status: row.status,
    pausedReason: row.pausedReason,
    consecutiveFailures: row.consecutiveFailures,
    connector: row.connector,
    settings: row.settings,
    mappings: row.mappings,
    watermarks: row.watermarks,
    hasCredentials: row.credentialsCiphertext !== null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function presentRun(row: typeof erpRuns.$inferSelect): z.infer<typeof runOut> {
  return {
    id: row.id,
    object: 'integration_run',
    integrationId: row.integrationId,
    entity: row.entity,
    mode: row.mode,
    trigger: row.trigger,
    status: row.status,
    counts: row.counts,
    checkpoint: row.checkpoint as unknown as Record<string, unknown>,
    errors: row.errors,
    workflowId: row.workflowId,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    durationMs: (row.finishedAt ?? new Date()).getTime() - row.startedAt.getTime(),
  };
}

/** Entities a polling integration schedules: mapped and served by a connector stream. */
function scheduledEntities(row: Pick<IntegrationRow, 'type' | 'connector' | 'mappings'>): ErpEntity[] {
  if (row.type === 'webhook') return [];
  const streams = (row.connector as { streams?: Record<string, unknown> }).streams ?? {};
  return ERP_ENTITIES.filter((e) => (row.mappings as Record<string, unknown>)[e] !== undefined && streams[e] !== undefined);
}

/** A polling integration needs a stream for each mapped entity. */
function checkStreamsCoverMappings(type: string, connector: { streams: Record<string, unknown> }, mappings: Record<string, unknown>): void {
  if (type === 'webhook') return;
  const missing = Object.keys(mappings).filter((e) => mappings[e] !== undefined && connector.streams[e] === undefined);
  if (missing.length > 0) {
    throw new ApiError(
      400,
      'validation_failed',
      'mapped entities need a connector stream',
      missing.map((e) => ({ path: `body.connector.streams.${e}`, message: `'${e}' is mapped but the connector has no stream for it` })),
    );
  }
}

/**
 * URLs the connector will call, checked against the outbound policy at save time as far as they can
 * be rendered without credentials (the worker checks every URL again before it connects).
 */
function checkConnectorUrls(connector: ErpConnector, settings: Record<string, unknown>, policy: AppDeps['urlPolicy']): void {
  const urls: [string, string][] = [];
  if (connector.baseUrl) urls.push(['body.connector.baseUrl', connector.baseUrl]);
  if (connector.type === 'csv') {
    for (const [entity, stream] of Object.entries(connector.streams)) {
      if (stream?.url && !stream.url.startsWith('/')) urls.push([`body.connector.streams.${entity}.url`, stream.url]);
    }
  }
  for (const [path, template] of urls) {
    let url: string;
    try {
      url = renderString(template, { settings, credentials: {} });
    } catch (err) {
      if (err instanceof TemplateError && err.variable?.startsWith('credentials')) continue;
      throw new ApiError(400, 'validation_failed', `${path} cannot be rendered`, [{ path, message: (err as Error).message }]);
    }
    try {
      checkOutboundUrl(url, policy);
    } catch (err) {
      if (!(err instanceof OutboundUrlError)) throw err;
      throw new ApiError(400, 'validation_failed', `${path} is not an allowed URL`, [{ path, message: err.message }]);
    }
  }
}

export function integrationsRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  const policy = deps.urlPolicy;
  const maxUploadBytes = deps.erpUploadMaxBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
  const quotas = deps.quotas ?? DEFAULT_TENANT_QUOTAS;
  const tooLarge = () => new ApiError(413, 'payload_too_large', `the file is larger than the limit of ${maxUploadBytes} bytes`);

  async function findOwned(tenantId: string, id: string): Promise<IntegrationRow> {
    const [row] = await db.select().from(erpIntegrations).where(and(eq(erpIntegrations.id, id), eq(erpIntegrations.tenantId, tenantId)));
    if (!row) throw ApiError.notFound('integration', id);
    return row;
  }

  async function syncSchedules(row: IntegrationRow, previous?: IntegrationRow): Promise<void> {
    const entities = scheduledEntities(row);
    const dropped = previous ? scheduledEntities(previous).filter((e) => !entities.includes(e)) : [];
    await changeErpSchedules(deps.temporal, row.id, dropped, { op: 'delete' });
    await ensureErpSchedules(deps.temporal, {
      tenantId: row.tenantId,
      integrationId: row.id,
      entities,
      // An integration saved before the minimum was raised polls at the minimum from its next change on.
      intervalSeconds: Math.max(Number((row.settings as { intervalSeconds?: number }).intervalSeconds ?? 300), quotas.erp_min_poll_interval_seconds),
      taskQueue: deps.taskQueues.erp,
      paused: row.status === 'paused',
      ...(row.pausedReason ? { note: row.pausedReason } : {}),
    });
  }

  return r
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
        checkStreamsCoverMappings(body.type, body.connector, body.mappings);
        checkConnectionSettings(body.settings, policy);
        checkPollInterval(quotas, body.settings.intervalSeconds);
        checkConnectorUrls(body.connector, body.settings, policy);
        const id = newId('int');
        const row = await db.transaction(async (tx) => {
          await requireRoom(tx, quotas, tenant.id, 'erp_integrations');
          const [created] = await tx
            .insert(erpIntegrations)
            .values({
              id,
              tenantId: tenant.id,
              name: body.name,
              type: body.type,
              connector: body.connector as unknown as Record<string, unknown>,
              settings: body.settings,
              mappings: body.mappings as Record<string, unknown>,
              ...(body.credentials ? sealIntegrationCredentials(deps.cipher, body.credentials, tenant.id, id) : {}),
            })
            .returning();
          return created;
        });
        await syncSchedules(row!);
        res.status(201).json(presentIntegration(row!));
      },
    )
    .endpoint(
      'get',
      '/v1/integrations',
      { operationId: 'listErpIntegrations', summary: "List the tenant's ERP integrations", responses: { 200: { description: 'Integrations', schema: z.object({ data: z.array(integrationOut) }) } } },
      async ({ tenant, res }) => {
        const rows = await db.select().from(erpIntegrations).where(eq(erpIntegrations.tenantId, tenant.id)).orderBy(asc(erpIntegrations.createdAt), asc(erpIntegrations.id));
        res.json({ data: rows.map(presentIntegration) });
      },
    )
    .endpoint(
      'get',
      '/v1/integrations/:id',
      { operationId: 'getErpIntegration', summary: 'Get an ERP integration', params: idParams, responses: { 200: { description: 'The integration', schema: integrationOut } } },
      async ({ params, tenant, res }) => {
        res.json(presentIntegration(await findOwned(tenant.id, params.id)));
      },
    )
    .endpoint(
      'patch',
      '/v1/integrations/:id',
      { operationId: 'updateErpIntegration', summary: 'Update an ERP integration; new credentials replace the old ones', params: idParams, body: patchBody, responses: { 200: { description: 'Updated', schema: integrationOut } } },
      async ({ params, body, tenant, res }) => {
        const current = await findOwned(tenant.id, params.id);
        const type = body.type ?? current.type;
        const connector = body.connector ?? connectorSchema.parse(current.connector);
        const mappings = (body.mappings ?? current.mappings) as Record<string, unknown>;
        checkStreamsCoverMappings(type, connector, mappings);
        if (body.settings) checkConnectionSettings(body.settings, policy);
        checkPollInterval(quotas, body.settings?.intervalSeconds);
        checkConnectorUrls(connector, body.settings ?? current.settings, policy);
        const [row] = await db
          .update(erpIntegrations)
          .set({
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.type !== undefined ? { type: body.type } : {}),
            ...(body.connector !== undefined ? { connector: body.connector as unknown as Record<string, unknown> } : {}),
            ...(body.settings !== undefined ? { settings: body.settings } : {}),
            ...(body.mappings !== undefined ? { mappings: body.mappings as Record<string, unknown> } : {}),
            ...(body.credentials ? sealIntegrationCredentials(deps.cipher, body.credentials, tenant.id, current.id) : {}),
            updatedAt: new Date(),
          })
          .where(and(eq(erpIntegrations.id, current.id), eq(erpIntegrations.tenantId, tenant.id)))
          .returning();
        await syncSchedules(row!, current);
        res.json(presentIntegration(row!));
      },
    )
    .endpoint(
      'delete',
      '/v1/integrations/:id',
      { operationId: 'deleteErpIntegration', summary: 'Delete an ERP integration, its schedules, runs and dead letters', params: idParams, responses: { 204: { description: 'Deleted' } } },
      async ({ params, tenant, res }) => {
        const current = await findOwned(tenant.id, params.id);
        // Its schedules and running workflows go first: a run left going would retry against nothing.
        const running = await db
          .select({ workflowId: erpRuns.workflowId })
          .from(erpRuns)
          .where(and(eq(erpRuns.integrationId, current.id), eq(erpRuns.status, 'running')));
        await stopErpIntegration(deps.temporal, current.id, running.map((r) => r.workflowId));
        await db.delete(erpIntegrations).where(and(eq(erpIntegrations.id, current.id), eq(erpIntegrations.tenantId, tenant.id)));
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
        const [row] = await db.update(erpIntegrations).set({ status: 'paused', pausedReason: reason, updatedAt: new Date() }).where(eq(erpIntegrations.id, current.id)).returning();
        await changeErpSchedules(deps.temporal, current.id, [...ERP_ENTITIES], { op: 'pause', note: reason });
        res.json(presentIntegration(row!));
      },
    )
    .endpoint(
      'post',
      '/v1/integrations/:id/resume',
      { operationId: 'resumeErpIntegration', summary: 'Resume scheduled polling (also after an automatic pause) and clear the failure streak', params: idParams, responses: { 200: { description: 'Resumed', schema: integrationOut } } },
      async ({ params, tenant, res }) => {
        const current = await findOwned(tenant.id, params.id);
        const [row] = await db
          .update(erpIntegrations)
          .set({ status: 'active', pausedReason: null, consecutiveFailures: 0, updatedAt: new Date() })
          .where(eq(erpIntegrations.id, current.id))
          .returning();
        await changeErpSchedules(deps.temporal, current.id, [...ERP_ENTITIES], { op: 'resume' });
        res.json(presentIntegration(row!));
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
        // A new test per request, as for connections: X-Request-Id is the caller's and may be reused.
        const handle = await startWorkflow(deps.temporal, 'erpConnectionTestWorkflow', {
          taskQueue: deps.taskQueues.erp,
          workflowId: workflowId.erpConnectionTest(integration.id, newId('tst')),
          args: [{ tenantId: tenant.id, integrationId: integration.id }],
          typedSearchAttributes: integrationSearchAttributes(tenant.id, integration.id),
          priority: tenantPriority(tenant.id),
          workflowExecutionTimeout: '5 minutes',
        });
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
          throw new ApiError(400, 'validation_failed', `integration has no mapped stream for ${body.entity}`, [{ path: 'body.entity', message: 'not mapped or no connector stream' }]);
        }
        const runId = newId('erun');
        const wfId = workflowId.erpRun(integration.id, body.entity, runId);
        const [run] = await db
          .insert(erpRuns)
          .values({
            id: runId,
            tenantId: tenant.id,
            integrationId: integration.id,
            entity: body.entity,
            mode: body.mode,
            trigger: 'api',
            workflowId: wfId,
            counts: ZERO_COUNTS,
            checkpoint: { next: null, pages: 0, done: false },
            since: body.mode === 'incremental' ? (integration.watermarks[body.entity] ?? null) : null,
          })
          .returning();
        const input: ErpPollInput = { tenantId: tenant.id, integrationId: integration.id, entity: body.entity, mode: body.mode, trigger: 'api', runId };
        await startWorkflow(deps.temporal, 'erpPollWorkflow', {
          taskQueue: deps.taskQueues.erp,
          workflowId: wfId,
          args: [input],
          typedSearchAttributes: integrationSearchAttributes(tenant.id, integration.id),
          priority: tenantPriority(tenant.id),
        });
        res.status(202).json(presentRun(run!));
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
        const stream = (connectorSchema.parse(integration.connector).streams as Record<string, { upload?: true } | undefined>)[params.entity];
        if (!stream?.upload) {
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
          if (err instanceof UploadQuotaError) {
            res.set('Connection', 'close');
            throw err.quota === 'upload_bytes'
              ? quotaExceeded('upload_bytes', err.limit, err.used, 'the file does not fit (a new version of a kept file replaces its older versions; deleting an integration frees its files)')
              : quotaExceeded('concurrent_uploads', err.limit, err.used, 'retry when one of the uploads in progress has finished');
          }
          throw err;
        }
      },
    )
    .endpoint(
      'get',
      '/v1/integrations/:id/runs',
      { operationId: 'listErpRuns', summary: 'Runs of an integration, newest first', params: idParams, responses: { 200: { description: 'Runs', schema: z.object({ data: z.array(runOut) }) } } },
      async ({ params, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        const rows = await db.select().from(erpRuns).where(eq(erpRuns.integrationId, integration.id)).orderBy(desc(erpRuns.startedAt)).limit(100);
        res.json({ data: rows.map(presentRun) });
      },
    )
    .endpoint(
      'get',
      '/v1/integrations/:id/runs/:runId',
      { operationId: 'getErpRun', summary: 'One run: status, counts, checkpoint and errors (live while it runs)', params: runParams, responses: { 200: { description: 'The run', schema: runOut } } },
      async ({ params, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        const [row] = await db.select().from(erpRuns).where(and(eq(erpRuns.id, params.runId), eq(erpRuns.integrationId, integration.id)));
        if (!row) throw ApiError.notFound('run', params.runId);
        res.json(presentRun(row));
      },
    )
    .endpoint(
      'get',
      '/v1/integrations/:id/dead-letters',
      {
        operationId: 'listDeadLetters',
        summary: 'Rows that did not map or validate, with the raw row and the errors',
        params: idParams,
        query: z.strictObject({ status: z.enum(['open', 'replayed']).default('open') }),
        responses: { 200: { description: 'Dead letters', schema: z.object({ data: z.array(deadLetterOut) }) } },
      },
      async ({ params, query, tenant, res }) => {
        const integration = await findOwned(tenant.id, params.id);
        const rows = await db
          .select()
          .from(erpDeadLetters)
          .where(and(eq(erpDeadLetters.integrationId, integration.id), eq(erpDeadLetters.status, query.status)))
          .orderBy(asc(erpDeadLetters.createdAt), asc(erpDeadLetters.id))
          .limit(500);
        res.json({
          data: rows.map((d) => ({ id: d.id, runId: d.runId, entity: d.entity, status: d.status, raw: d.raw, errors: d.errors, createdAt: d.createdAt.toISOString() })),
        });
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
        const handle = await startWorkflow(deps.temporal, 'erpDeadLetterReplayWorkflow', {
          taskQueue: deps.taskQueues.erp,
          workflowId: workflowId.erpDeadLetterReplay(integration.id, replayId),
          args: [input],
          typedSearchAttributes: integrationSearchAttributes(tenant.id, integration.id),
          priority: tenantPriority(tenant.id),
        });
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
        const handle = deps.temporal.workflow.getHandle<Workflows['erpDeadLetterReplayWorkflow']>(workflowId.erpDeadLetterReplay(integration.id, params.replayId));
        const described = await handle.describe().catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) throw ApiError.notFound('replay', params.replayId);
          throw err;
        });
        const ref = { replayId: params.replayId, workflowId: described.workflowId, runId: described.runId };
        const status = described.status.name;
        if (status === 'RUNNING') return void res.json({ ...ref, status: 'running', result: null, error: null });
        if (status === 'COMPLETED') return void res.json({ ...ref, status: 'completed', result: await handle.result(), error: null });
        const error = await handle.result().then(
          () => status.toLowerCase(),
          (err: unknown) => (err instanceof WorkflowFailedError && err.cause ? err.cause.message : String(err)),
        );
        res.json({ ...ref, status: 'failed', result: null, error });
      },
    );
}
