/**
 * Activities of ErpPollWorkflow. The run row in Postgres is the source of truth for where a run
 * stands: each page is fetched, mapped, upserted and its checkpoint stored in ONE transaction, so a
 * crash at any point resumes from the last committed page, and nothing is applied or counted twice.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { erpIntegrations, erpRuns, erpWebhookEvents, type ErpCheckpoint, type ErpRunCounts, type ErpWatermark } from '../../db/tables/erp.js';
import { DEFAULT_CIRCUIT_CONFIG, recordOutcome, storedCircuitAt, type CircuitConfig } from '../../domain/circuit-breaker.js';
import { ErpFailureType } from '../../domain/erp/erp-failures.js';
import type { FetchLike } from '../../providers/declarative/http.js';
import { TokenCache } from '../../providers/declarative/outbound-auth.js';
import {
  compareVersions,
  createErpSource,
  ErpConfigurationError,
  ErpRateLimitedError,
  ErpUnavailableError,
  type ErpSource,
  type ErpSourceLimits,
} from '../../providers/erp/index.js';
import { GatewayError, InvalidCredentialsError } from '../../providers/types.js';
import type { OutboundUrlPolicy } from '../../providers/url-policy.js';
import { refusedDestination } from '../load-gateway.js';
import { CredentialDecryptionError, type CredentialCipher } from '../../secrets/credential-cipher.js';
import { credentialFailure } from '../../secrets/credential-failure.js';
import type { ErpPollInput, ErpWebhookInput, ErpWebhookResult } from '../../shared/erp-messages.js';
import { workflowId as workflowIds } from '../../shared/workflow-ids.js';
import { changeErpSchedules } from '../../temporal/erp/erp-schedule-changes.js';
import { addCounts, ZERO_COUNTS } from '../../domain/erp/record-counts.js';
import { applyRecords, mapRecords, writeMapped } from './apply-records.js';
import { beating } from '../heartbeat.js';
import {
  connectorOf,
  DEFAULT_PAUSE_AFTER_FAILURES,
  findIntegration,
  openIntegrationCredentials,
  recordIntegrationPaused,
  storeChangedIntegrationCredentials,
  type IntegrationRow,
  type IntegrationSettings,
} from '../../stores/erp/integration-store.js';
import { openRunOnce, recordRunFinished, scheduledRunId, webhookRunId } from '../../stores/erp/run-store.js';
import { ERP_ENTITIES } from '../../domain/erp/entities.js';
import { latestUpload, readUpload } from '../../stores/erp/upload-store.js';
import { runnableMapping } from './runnable-mapping.js';
import { entitiesOfStream } from '../../providers/erp/shared-streams.js';
import { keepsRecord } from '../../providers/declarative/record-filter.js';

export interface ErpActivityDeps {
  db: Db;
  cipher: CredentialCipher;
  /** The egress path for tenant-supplied URLs (guarded fetch), injected at composition. */
  erpFetch: FetchLike;
  erpUrlPolicy: OutboundUrlPolicy;
  erpCircuit?: CircuitConfig;
  /** Record, field and page caps of ERP sources (ERP_MAX_* settings); default DEFAULT_ERP_SOURCE_LIMITS. */
  erpLimits?: ErpSourceLimits;
  now?: () => number;
}

/** A CSV stream is read on in one activity for this long (committing page by page); REST does one page per activity. */
const CSV_ACTIVITY_BUDGET_MS = 20_000;

export interface ErpConnectionTestResult {
  ok: boolean;
  entity?: string;
  records?: number;
  /** Field names of the first record. */
  fields?: string[];
  code?: string;
  message?: string;
}

export interface PageResult {
  done: boolean;
  counts: ErpRunCounts;
  pages: number;
}

