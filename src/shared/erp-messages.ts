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
