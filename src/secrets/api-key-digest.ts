import { createHash, randomBytes } from 'node:crypto';

/** Tenant API keys: `sy_live_` + 32 random bytes (base64url). Only the SHA-256 digest is stored. */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = `sy_live_${randomBytes(32).toString('base64url')}`;
  return { key, prefix: key.slice(0, 12), hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
