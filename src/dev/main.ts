import path from 'node:path';
import { createApp } from '../api/app.js';
import { codecUiKey } from '../api/routes/codec.js';
import { listen } from '../api/server.js';
import { devSchema, parseEnv } from '../config/env.js';
import { appDeps } from '../api/deps.js';
import { createRuntime } from '../runtime.js';
import { startWorkers } from '../workers/start-workers.js';
import { createLogger } from '../logger.js';
import { startApiMetricsServer } from '../metrics/api-metrics.js';
import { connectTemporalClient } from '../temporal/connection.js';
import { installTemporalRuntime } from '../workers/temporal-runtime.js';
import { DEMO_ERP_INTERVAL_SECONDS, DEMO_EVENT_TYPES, DEMO_PORTS, DEMO_PRIMARY_FAILURE_RATE, DEMO_STRIPE_KEY, ensureDemoTenant, runDemoBankTransfer, runDemoPayments, startDemoGateways, type DemoGateways } from './demo.js';
import { loadOrCreateDevSecrets } from './dev-secrets.js';
import { startTemporalDevServer, type RunningDevServer } from './temporal-dev-server.js';

/**
 * `npm run dev`: the whole stack on embedded defaults in one process. A Temporal dev server (SQLite
 * in the data folder, UI on :8233) unless TEMPORAL_ADDRESS is set; an embedded Postgres (PGlite)
 * unless DATABASE_URL is set; the worker and the API; and, unless DEMO=false, the demo: emulated
 * gateways, a demo tenant whose primary gateway fails some of the time, and a local receiver of the
 * tenant's webhooks that shows a bank transfer's payment.succeeded arriving.
 */
/** `npm run dev`'s own defaults, under whatever the environment sets. */
const DEV_DEFAULTS = {
  // Emulators and the demo's webhook receiver listen on loopback (http://127.0.0.1:...).
  ALLOW_PRIVATE_PROVIDER_URLS: 'true',
  // The demo integration polls faster than production's minimum, so its runs show up quickly.
  ERP_MIN_POLL_INTERVAL_SECONDS: String(DEMO_ERP_INTERVAL_SECONDS),
  // The API's metrics on a free loopback port of their own (printed below), never on the API port.
  METRICS_PORT: '0',
  // Readable in a terminal, Temporal's own lines too (LOG_FORMAT=json for JSON lines).
  LOG_FORMAT: 'pretty',
};
const settings = parseEnv(devSchema, { ...DEV_DEFAULTS, ...process.env });
const dataDir = path.resolve(settings.DATA_DIR);
const { secrets, file: secretsFile } = loadOrCreateDevSecrets(dataDir);
const adminToken = settings.ADMIN_TOKEN ?? secrets.adminToken;
// Development: Temporal's own lines at warn and above.
installTemporalRuntime({ logger: createLogger('warn', {}, { format: settings.LOG_FORMAT }) });

let demo: DemoGateways | undefined;
if (settings.DEMO) demo = await startDemoGateways(DEMO_PORTS, { dataDir });

let temporalServer: RunningDevServer | undefined;
if (!settings.TEMPORAL_ADDRESS) {
  console.log('[dev] starting the Temporal dev server ...');
  try {
    temporalServer = await startTemporalDevServer({
      port: 7233,
      uiPort: 8233,
      dbFilename: path.join(dataDir, 'temporal', 'temporal.sqlite'),
      // The UI shows payloads decoded through the API's codec endpoint (payloads are encrypted).
      uiCodecEndpoint: `${settings.PUBLIC_URL ?? `http://127.0.0.1:${settings.PORT}`}/codec/ui/${codecUiKey(adminToken)}`,
      cli: settings.TEMPORAL_CLI,
    });
  } catch (err) {
    console.error(
      `[dev] could not start the Temporal dev server on :7233/:8233 (${(err as Error).message}).\n` +
        '      If a Temporal server already runs, point at it with TEMPORAL_ADDRESS=host:port.',
    );
    process.exit(1);
  }
  console.log(`[dev] Temporal dev server: ${temporalServer.source}`);
}

// Secrets not set come from the data folder; the demo's Stripe unless STRIPE_API_URL names another.
const env = {
  ...settings,
  DATA_DIR: dataDir,
  TEMPORAL_ADDRESS: settings.TEMPORAL_ADDRESS ?? temporalServer!.address,
  ADMIN_TOKEN: adminToken,
  CREDENTIALS_KEYS: settings.CREDENTIALS_KEYS ?? devSchema.shape.CREDENTIALS_KEYS.parse(`dev:${secrets.credentialsKey}`),
  PAYLOAD_CODEC_KEYS: settings.PAYLOAD_CODEC_KEYS ?? devSchema.shape.PAYLOAD_CODEC_KEYS.parse(`dev:${secrets.payloadCodecKey}`),
  STRIPE_API_URL: settings.STRIPE_API_URL ?? demo?.stripeUrl,
};

