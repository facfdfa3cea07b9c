/**
 * Replays an integration's open dead letters with its current mapping, through the same apply path
 * as polling and webhooks (apply-records.ts). Run by ErpDeadLetterReplayWorkflow, one per request.
 */
import { ApplicationFailure } from '@temporalio/common';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { erpDeadLetters } from '../../db/tables/erp.js';
import { ERP_ENTITIES } from '../../domain/erp/entities.js';
import { ErpFailureType } from '../../domain/erp/erp-failures.js';
import type { ErpDeadLetterReplayInput, ErpDeadLetterReplayResult } from '../../shared/erp-messages.js';
import { beating } from '../heartbeat.js';
import { addCounts, ZERO_COUNTS } from '../../domain/erp/record-counts.js';
import { findIntegration } from '../../stores/erp/integration-store.js';
import { applyRecords } from './apply-records.js';
import { runnableMapping } from './runnable-mapping.js';

/** The most letters one replay request takes on (the rest stay open for the next one). */
const REPLAY_LIMIT = 10_000;

export function createDeadLetterReplayActivities(deps: { db: Db }) {
  const { db } = deps;
  return {
    /**
     * One transaction: the letters are locked, mapped again one by one (so the ones still failing can
     * be told apart), the passing ones upserted and marked replayed. A retry after a commit finds
     * them replayed and does nothing again; a concurrent replay waits and skips them.
     */
    async replayErpDeadLetters(input: ErpDeadLetterReplayInput): Promise<ErpDeadLetterReplayResult> {
      const integration = await findIntegration(db, input.tenantId, input.integrationId);
      if (!integration)
        throw ApplicationFailure.nonRetryable(
          `integration ${input.integrationId} is gone`,
          ErpFailureType.IntegrationGone,
        );
      // Heartbeats say the worker is alive while the transaction runs (or waits on locks): a killed
      // worker's replay is retried after the heartbeat timeout, not the 5-minute start-to-close.
      return beating(null, () =>
        db.transaction(async (tx) => {
          const letters = await tx
            .select()
            .from(erpDeadLetters)
            .where(
              and(
                eq(erpDeadLetters.integrationId, integration.id),
                eq(erpDeadLetters.status, 'open'),
                input.ids ? inArray(erpDeadLetters.id, input.ids) : undefined,
              ),
            )
            .orderBy(asc(erpDeadLetters.createdAt), asc(erpDeadLetters.id))
            .limit(REPLAY_LIMIT)
            .for('update');
          let counts = ZERO_COUNTS;
          let replayed = 0;
          for (const entity of ERP_ENTITIES) {
            const batch = letters.filter((l) => l.entity === entity);
            if (batch.length === 0) continue;
            // The current mapping; one that no longer compiles (e.g. a pattern refused since) is not retried.
            const mapping = runnableMapping(integration, entity);
            if (!mapping) continue;
            for (const letter of batch) {
              const result = mapping.map(letter.raw);
              if (!result.ok) {
                await tx
                  .update(erpDeadLetters)
                  .set({ errors: result.errors, recordKey: result.key ?? null })
                  .where(eq(erpDeadLetters.id, letter.id));
                continue;
              }
              const target = {
                tenantId: integration.tenantId,
                integrationId: integration.id,
                runId: letter.runId,
              };
              counts = addCounts(counts, await applyRecords(tx, target, mapping, [letter.raw]));
              replayed += 1;
              await tx
                .update(erpDeadLetters)
                // The apply above closed the open letters of this key as resolved, this one among them: it was replayed.
                .set({ status: 'replayed', replayedAt: new Date(), closedAt: null, resolvedByRunId: null })
                .where(eq(erpDeadLetters.id, letter.id));
            }
          }
          return { replayed, stillInvalid: letters.length - replayed, counts };
        }),
      );
    },
  };
}

export type DeadLetterReplayActivities = ReturnType<typeof createDeadLetterReplayActivities>;
