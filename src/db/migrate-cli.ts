import path from 'node:path';
import { parseEnv, toolsSchema } from '../config/env.js';
import { upgradeStoredDefinitions } from '../stores/definition-format-upgrade.js';
import { connectEmbedded, connectPostgres } from './client.js';

/** `npm run migrate`: applies migrations to DATABASE_URL, or to the embedded database in DATA_DIR. */
const env = parseEnv(toolsSchema, process.env);
const database = env.DATABASE_URL
  ? connectPostgres(env.DATABASE_URL)
  : await connectEmbedded(path.join(env.DATA_DIR, 'pglite'));
await database.migrate();
const upgraded = await upgradeStoredDefinitions(database.db);
await database.close();
console.log(
  `migrations applied (${database.kind}); upgraded to formatVersion 2: ${upgraded.providerDefinitions} provider definitions, ${upgraded.erpConnectors} ERP connectors`,
);
