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
