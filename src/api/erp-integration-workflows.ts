/**
 * The Temporal side of the integrations API: an integration's schedules follow what was saved, and
 * connection tests, manual syncs and dead-letter replays run as workflows on the erp queue, each
 * carrying the integration's search attributes and the tenant's fairness key.
 */
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ERP_ENTITIES } from '../domain/erp/entities.js';
import { pollIntervalSeconds, scheduledEntities } from '../domain/erp/integration-rules.js';
import type { ErpDeadLetterReplayInput, ErpDeadLetterReplayResult, ErpPollInput } from '../shared/erp-messages.js';
import { tenantPriority } from '../shared/fairness.js';
import { integrationSearchAttributes } from '../shared/search-attributes.js';
import type { Workflows } from '../shared/workflow-types.js';
import { workflowId } from '../shared/workflow-ids.js';
import type { IntegrationRow } from '../stores/erp/integration-store.js';
import { changeErpSchedules, stopErpIntegration } from '../temporal/erp/erp-schedule-changes.js';
import { ensureErpSchedules } from '../temporal/erp/erp-schedules.js';
import { startWorkflow } from '../temporal/start-workflow.js';
import type { AppDeps } from './deps.js';

/** Where a dead-letter replay stands, as GET …/dead-letters/replays/:replayId answers it. */
export interface ReplayState {
  workflowId: string;
  runId: string;
  status: 'running' | 'completed' | 'failed';
  result: ErpDeadLetterReplayResult | null;
  error: string | null;
}

export function erpIntegrationWorkflows(deps: Pick<AppDeps, 'temporal' | 'taskQueues'>, minPollIntervalSeconds: number) {
  const { temporal } = deps;
  const onErpQueue = (row: IntegrationRow) => ({
    taskQueue: deps.taskQueues.erp,
    typedSearchAttributes: integrationSearchAttributes(row.tenantId, row.id),
    priority: tenantPriority(row.tenantId),
  });

  return {
    /** Schedules of the entities the integration polls now; those it no longer polls (after `previous`) go. */
    async syncSchedules(row: IntegrationRow, previous?: IntegrationRow): Promise<void> {
      const entities = scheduledEntities(row);
      const dropped = previous ? scheduledEntities(previous).filter((e) => !entities.includes(e)) : [];
      await changeErpSchedules(temporal, row.id, dropped, { op: 'delete' });
      await ensureErpSchedules(temporal, {
        tenantId: row.tenantId,
        integrationId: row.id,
        entities,
        intervalSeconds: pollIntervalSeconds(row.settings, minPollIntervalSeconds),
        taskQueue: deps.taskQueues.erp,
        paused: row.status === 'paused',
        ...(row.pausedReason ? { note: row.pausedReason } : {}),
      });
    },

    async pauseSchedules(row: IntegrationRow, reason: string): Promise<void> {
      await changeErpSchedules(temporal, row.id, [...ERP_ENTITIES], { op: 'pause', note: reason });
    },

    async resumeSchedules(row: IntegrationRow): Promise<void> {
      await changeErpSchedules(temporal, row.id, [...ERP_ENTITIES], { op: 'resume' });
    },

    /** Its schedules and running workflows, before the integration is deleted: a run left going would retry against nothing. */
    async stop(row: IntegrationRow, runWorkflowIds: string[]): Promise<void> {
      await stopErpIntegration(temporal, row.id, runWorkflowIds);
    },

    /** A new test per call, as for connections (an X-Request-Id is the caller's and may be reused). */
    startConnectionTest(row: IntegrationRow, testId: string) {
      return startWorkflow(temporal, 'erpConnectionTestWorkflow', {
        ...onErpQueue(row),
        workflowId: workflowId.erpConnectionTest(row.id, testId),
        args: [{ tenantId: row.tenantId, integrationId: row.id }],
        workflowExecutionTimeout: '5 minutes',
      });
    },

    /** The poll workflow of a run the API created (`input.runId`). */
    startSync(row: IntegrationRow, input: ErpPollInput, runWorkflowId: string) {
      return startWorkflow(temporal, 'erpPollWorkflow', { ...onErpQueue(row), workflowId: runWorkflowId, args: [input] });
    },

    startDeadLetterReplay(row: IntegrationRow, input: ErpDeadLetterReplayInput) {
      return startWorkflow(temporal, 'erpDeadLetterReplayWorkflow', {
        ...onErpQueue(row),
        workflowId: workflowId.erpDeadLetterReplay(row.id, input.replayId),
        args: [input],
      });
    },

    /** A replay's state, read from its workflow (kept as long as Temporal retains the run); undefined when unknown. */
    async replayState(row: IntegrationRow, replayId: string): Promise<ReplayState | undefined> {
      const handle = temporal.workflow.getHandle<Workflows['erpDeadLetterReplayWorkflow']>(workflowId.erpDeadLetterReplay(row.id, replayId));
      let described;
      try {
        described = await handle.describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
      const ref = { workflowId: described.workflowId, runId: described.runId };
      const status = described.status.name;
      if (status === 'RUNNING') return { ...ref, status: 'running', result: null, error: null };
      if (status === 'COMPLETED') return { ...ref, status: 'completed', result: await handle.result(), error: null };
      const error = await handle.result().then(
        () => status.toLowerCase(),
        (err: unknown) => (err instanceof WorkflowFailedError && err.cause ? err.cause.message : String(err)),
      );
      return { ...ref, status: 'failed', result: null, error };
    },
  };
}
