import path from 'node:path';
import { ConfigError, type Env } from './config/env.js';
import { findProviderDefinition } from './stores/platform/provider-definition-store.js';
import { upgradeStoredDefinitions } from './stores/definition-format-upgrade.js';
import { connectEmbedded, connectPostgres, type Database } from './db/client.js';
import { createLogger, type Logger } from './logger.js';
import { buildProviderRegistry } from './providers/build-registry.js';
import type { EgressFetch } from './providers/egress/egress-fetch.js';
import { createEgressFromEnv, type EgressSettings } from './providers/egress/from-env.js';
import type { ProviderRegistry } from './providers/registry.js';
import { CredentialCipher } from './secrets/credential-cipher.js';
import { retryAtStart, type RetryPolicy } from './start-up.js';
import { startTracing, type Tracing, type TracingSettings } from './tracing/tracing.js';

type DatabaseSettings = Pick<Env, 'DATABASE_URL' | 'DATABASE_POOL_SIZE' | 'DATA_DIR' | 'STARTUP_RETRY_ATTEMPTS' | 'STARTUP_RETRY_DELAY_MS'>;
/** What createRuntime reads: the same for the API, the worker and dev. */
type RuntimeSettings = DatabaseSettings &
  Pick<Env, 'LOG_LEVEL' | 'LOG_FORMAT' | 'CREDENTIALS_KEYS'> &
  EgressSettings &
  Parameters<typeof buildProviderRegistry>[0] &
  TracingSettings;

/** Everything a process (API, worker or both) shares, built once from the parsed config. */
export interface Runtime<E extends RuntimeSettings = RuntimeSettings> {
  /** The process's whole parsed config, for what only it reads (appDeps in src/api/deps.ts, startWorkers in src/workers/start-workers.ts). */
  env: E;
  database: Database;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
  /** The one guarded path to tenant-supplied URLs (declarative providers, token URLs, connectors). */
  egress: EgressFetch;
  logger: Logger;
  /** OpenTelemetry tracing: off (no SDK loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  tracing: Tracing;
  close(): Promise<void>;
}

/** How entry points retry the database and Temporal while they come up. */
export function startupRetry(env: Pick<Env, 'STARTUP_RETRY_ATTEMPTS' | 'STARTUP_RETRY_DELAY_MS'>): RetryPolicy {
  return { attempts: env.STARTUP_RETRY_ATTEMPTS, delayMs: env.STARTUP_RETRY_DELAY_MS };
}

/**
 * Opens the database, Postgres at DATABASE_URL or else an embedded PGlite in DATA_DIR (the API and the
 * worker require DATABASE_URL at start), and migrates it, retrying while it comes up.
 */
export async function openDatabase(env: DatabaseSettings, logger: Logger): Promise<Database> {
  const database = env.DATABASE_URL
    ? connectPostgres(env.DATABASE_URL, { poolSize: env.DATABASE_POOL_SIZE })
    : await connectEmbedded(path.join(env.DATA_DIR, 'pglite'));
  await retryAtStart('the database', () => database.migrate(), startupRetry(env), logger);
  // The SQL migrations, then the stored definitions' format (TypeScript, docs/operations.md).
  const upgraded = await upgradeStoredDefinitions(database.db);
  if (upgraded.providerDefinitions + upgraded.erpConnectors > 0) logger.info('stored definitions upgraded to formatVersion 2', upgraded);
  return database;
}

/**
 * `logger`: the process logger when the entry point made one already (to install Temporal's Runtime with it).
 * `serviceName`: the process's name on its trace spans (default `switchyard`).
 */
export async function createRuntime<E extends RuntimeSettings>(
  env: E,
  opts: { logger?: Logger; serviceName?: string } = {},
): Promise<Runtime<E>> {
  if (!env.CREDENTIALS_KEYS) {
    throw new ConfigError('Missing configuration: CREDENTIALS_KEYS (e.g. k1:$(openssl rand -base64 32))');
  }
  const logger = opts.logger ?? createLogger(env.LOG_LEVEL, {}, { format: env.LOG_FORMAT });
  const database = await openDatabase(env, logger);
  const egress = await createEgressFromEnv(env);
  const tracing = await startTracing(env, opts.serviceName ?? 'switchyard');
  if (tracing.enabled) logger.info('tracing on', { endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT });
  return {
    env,
    database,
    cipher: new CredentialCipher(env.CREDENTIALS_KEYS),
    providers: await buildProviderRegistry(env, (tenantId, name) => findProviderDefinition(database.db, tenantId, name), egress),
    egress,
    logger,
    tracing,
    close: async () => {
      await database.close();
      await egress.close();
      await tracing.shutdown();
    },
  };
}
