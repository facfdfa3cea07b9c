import { z } from 'zod';
import { newId } from '../../db/ids.js';
import { connectionHealthView } from '../../stores/payments/connection-health-store.js';
import { DEFAULT_CIRCUIT_CONFIG } from '../../domain/circuit-breaker.js';
import { FailureType } from '../../domain/failures.js';
import { TenantIdAttr } from '../../shared/search-attributes.js';
import { workflowId } from '../../shared/workflow-ids.js';
import { startWorkflow } from '../../temporal/start-workflow.js';
import { UnknownProviderError } from '../../providers/registry.js';
import type { Credentials } from '../../providers/types.js';
import type { AppDeps } from '../deps.js';
import { ResourceRouter, issuesToDetails } from '../endpoint.js';
import { resultWithin } from '../await-workflow.js';
import { checkConnectionSettings } from '../connection-settings.js';
import { customerSyncSettingsOf } from '../../domain/customers/sync-settings.js';
import { applyCustomerSyncSchedule } from '../../temporal/customers/customer-reconcile-schedule.js';
import { stopCustomerReconcile } from '../../temporal/customers/stop-customer-reconcile.js';
import { ApiError, requireCredentialsKey } from '../errors.js';
import { mergeMember, mergePatchOf } from '../merge-patch-body.js';
import { quotaRefusal } from '../quota-refusals.js';
import { tenantPriority } from '../../shared/fairness.js';
import { byKey } from '../../stores/platform/audit-event-store.js';
import {
  ConnectionCodeTakenError,
  ConnectionNotFoundError,
  connectionView,
  createConnection,
  deleteConnection,
  findConnection,
  listConnections,
  updateConnection,
  type ConnectionRow,
} from '../../stores/platform/connection-store.js';
import { DEFAULT_TENANT_QUOTAS, QuotaExceededError } from '../../stores/platform/quota-store.js';

const code = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, "_" or "-", at most 63 characters')
  .meta({ description: 'Unique per tenant; used in routing rules and logs (e.g. stripe-eu)' });
const credentials = z
  .record(z.string(), z.string().min(1))
  .refine((c) => Object.keys(c).length > 0, 'must contain at least one field')
  .meta({ description: 'Write-only. Encrypted at rest (AES-256-GCM); never returned.', writeOnly: true, minProperties: 1 });
const settings = z
  .record(z.string(), z.unknown())
  .meta({ description: 'Non-secret provider settings (e.g. baseUrl of a sandbox), checked against the URL policy' });
const metadata = z
  .record(z.string().max(40), z.string().max(500))
  .refine((m) => Object.keys(m).length <= 50, 'at most 50 keys')
  .meta({ maxProperties: 50 });
const status = z.enum(['active', 'disabled']);

const createBody = z
  .strictObject({
    provider: z.string().min(1).meta({ description: 'Provider type, e.g. stripe or a declarative provider name' }),
    code,
    name: z.string().trim().min(1).max(200),
    credentials,
    settings: settings.optional(),
    metadata: metadata.optional(),
    status: status.optional(),
  })
  .meta({
    examples: [
      {
        provider: 'stripe',
        code: 'stripe-eu',
        name: 'Stripe EU',
        credentials: { secretKey: 'sk_test_51Hx...', webhookSecret: 'whsec_5f0c8e7a2b9d4c1e' },
        metadata: { team: 'payments-eu' },
      },
    ],
  });
const patchBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    credentials: credentials.optional().meta({ description: 'Write-only; replaces the stored credentials as a whole (they are never read back, so they cannot be merged).', writeOnly: true, minProperties: 1 }),
    settings: mergePatchOf(z.unknown(), 'the settings').optional(),
    metadata: mergePatchOf(z.string().max(500), 'the metadata').optional(),
    status: status.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'at least one field to change is required')
  .meta({
    description: 'A JSON Merge Patch (RFC 7396): what is not sent stays as it is.',
    examples: [{ name: 'Stripe EU (live)', status: 'disabled' }, { settings: { baseUrl: 'https://sandbox.gateway.example/v2' }, metadata: { team: null } }],
  });
