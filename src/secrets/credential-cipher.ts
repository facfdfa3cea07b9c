import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** One AES-256 key with the id stored beside each ciphertext it made. */
export interface CipherKey {
  id: string;
  key: Buffer;
}

export interface SealedCredentials {
  keyId: string;
  /** format byte | 12-byte IV | 16-byte GCM tag | ciphertext */
  ciphertext: Buffer;
}

/** The ciphertext is tampered, was moved to another tenant/connection, or its key is unknown. */
export class CredentialDecryptionError extends Error {
  override readonly name: string = 'CredentialDecryptionError';
}

/** The ciphertext names a key id that is not in CREDENTIALS_KEYS (dropped too early, or a typo). */
export class UnknownCredentialKeyError extends CredentialDecryptionError {
  override readonly name = 'UnknownCredentialKeyError';
  constructor(
    readonly keyId: string,
    /** What the credentials are bound to (a connection id, `erp:<integration id>`). */
    readonly subject: string,
  ) {
    super(
      `unknown credentials key id "${keyId}": the credentials of ${subject} were sealed with a key that is not configured in CREDENTIALS_KEYS; ` +
        'add that key back and run reseal-credentials, or re-enter the credentials',
    );
  }
}

const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Binds a ciphertext to the row it belongs to, so it cannot be copied to another tenant or row. The
 * subject is what the sealed column declares (`boundTo` in src/db/tables/columns.ts): a connection id,
 * `erp:<integration id>`.
 */
function associatedData(tenantId: string, subject: string): Buffer {
  return Buffer.from(`switchyard/credentials/v1\0${tenantId}\0${subject}`, 'utf8');
}

/**
 * AES-256-GCM encryption of connection credentials. The first key encrypts; every key decrypts, which
 * is how keys rotate: add a new key in front, re-seal at leisure, then drop the old one.
 */
export class CredentialCipher {
  private readonly byId: Map<string, Buffer>;
  private readonly active: CipherKey;

  constructor(keys: CipherKey[]) {
    const [active] = keys;
    if (!active) throw new Error('CredentialCipher needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32) throw new Error(`credential key ${k.id} must be 32 bytes`);
    }
    this.active = active;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get activeKeyId(): string {
    return this.active.id;
  }

  hasKey(keyId: string): boolean {
    return this.byId.has(keyId);
  }

  /** Throws {@link UnknownCredentialKeyError} unless `keyId` is configured (a check before work that needs the credentials). */
  requireKey(keyId: string, subject: string): void {
    if (!this.byId.has(keyId)) throw new UnknownCredentialKeyError(keyId, subject);
  }

  seal(plain: Record<string, string>, tenantId: string, subject: string): SealedCredentials {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.active.key, iv);
    cipher.setAAD(associatedData(tenantId, subject));
    const body = Buffer.concat([cipher.update(JSON.stringify(plain), 'utf8'), cipher.final()]);
    const ciphertext = Buffer.concat([Buffer.from([FORMAT_V1]), iv, cipher.getAuthTag(), body]);
    return { keyId: this.active.id, ciphertext };
  }

  open(sealed: SealedCredentials, tenantId: string, subject: string): Record<string, string> {
    const key = this.byId.get(sealed.keyId);
    // Messages never include key material or plaintext; the subject is enough to investigate.
    if (!key) throw new UnknownCredentialKeyError(sealed.keyId, subject);
    const data = sealed.ciphertext;
    if (data.length < 1 + IV_BYTES + TAG_BYTES || data[0] !== FORMAT_V1) {
      throw new CredentialDecryptionError('credentials ciphertext is malformed');
    }
    const iv = data.subarray(1, 1 + IV_BYTES);
    const tag = data.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const body = data.subarray(1 + IV_BYTES + TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(associatedData(tenantId, subject));
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      return JSON.parse(plain) as Record<string, string>;
    } catch {
      throw new CredentialDecryptionError(
        `credentials of ${subject} failed authentication (tampered, or moved from another row)`,
      );
    }
  }
}
