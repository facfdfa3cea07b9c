import path from 'node:path';
import { ConfigError, type Env } from './config/env.js';
import { findProviderDefinition } from './db/queries/provider-definitions.js';
import { connectEmbedded, connectPostgres, type Database } from './db/client.js';
import { createLogger, type Logger } from './logger.js';
import { buildProviderRegistry } from './providers/build-registry.js';
import type { ProviderRegistry } from './providers/registry.js';
import { CredentialCipher } from './secrets/credential-cipher.js';

/** Everything a process (API, worker or both) shares, built once from the parsed config. */
export interface Runtime {
  env: Env;
  database: Database;
  cipher: CredentialCipher;
  providers: ProviderRegistry;
  logger: Logger;
  close(): Promise<void>;
}

export async function createRuntime(env: Env, opts: { allowEmbeddedDb: boolean }): Promise<Runtime> {
  if (!env.CREDENTIALS_KEYS) {
    throw new ConfigError('Missing configuration: CREDENTIALS_KEYS (e.g. k1:$(openssl rand -base64 32))');
  }
  if (!env.DATABASE_URL && !opts.allowEmbeddedDb) {
    throw new ConfigError('Missing configuration: DATABASE_URL (postgres://user:pass@host:5432/db)');
  }
  const logger = createLogger(env.LOG_LEVEL);
  const database = env.DATABASE_URL
    ? connectPostgres(env.DATABASE_URL, { poolSize: env.DATABASE_POOL_SIZE })
    : await connectEmbedded(path.join(env.DATA_DIR, 'pglite'));
  await database.migrate();
  return {
    env,
    database,
    cipher: new CredentialCipher(env.CREDENTIALS_KEYS),
    providers: await buildProviderRegistry(env, (tenantId, name) => findProviderDefinition(database.db, tenantId, name)),
    logger,
    close: () => database.close(),
  };
}
