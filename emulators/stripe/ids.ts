import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

/** A Stripe-looking object id such as `pi_3PbQ...` (prefix + 24 alphanumerics). */
export function newId(prefix: string, length = 24): string {
  return `${prefix}_${randomToken(length)}`;
}

/** Stripe request ids are `req_` + 14 alphanumerics. */
export function newRequestId(): string {
  return newId('req', 14);
}

export function newSecret(prefix: string): string {
  return `${prefix}_${randomToken(32)}`;
}

/** Unix seconds, as every Stripe `created` field. */
export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
