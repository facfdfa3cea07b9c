import path from 'node:path';
import type { Client } from '@temporalio/client';
import express from 'express';
import swaggerUi from 'swagger-ui-dist';
import type { Database } from '../db/client.js';
import type { CircuitConfig } from '../domain/circuit-breaker.js';
import type { Logger } from '../logger.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { OutboundUrlPolicy } from '../providers/url-policy.js';
import type { PaymentTiming } from '../shared/payment-messages.js';
import type { TaskQueues } from '../shared/task-queues.js';
import type { CredentialCipher } from '../secrets/credential-cipher.js';
import { adminAuth, tenantAuth } from './auth.js';
import { ResourceRouter } from './endpoint.js';
import { errorHandler, notFoundRoute } from './errors.js';
import { docsInitScript, docsPage, OpenApiRegistry } from './openapi.js';
import { requestId } from './request-id.js';
import { connectionsRouter } from './routes/connections.js';
import { paymentsRouter } from './routes/payments.js';
import { webhooksRouter } from './routes/webhooks.js';
import { routingRouter } from './routes/routing.js';
import { providersRouter } from './routes/providers.js';
import { healthRouter } from './routes/health.js';
import { tenantsRouter } from './routes/tenants.js';

export interface AppDeps {
  database: Database;
  temporal: Client;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
  adminToken: string;
  logger: Logger;
  /** Policy for URLs in tenant-supplied connection settings (SSRF guard). */
  urlPolicy: OutboundUrlPolicy;
  taskQueues: TaskQueues;
  /** Overrides of the payment workflow's waits (tests and demos use short ones). */
  paymentTiming?: Partial<PaymentTiming>;
  /** Circuit breaker settings shared with the workers (so simulate shows what routing will do). */
  circuit?: CircuitConfig;
  publicUrl?: string;
}

/** Builds the Express app without listening; entry points and tests decide where it runs. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'extended');
  app.use(requestId);

  const openapi = new OpenApiRegistry();
  const auth = { admin: adminAuth(deps.adminToken), tenant: tenantAuth(deps.database.db) };
  const router = (tag: string) => new ResourceRouter(openapi, tag, auth);

  // Webhooks read their raw body (signatures), so they are mounted before the JSON parser.
  app.use(webhooksRouter(deps, router('Webhooks')).router);
  app.use(express.json({ limit: '256kb' }));
  app.use(healthRouter(deps, router('Health')).router);
  app.use(tenantsRouter(deps, router('Tenants')).router);
  app.use(connectionsRouter(deps, router('Connections')).router);
  app.use(paymentsRouter(deps, router('Payments')).router);
  app.use(routingRouter(deps, router('Routing')).router);
  app.use(providersRouter(deps, router('Providers')).router);

  const spec = openapi.document({ title: 'Switchyard API', version: '0.1.0', serverUrl: deps.publicUrl });
  app.get('/openapi.json', (_req, res) => void res.json(spec));
  app.get('/docs', (_req, res) => void res.type('html').send(docsPage('/docs/assets', '/docs/docs-init.js')));
  app.get('/docs/docs-init.js', (_req, res) => void res.type('js').send(docsInitScript('/openapi.json')));
  app.use('/docs/assets', express.static(path.resolve(swaggerUi.getAbsoluteFSPath()), { index: false }));

  app.use(notFoundRoute);
  app.use(errorHandler(deps.logger));
  return app;
}
