/**
 * Examples of the ERP integrations API as the OpenAPI document shows them (Swagger UI, generated
 * clients). The document is only built when each one passes the schema it illustrates.
 */
const AT = '2026-12-07T10:15:30.000Z';
const INTEGRATION_ID = 'int_6p2m9k4x7q1v8t3n5r0w';

export const INTEGRATION_CREATE_EXAMPLE = {
  name: 'Warehouse ERP',
  type: 'polling',
  connector: {
    type: 'rest',
    baseUrl: '{{settings.baseUrl}}',
    auth: { type: 'bearer', token: '{{credentials.apiToken}}' },
    streams: {
      products: {
        path: '/products',
        recordPath: 'data',
        pagination: { type: 'cursor', cursorPath: 'next', param: 'cursor' },
        incremental: { cursorField: 'updated_at', keyField: 'sku', param: 'updated_since' },
      },
    },
  },
  credentials: { apiToken: 'erp_live_token' },
  settings: { intervalSeconds: 300, pauseAfterFailures: 3, baseUrl: 'https://erp.example.com/api' },
  mappings: {
    products: [
      { sourceField: 'sku', targetField: 'sku', required: true },
      { sourceField: 'title', targetField: 'name', required: true },
    ],
  },
};

export const INTEGRATION_EXAMPLE = {
  id: INTEGRATION_ID,
  object: 'integration',
  name: INTEGRATION_CREATE_EXAMPLE.name,
  type: INTEGRATION_CREATE_EXAMPLE.type,
  status: 'active',
  pausedReason: null,
  consecutiveFailures: 0,
  connector: INTEGRATION_CREATE_EXAMPLE.connector,
  settings: INTEGRATION_CREATE_EXAMPLE.settings,
  mappings: INTEGRATION_CREATE_EXAMPLE.mappings,
  watermarks: { products: { watermark: AT, key: 'SKU-1042' } },
  hasCredentials: true,
  createdAt: AT,
  updatedAt: AT,
};

const RUN_ID = 'erun_4k8m2q6x9v1t3n7p5r0w';

export const ERP_RUN_EXAMPLE = {
  id: RUN_ID,
  object: 'integration_run',
  integrationId: INTEGRATION_ID,
  entity: 'products',
  mode: 'incremental',
  trigger: 'schedule',
  status: 'succeeded',
  counts: { read: 120, valid: 119, invalid: 1, upserted: 37, unchanged: 82 },
  checkpoint: { cursor: null, watermark: AT, key: 'SKU-1042' },
  errors: [],
  workflowId: `erp-${INTEGRATION_ID}-products-${RUN_ID}`,
  startedAt: AT,
  finishedAt: '2026-12-07T10:15:34.200Z',
  durationMs: 4200,
};

export const DEAD_LETTER_EXAMPLE = {
  id: 'dl_9x2k7m4q1v8t3n6p5r0w',
  runId: ERP_RUN_EXAMPLE.id,
  entity: 'products',
  status: 'open',
  recordKey: 'SKU-1043',
  raw: { sku: 'SKU-1043', title: '' },
  errors: [{ field: 'name', message: 'required field is empty' }],
  createdAt: AT,
  replayedAt: null,
  closedAt: null,
  dismissReason: null,
  resolvedByRunId: null,
};
