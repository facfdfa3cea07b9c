import path from 'node:path';
import { parseEnv, toolsSchema } from '../config/env.js';
import { connectEmbedded, connectPostgres } from './client.js';

/** `npm run migrate`: applies migrations to DATABASE_URL, or to the embedded database in DATA_DIR. */
const env = parseEnv(toolsSchema, process.env);
const database = env.DATABASE_URL
  ? connectPostgres(env.DATABASE_URL)
  : await connectEmbedded(path.join(env.DATA_DIR, 'pglite'));
await database.migrate();
await database.close();
console.log(`migrations applied (${database.kind})`);
