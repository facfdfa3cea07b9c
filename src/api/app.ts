import path from 'node:path';
import express from 'express';
import swaggerUi from 'swagger-ui-dist';
import { adminAuth, tenantAuth } from './auth.js';
import { ResourceRouter } from './endpoint.js';
import { errorHandler, notFoundRoute } from './errors.js';
import { jsonBody, pathEncoding } from './input-guards.js';
import { methodNotAllowed } from './method-not-allowed.js';
import { docsInitScript, docsPage, OpenApiRegistry } from './openapi.js';
import { observeRequests } from './observe-requests.js';
import { requestId } from './request-id.js';
import { connectionsRouter } from './routes/connections.js';
import { paymentsRouter } from './routes/payments/payments.js';
import { webhooksRouter } from './routes/provider-webhooks.js';
import { routingRouter } from './routes/payments/routing-rules.js';
import { providersRouter } from './routes/providers.js';
import { healthRouter } from './routes/health.js';
import { metricsRouter } from './routes/metrics.js';
import { appMetricsRegistry, rateLimitRejections } from '../metrics/api-metrics.js';
import { codecRouter } from './routes/codec.js';
import { tenantsRouter } from './routes/tenants.js';
import { apiKeysRouter } from './routes/api-keys.js';
import { quotasRouter } from './routes/quotas.js';
import { auditEventsRouter } from './routes/audit-events.js';
import { credentialsAdminRouter } from './routes/credentials-admin.js';
import { DEFAULT_RATE_LIMITS, RateLimiter } from './rate-limit.js';
import type { AppDeps } from './deps.js';
import { customersRouter } from './routes/customers/customers.js';
import { customerReconcileRouter } from './routes/customers/reconciliations.js';
import { catalogRouter } from './routes/erp/catalog.js';
import { integrationsRouter } from './routes/erp/integrations.js';
import { erpWebhooksRouter } from './routes/erp/erp-webhooks.js';
import { eventsRouter } from './routes/events/events.js';
import { webhookEndpointsRouter } from './routes/events/webhook-endpoints.js';
import { webhookDeliveriesRouter } from './routes/events/webhook-deliveries.js';

/** Builds the Express app without listening; entry points and tests decide where it runs. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'extended');
  app.set('trust proxy', deps.trustProxy ?? false);
  if (deps.tracing?.httpMiddleware) app.use(deps.tracing.httpMiddleware);
  app.use(requestId);
  app.use(observeRequests(deps.logger));
  app.use(pathEncoding);

  const openapi = new OpenApiRegistry();
  const limiter = new RateLimiter(deps.database.db, deps.rateLimits ?? DEFAULT_RATE_LIMITS, (event) => {
    rateLimitRejections.inc({ scope: event.kind });
    deps.onRateLimited?.(event);
  });
  const auth = { admin: adminAuth(deps.adminToken, limiter), tenant: tenantAuth(deps.database.db, limiter) };
  const router = (tag: string) => new ResourceRouter(openapi, tag, auth, limiter.perClientAddress());

  // Webhooks read their raw body (signatures), so they are mounted before the JSON parser.
  app.use(webhooksRouter({ ...deps, limiter }, router('Webhooks')).router);
  app.use(erpWebhooksRouter({ ...deps, limiter }, router('Integrations')).router);
  app.use(codecRouter({ ...deps, limiter }));
  app.use(jsonBody);
  app.use(healthRouter(deps, router('Health')).router);
  app.use(tenantsRouter(deps, router('Tenants')).router);
  app.use(connectionsRouter(deps, router('Connections')).router);
  app.use(paymentsRouter(deps, router('Payments')).router);
  app.use(routingRouter(deps, router('Routing')).router);
  app.use(providersRouter(deps, router('Providers')).router);
  app.use(apiKeysRouter(deps, router('API keys')).router);
  app.use(quotasRouter(deps, router('Tenants')).router);
  app.use(auditEventsRouter(deps, router('Audit')).router);
  app.use(credentialsAdminRouter(deps, router('Admin')).router);
  app.use(customersRouter(deps, router('Customers')).router);
  app.use(customerReconcileRouter(deps, router('Customers')).router);
  app.use(integrationsRouter(deps, router('Integrations')).router);
  app.use(catalogRouter(deps, router('Catalog')).router);
  app.use(eventsRouter(deps, router('Events')).router);
  app.use(webhookEndpointsRouter(deps, router('Webhook endpoints')).router);
  app.use(webhookDeliveriesRouter(deps, router('Webhook deliveries')).router);

  const spec = openapi.document({ title: 'Switchyard API', version: '0.1.0', serverUrl: deps.publicUrl });
  app.get('/openapi.json', (_req, res) => void res.json(spec));
  app.get('/docs', (_req, res) => void res.type('html').send(docsPage('/docs/assets', '/docs/docs-init.js')));
  app.get('/docs/docs-init.js', (_req, res) => void res.type('js').send(docsInitScript('/openapi.json')));
  app.use('/docs/assets', express.static(path.resolve(swaggerUi.getAbsoluteFSPath()), { index: false }));

  // Metrics on the public port only behind their own token; otherwise on METRICS_PORT (src/api/main.ts).
  if (deps.metricsToken) app.use(metricsRouter(appMetricsRegistry(deps.database.db, deps.providers), deps.metricsToken));

  app.use(methodNotAllowed(openapi));
  app.use(notFoundRoute);
  app.use(errorHandler(deps.logger));
  return app;
}
