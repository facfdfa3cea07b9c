import { randomBytes } from 'node:crypto';

/** Stripe-style prefixed ids (`pay_3kq9...`): readable in logs, the Temporal UI and support tickets. */
export type IdPrefix = 'ten' | 'key' | 'con' | 'pay' | 'att' | 're' | 'rule' | 'whe' | 'aud' | 'cust' | 'int' | 'erun' | 'dl' | 'dlr' | 'ewe' | 'upl' | 'csr' | 'tst' | 'evt' | 'we' | 'wdl';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/** 20 base32 characters = 100 random bits. */
export function newId(prefix: IdPrefix): string {
  const bytes = randomBytes(20);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return `${prefix}_${out}`;
}