const runtime = await createRuntime(env);
const temporal = await connectTemporalClient(env, runtime.tracing.clientInterceptors);
const workers = await startWorkers(runtime);
const app = createApp(appDeps(runtime, temporal, env.ADMIN_TOKEN));
const http = await listen(app, env.HOST, env.PORT);
const metrics = env.METRICS_PORT === undefined ? undefined : await startApiMetricsServer(runtime.database.db, runtime.providers, env.HOST, env.METRICS_PORT);

const database = runtime.database.kind === 'pglite' ? `embedded PGlite (${path.join(dataDir, 'pglite')})` : 'DATABASE_URL';
console.log(`
Switchyard is running.
  API           ${http.url}
  API docs      ${http.url}/docs
  Health        ${http.url}/health${metrics ? `\n  API metrics   ${metrics.url}` : ''}
  Temporal UI   ${env.TEMPORAL_UI_URL}
  Database      ${database}
  Admin token   ${env.ADMIN_TOKEN}   (kept in ${secretsFile})`);

if (demo) {
  const tenant = await ensureDemoTenant(http.url, env.ADMIN_TOKEN, dataDir, demo);
  const filter = encodeURIComponent(`TenantId="${tenant.tenantId}"`);
  console.log(`
Demo tenant "Demo Merchant" (${tenant.tenantId}), API key kept in ${path.join(dataDir, 'demo-tenant.json')}:
  export SWITCHYARD_KEY=${tenant.apiKey}
Start a card payment (Stripe is primary and fails ~${Math.round(100 * DEMO_PRIMARY_FAILURE_RATE)}% of calls; AcmePay is the fallback):
  curl -s -X POST ${http.url}/v1/payments?wait=10 -H "Authorization: Bearer $SWITCHYARD_KEY" \\
       -H "Idempotency-Key: $(date +%s%N)" -H 'Content-Type: application/json' \\
       -d '{"amount":1999,"currency":"EUR","country":"DE","paymentMethod":{"type":"card","token":"pm_card_visa"}}'
Watch the runs of this tenant in the Temporal UI:
  ${env.TEMPORAL_UI_URL}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows?query=${filter}`);
  console.log(`Customer sync: the emulated Stripe account (${demo.stripeUrl}, key ${DEMO_STRIPE_KEY}) syncs customers both ways:
  curl -s ${http.url}/v1/customers -H "Authorization: Bearer $SWITCHYARD_KEY" -H "Idempotency-Key: $(date +%s%N)" \\
       -H 'Content-Type: application/json' -d '{"email":"ada@example.com","name":"Ada"}'
  curl -s '${demo.stripeUrl}/v1/customers?email=ada@example.com' -u ${DEMO_STRIPE_KEY}:
  Runs: ${env.TEMPORAL_UI_URL}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows?query=${encodeURIComponent(`WorkflowType="customerSyncWorkflow" AND TenantId="${tenant.tenantId}"`)}`);
  if (tenant.erpIntegration) {
    console.log(`ERP sync: integration ${tenant.erpIntegration} polls the emulated ERP every ${DEMO_ERP_INTERVAL_SECONDS}s (products, prices, stock):
  curl -s ${http.url}/v1/integrations/${tenant.erpIntegration}/runs -H "Authorization: Bearer $SWITCHYARD_KEY"
  curl -s ${http.url}/v1/catalog/inventory -H "Authorization: Bearer $SWITCHYARD_KEY"
  Schedules: ${env.TEMPORAL_UI_URL}/namespaces/${env.TEMPORAL_NAMESPACE}/schedules`);
  }
  if (tenant.webhookEndpoint) {
    console.log(`Events to your endpoint: webhook endpoint ${tenant.webhookEndpoint.id} (${DEMO_EVENT_TYPES.join(', ')}) delivers to a local receiver
  at ${demo.webhookReceiver.url} that verifies each signature (its secret is kept in demo-tenant.json). A bank transfer:`);
    await runDemoBankTransfer(http.url, tenant, demo.webhookReceiver);
    console.log(`  curl -s '${http.url}/v1/events?type=payment.*' -H "Authorization: Bearer $SWITCHYARD_KEY"`);
  }
  // DEMO_PAYMENTS=N sends N card payments and prints each route with Stripe's circuit state.
  if (env.DEMO_PAYMENTS > 0) await runDemoPayments(http.url, tenant, env.DEMO_PAYMENTS);
}
console.log('\nPress Ctrl+C to stop.');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n[dev] ${signal}: shutting down`);
  await http.close();
  await metrics?.close();
  await workers.stop();
  await temporal.connection.close();
  await runtime.close();
  await temporalServer?.stop();
  await demo?.close();
  process.exit(0);
}
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));