/** Classifies a connector error for Temporal's retry policy; messages are our own texts (no response bodies, no secrets). */
function toFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof CredentialDecryptionError) return credentialFailure(err);
  const blocked = refusedDestination(err);
  if (blocked instanceof ApplicationFailure) return blocked;
  if (err instanceof ErpRateLimitedError) {
    return ApplicationFailure.create({ type: ErpFailureType.RateLimited, message: err.message, nextRetryDelay: err.retryAfterMs });
  }
  if (err instanceof ErpUnavailableError) return ApplicationFailure.retryable(err.message, ErpFailureType.Unavailable);
  if (err instanceof GatewayError) return ApplicationFailure.retryable(err.message, ErpFailureType.Unavailable);
  if (err instanceof InvalidCredentialsError) return ApplicationFailure.nonRetryable(err.message, ErpFailureType.CredentialsRefused);
  if (err instanceof ErpConfigurationError) return ApplicationFailure.nonRetryable(err.message, ErpFailureType.Misconfigured);
  return ApplicationFailure.nonRetryable(err instanceof Error ? err.message : String(err), ErpFailureType.Misconfigured);
}

export function createErpActivities(deps: ErpActivityDeps) {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const circuitConfig = deps.erpCircuit ?? DEFAULT_CIRCUIT_CONFIG;
  const tokenCache = new TokenCache();
  /**
   * Compiled mappings, so a run compiles its mapping once, not per page; a saved change gives a new
   * key. One that no longer compiles fails the activity as Misconfigured (not retried).
   */
  const compiled = new Map<string, ReturnType<typeof runnableMapping>>();
  function cachedMapping(integration: IntegrationRow, entity: ErpPollInput['entity']) {
    const key = `${integration.id}:${entity}:${integration.updatedAt.getTime()}`;
    if (!compiled.has(key)) {
      if (compiled.size > 1000) compiled.clear();
      compiled.set(key, runnableMapping(integration, entity));
    }
    return compiled.get(key);
  }

  async function recordCircuit(integrationId: string, ok: boolean): Promise<void> {
    await db.transaction(async (tx) => {
      const [row] = await tx.select({ circuit: erpIntegrations.circuit }).from(erpIntegrations).where(eq(erpIntegrations.id, integrationId)).for('update');
      if (!row) return;
      const next = recordOutcome(storedCircuitAt(row.circuit, now(), circuitConfig), ok, now(), circuitConfig);
      await tx.update(erpIntegrations).set({ circuit: next as unknown as Record<string, unknown> }).where(eq(erpIntegrations.id, integrationId));
    });
  }

  function sourceOf(integration: IntegrationRow): ErpSource {
    try {
      return createErpSource(connectorOf(integration), {
        tenantId: integration.tenantId,
        integrationId: integration.id,
        credentials: openIntegrationCredentials(deps.cipher, integration),
        settings: integration.settings,
        fetch: deps.erpFetch,
        urlPolicy: deps.erpUrlPolicy,
        tokenCache,
        now,
        storeCredentials: (changed) => storeChangedIntegrationCredentials(db, deps.cipher, integration.id, changed),
        uploads: { latest: (entity) => latestUpload(db, integration.id, entity), read: (uploadId, fromByte) => readUpload(db, integration.id, uploadId, fromByte) },
        ...(deps.erpLimits ? { limits: deps.erpLimits } : {}),
      });
    } catch (err) {
      throw toFailure(err);
    }
  }

  return {
    /**
     * Fetches the first page of the first mapped stream: proves URL, credentials and record path,
     * and shows the source's field names (what mappings refer to). Never throws for ERP answers.
     */
    async testErpConnection(input: { tenantId: string; integrationId: string }): Promise<ErpConnectionTestResult> {
      const integration = await findIntegration(db, input.tenantId, input.integrationId);
      if (!integration) return { ok: false, code: ErpFailureType.IntegrationGone, message: 'integration not found' };
      const streams = connectorOf(integration).streams as Record<string, unknown>;
      const entity = ERP_ENTITIES.find((e) => streams[e] !== undefined)!;
      try {
        for await (const page of sourceOf(integration).pages(entity, null)) {
          const first = page.records[0];
          const fields = first !== null && typeof first === 'object' ? Object.keys(first) : [];
          return { ok: true, entity, records: page.records.length, fields };
        }
        return { ok: true, entity, records: 0, fields: [] };
      } catch (err) {
        const failure = toFailure(err);
        return { ok: false, entity, code: failure.type ?? ErpFailureType.Misconfigured, message: failure.message };
      }
    },

    /** Creates the run row (idempotent: the API may have created it, a retry finds it). */
    async openErpRun(input: ErpPollInput & { workflowId: string }): Promise<{ runId: string }> {
      const wfId = input.workflowId;
      const integration = await findIntegration(db, input.tenantId, input.integrationId);
      if (!integration) throw ApplicationFailure.nonRetryable(`integration ${input.integrationId} is gone`, ErpFailureType.IntegrationGone);
      const runId = input.runId ?? scheduledRunId(wfId);
      const owner = await openRunOnce(db, integration, { runId, entity: input.entity, mode: input.mode, trigger: input.trigger, workflowId: wfId });
      if (owner !== wfId) {
        throw ApplicationFailure.nonRetryable(`run ${runId} belongs to another workflow`, ErpFailureType.Misconfigured);
      }
      return { runId };
    },

    /** Fetches, maps and commits the next page(s) of a run; each page commits with its checkpoint. */
    async syncErpPages(input: { tenantId: string; runId: string }): Promise<PageResult> {
      const ctx = Context.current();
      const [run] = await db.select().from(erpRuns).where(and(eq(erpRuns.id, input.runId), eq(erpRuns.tenantId, input.tenantId)));
      if (!run) throw ApplicationFailure.nonRetryable(`run ${input.runId} not found`, ErpFailureType.IntegrationGone);
      if (run.checkpoint.done) return { done: true, counts: run.counts, pages: run.checkpoint.pages };
      const integration = await findIntegration(db, run.tenantId, run.integrationId);
      if (!integration) throw ApplicationFailure.nonRetryable(`integration ${run.integrationId} is gone`, ErpFailureType.IntegrationGone);

      const circuit = storedCircuitAt(integration.circuit, now(), circuitConfig);
      if (circuit.state === 'open') {
        const wait = Math.max(1000, (circuit.openedAt ?? now()) + circuitConfig.openDurationMs - now());
        throw ApplicationFailure.create({ type: ErpFailureType.CircuitOpen, message: 'circuit open: the ERP failed too often', nextRetryDelay: wait });
      }

      const entity = run.entity as ErpPollInput['entity'];
      const mapping = cachedMapping(integration, entity);
      if (!mapping) throw ApplicationFailure.nonRetryable(`no mapping for ${entity}`, ErpFailureType.Misconfigured);
      const source = sourceOf(integration);
      const filter = connectorOf(integration).streams[entity]?.filter;
      // One read of the stream feeds its own entity and those it lists in alsoFeeds (when mapped).
      const mappings = [
        mapping,
        ...entitiesOfStream(connectorOf(integration).streams, entity)
          .slice(1)
          .map((fed) => cachedMapping(integration, fed))
          .filter((m) => m !== undefined),
      ];

      const started = now();
      let checkpoint: ErpCheckpoint = run.checkpoint;
      let counts = run.counts;
      const since = run.since ?? undefined;
      const target = { tenantId: run.tenantId, integrationId: run.integrationId, runId: run.id };
      const pages = source.pages(entity, checkpoint.pages === 0 ? null : checkpoint.next, since)[Symbol.asyncIterator]();
      // Pages are read and mapped in order; the watermark runs along with them.
      let watermark: ErpWatermark | undefined = checkpoint.watermark;
      async function prepare() {
        const { value: page, done } = await pages.next();
        if (done) return null;
        // Incremental: rows at or before the stored watermark (time, then key) were applied by an earlier run.
        const fresh: unknown[] = [];
        const changedAt: (string | undefined)[] = [];
        let filtered = 0;
        for (const record of page.records) {
          const version = source.version(entity, record);
          if (since && version && compareVersions(version, since) <= 0) continue;
          // A row the stream's filter skips still moves the watermark: it was read.
          if (version && (!watermark || compareVersions(version, watermark) > 0)) watermark = version;
          if (!keepsRecord(filter, record)) {
            filtered += 1;
            continue;
          }
          fresh.push(record);
          changedAt.push(version?.watermark);
        }
        return { next: page.next, watermark, filtered, batches: mappings.map((m) => mapRecords(target, m, fresh, changedAt)) };
      }
      // A CSV page is parsed and mapped while the one before it commits (CPU here, I/O in Postgres);
      // nothing of it is stored before its own commit. REST reads one page per activity: no look-ahead.
      const lookAhead = source.kind === 'csv';
      let upcoming: ReturnType<typeof prepare> | undefined;
      try {
        try {
          for (let prepared = await prepare(); prepared; ) {
            const current = prepared;
            upcoming = lookAhead && current.next !== null ? prepare() : undefined;
            upcoming?.catch(() => {}); // awaited below; a failure then surfaces there
            const expectedPages = checkpoint.pages;
            const next: ErpCheckpoint = { next: current.next, pages: expectedPages + 1, done: current.next === null, ...(current.watermark ? { watermark: current.watermark } : {}) };
            const pageCounts = await db.transaction(async (tx) => {
              // Every entity the page feeds is written in this transaction, with the one checkpoint.
              let total = filter ? addCounts(counts, { ...ZERO_COUNTS, filtered: current.filtered }) : counts;
              for (const batch of current.batches) total = addCounts(total, await writeMapped(tx, target, batch));
              // Optimistic: only the attempt that saw `expectedPages` may commit this page.
              const updated = await tx
                .update(erpRuns)
                .set({ checkpoint: next, counts: total, updatedAt: new Date() })
                .where(and(eq(erpRuns.id, run.id), sql`(${erpRuns.checkpoint}->>'pages')::int = ${expectedPages}`))
                .returning({ id: erpRuns.id });
              if (updated.length === 0) throw new ErpUnavailableError('another attempt committed this page; retrying from the stored checkpoint');
              return total;
            });
            checkpoint = next;
            counts = pageCounts;
            ctx.heartbeat({ pages: checkpoint.pages });
            if (checkpoint.done || source.kind === 'rest' || now() - started > CSV_ACTIVITY_BUDGET_MS) break;
            prepared = upcoming ? await upcoming : await prepare();
            upcoming = undefined;
          }
        } finally {
          // A page read ahead but not committed is dropped; the next activity reads it again from the checkpoint.
          await upcoming?.catch(() => null);
          await pages.return?.();
        }
      } catch (err) {
        const failure = toFailure(err);
        // A 429 is the ERP pacing us, not failing: only outages count against the circuit.
        if (failure.type === ErpFailureType.Unavailable) await recordCircuit(integration.id, false);
        throw failure;
      }
      await recordCircuit(integration.id, true);
      return { done: checkpoint.done, counts, pages: checkpoint.pages };
    },

    /**
     * Applies one stored webhook event with the integration's current mapping, through the same
     * mapping, validation, upsert and dead-letter path as polling. Applying, recording the run and
     * marking the event processed are ONE transaction (the event row locked): a retry after a commit
     * finds the event processed and answers the same run, so an event is never applied twice.
     */
    async applyErpWebhookEvent(input: ErpWebhookInput): Promise<ErpWebhookResult> {
      const runId = webhookRunId(input.inboxId);
      const integration = await findIntegration(db, input.tenantId, input.integrationId);
      if (!integration) throw ApplicationFailure.nonRetryable(`integration ${input.integrationId} is gone`, ErpFailureType.IntegrationGone);
      // Heartbeating, also while waiting on a row lock, so a killed worker's apply is retried soon.
      return beating(null, () => db.transaction(async (tx) => {
        const [event] = await tx
          .select()
          .from(erpWebhookEvents)
          .where(and(eq(erpWebhookEvents.id, input.inboxId), eq(erpWebhookEvents.integrationId, integration.id)))
          .for('update');
        if (!event) throw ApplicationFailure.nonRetryable(`webhook event ${input.inboxId} is gone`, ErpFailureType.IntegrationGone);
        if (event.processedAt) {
          const [run] = await tx.select({ counts: erpRuns.counts }).from(erpRuns).where(eq(erpRuns.id, runId));
          return { runId, counts: run?.counts ?? ZERO_COUNTS };
        }
        const entity = event.entity as ErpPollInput['entity'];
        const mapping = cachedMapping(integration, entity);
        if (!mapping) throw ApplicationFailure.nonRetryable(`integration has no mapping for ${entity}`, ErpFailureType.Misconfigured);
        const data = (event.payload as { data?: unknown }).data;
        const records = Array.isArray(data) ? data : [data];
        const counts = await applyRecords(tx, { tenantId: integration.tenantId, integrationId: integration.id, runId }, mapping, records);
        const [run] = await tx.insert(erpRuns).values({
          id: runId,
          tenantId: integration.tenantId,
          integrationId: integration.id,
          entity,
          mode: 'incremental',
          trigger: 'webhook',
          workflowId: workflowIds.erpWebhook(input.inboxId),
          status: 'succeeded',
          counts,
          checkpoint: { next: null, pages: 1, done: true },
          finishedAt: new Date(),
        }).returning();
        await recordRunFinished(tx, run!);
        await tx.update(erpWebhookEvents).set({ processedAt: new Date() }).where(eq(erpWebhookEvents.id, event.id));
        return { runId, counts };
      }));
    },

    /**
     * Closes a run. Success moves the integration's watermark forward (never back) and clears the
     * failure streak; a failure extends it, and N in a row pause the schedules with the reason.
     */
    async finishErpRun(input: { tenantId: string; integrationId: string; runId: string; ok: boolean; error?: string }): Promise<{ paused: boolean }> {
      const { paused, entities, reason } = await db.transaction(async (tx) => {
        const [run] = await tx.select().from(erpRuns).where(and(eq(erpRuns.id, input.runId), eq(erpRuns.tenantId, input.tenantId))).for('update');
        if (!run || run.status !== 'running') return { paused: false, entities: [] as string[], reason: '' };
        const [finished] = await tx
          .update(erpRuns)
          .set({
            status: input.ok ? 'succeeded' : 'failed',
            finishedAt: new Date(),
            updatedAt: new Date(),
            ...(input.error ? { errors: [...run.errors, { at: new Date().toISOString(), message: input.error }] } : {}),
          })
          .where(eq(erpRuns.id, run.id))
          .returning();
        await recordRunFinished(tx, finished!);
        const [integration] = await tx.select().from(erpIntegrations).where(eq(erpIntegrations.id, run.integrationId)).for('update');
        if (!integration) return { paused: false, entities: [], reason: '' };
        if (input.ok) {
          const current = integration.watermarks[run.entity];
          const reached = run.checkpoint.watermark;
          const watermarks = reached && (!current || compareVersions(reached, current) > 0) ? { ...integration.watermarks, [run.entity]: reached } : integration.watermarks;
          await tx.update(erpIntegrations).set({ watermarks, consecutiveFailures: 0 }).where(eq(erpIntegrations.id, integration.id));
          return { paused: false, entities: [], reason: '' };
        }
        const failures = integration.consecutiveFailures + 1;
        const limit = (integration.settings as IntegrationSettings).pauseAfterFailures ?? DEFAULT_PAUSE_AFTER_FAILURES;
        const pause = failures >= limit && integration.status === 'active';
        const why = `paused after ${failures} failed runs in a row; last error: ${input.error ?? 'unknown'}`;
        const [changed] = await tx
          .update(erpIntegrations)
          .set({ consecutiveFailures: failures, ...(pause ? { status: 'paused' as const, pausedReason: why, updatedAt: new Date() } : {}) })
          .where(eq(erpIntegrations.id, integration.id))
          .returning();
        if (pause) await recordIntegrationPaused(tx, changed!);
        return { paused: pause, entities: Object.keys(integration.mappings), reason: why };
      });
      if (paused) await changeErpSchedules(Context.current().client, input.integrationId, entities, { op: 'pause', note: reason });
      return { paused };
    },
  };
}

export type ErpActivities = ReturnType<typeof createErpActivities>;
