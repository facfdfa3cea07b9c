import { parseEnv, requireSettings, toolsSchema } from '../config/env.js';
import { createLogger } from '../logger.js';
import { openDatabase } from '../runtime.js';
import { CredentialCipher } from './credential-cipher.js';
import { resealCredentials } from '../stores/platform/credential-reseal-store.js';

/**
 * `npm run reseal-credentials`: re-seals every stored credential with the first key of
 * CREDENTIALS_KEYS, logging progress per batch. Exits 1 if any row could not be opened (its key id is
 * then still needed). Rerunnable, and safe next to a running API/worker or a second run.
 */
const env = requireSettings(parseEnv(toolsSchema, process.env), ['CREDENTIALS_KEYS']);
const log = createLogger(env.LOG_LEVEL, {}, { format: env.LOG_FORMAT });
const database = await openDatabase(env, log);
try {
  const report = await resealCredentials(database.db, new CredentialCipher(env.CREDENTIALS_KEYS), {
    onProgress: (p) => log.info('reseal progress', { resourceType: p.resourceType, resealed: p.resealed, failed: p.failed.length }),
  });
  const failed = report.tables.flatMap((t) => t.failed);
  log.info('reseal done', { activeKeyId: report.activeKeyId, tables: report.tables.map((t) => ({ ...t, failed: t.failed.length })) });
  for (const f of failed) log.error('reseal failed for a row', f);
  process.exitCode = failed.length > 0 ? 1 : 0;
} finally {
  await database.close();
}