const idParams = z.object({ id: z.string().min(1) });
const listQuery = z.strictObject({ provider: z.string().optional(), status: status.optional() });

export const connectionOut = z.object({
  id: z.string(),
  object: z.literal('connection'),
  provider: z.string(),
  code: z.string(),
  name: z.string(),
  status,
  settings: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.string()),
  credentials: z.object({
    version: z.number().int().positive().meta({ description: 'Increments whenever the credentials are replaced' }),
    keyId: z.string().meta({ description: 'Id of the encryption key that sealed them (for rotation)' }),
  }),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({
  id: 'Connection',
  examples: [
    {
      id: 'con_7m4k2x9q1v8t3n6p5r0w',
      object: 'connection',
      provider: 'stripe',
      code: 'stripe-eu',
      name: 'Stripe EU',
      status: 'active',
      settings: {},
      metadata: { team: 'payments-eu' },
      credentials: { version: 1, keyId: 'k2026' },
      createdAt: '2026-12-07T10:15:30.000Z',
      updatedAt: '2026-12-07T10:15:30.000Z',
    },
  ],
});

const testOut = z.object({
  connectionId: z.string(),
  ok: z.boolean().optional(),
  status: z.enum(['completed', 'running']),
  account: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  workflowId: z.string(),
  runId: z.string(),
}).meta({
  id: 'ConnectionTest',
  examples: [
    {
      connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
      status: 'completed',
      ok: true,
      account: 'acct_1Hx7Lk2eZvKYlo2C',
      workflowId: 'connection-test-con_7m4k2x9q1v8t3n6p5r0w-tst_5n2k8m4q7x1v9t3p6r0w',
      runId: '0193a1f2-7c4e-7d2b-9f1a-3e5c7b9d2f40',
    },
  ],
});

/** The connection store's refusals as HTTP answers. */
function refusal(err: unknown): never {
  if (err instanceof ConnectionNotFoundError) throw ApiError.notFound('connection', err.connectionId);
  if (err instanceof ConnectionCodeTakenError) throw new ApiError(409, 'conflict', err.message);
  if (err instanceof QuotaExceededError) throw quotaRefusal(err);
  throw err;
}

/** The store's ConnectionHealthView (the data of connection events too), as a schema. */
export const connectionHealthOut = z.object({
  connectionId: z.string(),
  health: z.enum(['healthy', 'unhealthy', 'unknown']),
  lastCheck: z
    .object({ at: z.string(), latencyMs: z.number().nullable(), detail: z.string().nullable(), consecutiveFailures: z.number() })
    .nullable(),
  circuit: z.object({
    state: z.enum(['closed', 'open', 'half_open']),
    openedAt: z.string().nullable(),
    window: z.object({ calls: z.number(), failures: z.number(), failureRate: z.number(), windowMs: z.number() }),
  }),
}).meta({
  id: 'ConnectionHealth',
  examples: [
    {
      connectionId: 'con_7m4k2x9q1v8t3n6p5r0w',
      health: 'healthy',
      lastCheck: { at: '2026-12-07T10:15:30.000Z', latencyMs: 182, detail: null, consecutiveFailures: 0 },
      circuit: { state: 'closed', openedAt: null, window: { calls: 240, failures: 3, failureRate: 0.0125, windowMs: 60000 } },
    },
  ],
});

const TEST_WAIT_MS = 30_000;

export function connectionsRouter(deps: AppDeps, r: ResourceRouter): ResourceRouter {
  const { db } = deps.database;
  const quotas = deps.quotas ?? DEFAULT_TENANT_QUOTAS;

  /** Checks credential shape and settings against the provider before anything is stored. */
  async function checkProviderInput(tenantId: string, provider: string, creds: Credentials | undefined, sets: Record<string, unknown> | undefined) {
    let factory;
    try {
      ({ factory } = await deps.providers.resolve(tenantId, provider));
    } catch (err) {
      if (!(err instanceof UnknownProviderError)) throw err;
      throw new ApiError(400, 'validation_failed', `unknown provider "${provider}"`, [{ path: 'body.provider', message: err.message }]);
    }
    if (creds) {
      try {
        factory.validateCredentials(creds);
      } catch (err) {
        const details =
          err instanceof z.ZodError
            ? issuesToDetails(err.issues, 'body.credentials')
            : [{ path: 'body.credentials', message: err instanceof Error ? err.message : 'invalid' }];
        throw new ApiError(400, 'validation_failed', `credentials do not fit provider "${provider}"`, details);
      }
    }
    if (sets) checkConnectionSettings(sets, deps.urlPolicy);
    if (sets && customerSyncSettingsOf(sets) && !factory.customerSync) {
      throw new ApiError(400, 'validation_failed', `provider "${provider}" cannot sync customers`, [
        { path: 'body.settings.customerSync.enabled', message: 'customer sync is not available for this provider' },
      ]);
    }
  }

  /** The reconciliation Schedule follows the connection's customer sync setting (and turning it on backfills). */
  const followSyncSetting = (before: ConnectionRow | undefined, after: ConnectionRow | undefined) =>
    applyCustomerSyncSchedule(deps.temporal, deps.taskQueues.customers, before, after);

  async function findOwned(tenantId: string, id: string): Promise<ConnectionRow> {
    const row = await findConnection(db, tenantId, id);
    // Another tenant's connection is indistinguishable from a missing one.
    if (!row) throw ApiError.notFound('connection', id);
    return row;
  }

  return r
    .endpoint(
      'post',
      '/v1/connections',
      {
        operationId: 'createConnection',
        summary: 'Create a connection (a tenant account at a provider) with encrypted credentials',
        body: createBody,
        responses: {
          201: { description: 'Created', schema: connectionOut },
          422: { description: 'quota_exceeded: the tenant has TENANT_MAX_CONNECTIONS connections' },
        },
      },
      async ({ body, tenant, res }) => {
        await checkProviderInput(tenant.id, body.provider, body.credentials, body.settings);
        const row = await createConnection(db, deps.cipher, quotas, byKey(tenant), body).catch(refusal);
        await followSyncSetting(undefined, row);
        res.status(201).json(connectionView(row));
      },
    )
    .endpoint(
      'get',
      '/v1/connections',
      {
        operationId: 'listConnections',
        summary: "List the tenant's connections",
        query: listQuery,
        responses: { 200: { description: 'Connections', schema: z.object({ data: z.array(connectionOut) }) } },
      },
      async ({ query, tenant, res }) => {
        const rows = await listConnections(db, tenant.id, query);
        res.json({ data: rows.map(connectionView) });
      },
    )
    .endpoint(
      'get',
      '/v1/connections/:id',
      { operationId: 'getConnection', summary: 'Get a connection', params: idParams, responses: { 200: { description: 'The connection', schema: connectionOut } } },
      async ({ params, tenant, res }) => {
        res.json(connectionView(await findOwned(tenant.id, params.id)));
      },
    )
    .endpoint(
      'patch',
      '/v1/connections/:id',
      {
        operationId: 'updateConnection',
        summary: 'Update a connection (JSON Merge Patch); new credentials replace the old ones entirely',
        description:
          '`settings` and `metadata` are merged into the stored ones per RFC 7396 (`null` removes a key, objects merge, arrays replace) and the result is validated as on create. ' +
          'Running workers use the new settings from their next call. Accepts `application/json` and `application/merge-patch+json`.',
        params: idParams,
        body: patchBody,
        responses: { 200: { description: 'Updated', schema: connectionOut } },
      },
      async ({ params, body, tenant, res }) => {
        const current = await findOwned(tenant.id, params.id);
        const { settings: settingsPatch, metadata: metadataPatch, ...plain } = body;
        // Checked against the current row before the write, and merged again onto the row the write locks.
        const merge = (row: ConnectionRow) => ({
          ...(settingsPatch ? { settings: mergeMember(settings, row.settings, settingsPatch, 'settings') } : {}),
          ...(metadataPatch ? { metadata: mergeMember(metadata, row.metadata, metadataPatch, 'metadata') } : {}),
        });
        const check = merge(current);
        await checkProviderInput(tenant.id, current.provider, body.credentials, check.settings);
        const { before, after } = await updateConnection(db, deps.cipher, byKey(tenant), current.id, { ...plain, merge }).catch(refusal);
        if (body.credentials || body.status === 'disabled') deps.providers.forget(current.id);
        if (settingsPatch !== undefined || body.status !== undefined) await followSyncSetting(before, after);
        res.json(connectionView(after));
      },
    )
    .endpoint(
      'delete',
      '/v1/connections/:id',
      { operationId: 'deleteConnection', summary: 'Delete a connection and its credentials', params: idParams, responses: { 204: { description: 'Deleted' } } },
      async ({ params, tenant, res }) => {
        const gone = await deleteConnection(db, byKey(tenant), params.id).catch(refusal);
        deps.providers.forget(params.id);
        await followSyncSetting(gone, undefined);
        // Whatever sync setting it had: a reconciliation still running would retry against nothing.
        await stopCustomerReconcile(deps.temporal, gone.id);
        res.status(204).end();
      },
    )
    .endpoint(
      'get',
      '/v1/connections/:id/health',
      {
        operationId: 'getConnectionHealth',
        summary: 'Health checks and circuit breaker state of a connection (both feed routing)',
        params: idParams,
        responses: { 200: { description: 'Health', schema: connectionHealthOut } },
      },
      async ({ params, tenant, res }) => {
        const conn = await findOwned(tenant.id, params.id);
        requireCredentialsKey(deps.cipher, conn);
        const circuitConfig = deps.circuit ?? DEFAULT_CIRCUIT_CONFIG;
        const health: z.infer<typeof connectionHealthOut> = await connectionHealthView(db, conn.id, Date.now(), circuitConfig);
        res.json(health);
      },
    )
    .endpoint(
      'post',
      '/v1/connections/:id/test',
      {
        operationId: 'testConnection',
        summary: 'Check the credentials against the provider (runs as a Temporal workflow)',
        description: `Waits up to ${TEST_WAIT_MS / 1000}s for the result; otherwise answers status "running" with the workflow id to look up in the Temporal UI. A destination the egress guard refuses (private or internal address) is a 422 destination_blocked. Every call runs a new test, also when it reuses an X-Request-Id.`,
        params: idParams,
        responses: { 200: { description: 'Result of the check', schema: testOut } },
      },
      async ({ params, tenant, res }) => {
        const conn = await findOwned(tenant.id, params.id);
        requireCredentialsKey(deps.cipher, conn);
        // Each request is a new test (the provider's state now): its id is made here, never taken from
        // X-Request-Id, which a client may reuse (it would name a run that is still going).
        const handle = await startWorkflow(deps.temporal, 'connectionTestWorkflow', {
          taskQueue: deps.taskQueues.connections,
          workflowId: workflowId.connectionTest(conn.id, newId('tst')),
          args: [{ tenantId: tenant.id, connectionId: conn.id }],
          typedSearchAttributes: [{ key: TenantIdAttr, value: tenant.id }],
          priority: tenantPriority(tenant.id),
          workflowExecutionTimeout: '5 minutes',
        });
        const base = { connectionId: conn.id, workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
        const outcome = await resultWithin<{ ok: boolean; account?: string; code?: string; message?: string }>(handle, TEST_WAIT_MS);
        if (!outcome) return void res.json({ ...base, status: 'running' });
        if (!outcome.ok && outcome.code === FailureType.DestinationBlocked) {
          throw new ApiError(422, 'destination_blocked', outcome.message!, [{ path: 'connection', message: `workflow ${handle.workflowId}` }]);
        }
        res.json({
          ...base,
          status: 'completed',
          ok: outcome.ok,
          ...(outcome.ok ? { account: outcome.account } : { error: { code: outcome.code!, message: outcome.message! } }),
        });
      },
    );
}
