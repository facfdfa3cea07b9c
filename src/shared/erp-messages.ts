import type { ErpEntity } from '../domain/erp/entities.js';

/** Input of ErpPollWorkflow. Carries ids only; credentials are decrypted inside activities. */
export interface ErpPollInput {
  tenantId: string;
  integrationId: string;
  entity: ErpEntity;
  mode: 'full' | 'incremental';
  trigger: 'api' | 'schedule' | 'webhook' | 'replay';
  /** Set by the API (which creates the run row first); scheduled runs derive it from the workflow id. */
  runId?: string;
}

/** Input of ErpWebhookWorkflow: the inbox row of one verified event (the payload stays in Postgres). */
export interface ErpWebhookInput {
  tenantId: string;
  integrationId: string;
  inboxId: string;
}

/** What applying one webhook event did: its run (trigger `webhook`) and the counts. */
export interface ErpWebhookResult {
  runId: string;
  counts: { read: number; valid: number; invalid: number; upserted: number; unchanged: number };
}

/** Input of ErpDeadLetterReplayWorkflow: one replay request (its id is the API's) over some or all open letters. */
export interface ErpDeadLetterReplayInput {
  tenantId: string;
  integrationId: string;
  replayId: string;
  /** Dead letters to replay; all open ones when absent. */
  ids?: string[];
}

/** What a replay did: letters that now pass (upserted), letters still failing (their errors refreshed). */
export interface ErpDeadLetterReplayResult {
  replayed: number;
  stillInvalid: number;
  counts: { read: number; valid: number; invalid: number; upserted: number; unchanged: number };
}
