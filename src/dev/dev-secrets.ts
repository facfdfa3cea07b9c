import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface DevSecrets {
  adminToken: string;
  /** base64 of 32 random bytes, used as CREDENTIALS_KEYS=dev:<key> */
  credentialsKey: string;
  /** base64 of 32 random bytes, used as PAYLOAD_CODEC_KEYS=dev:<key> (payloads in Temporal). */
  payloadCodecKey: string;
}

/** Generated on the first `npm run dev` and kept in the data folder (mode 0600) so restarts reuse them. */
export function loadOrCreateDevSecrets(dataDir: string): { secrets: DevSecrets; file: string; created: boolean } {
  const file = path.join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) {
    const secrets = JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
    // Files from before the payload codec get its key added once.
    if (!secrets.payloadCodecKey) {
      secrets.payloadCodecKey = randomBytes(32).toString('base64');
      writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
    }
    return { secrets, file, created: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const secrets: DevSecrets = {
    adminToken: `sy_admin_${randomBytes(24).toString('base64url')}`,
    credentialsKey: randomBytes(32).toString('base64'),
    payloadCodecKey: randomBytes(32).toString('base64'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  return { secrets, file, created: true };
}
