import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialCipher, CredentialDecryptionError } from '../../src/secrets/credential-cipher.js';

const secret = { secretKey: 'sk_test_very_secret_value' };
const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

describe('CredentialCipher', () => {
  it('round-trips and never leaves the plaintext in the ciphertext', () => {
    const cipher = new CredentialCipher([k1]);
    const sealed = cipher.seal(secret, 'ten_a', 'con_a');
    expect(sealed.keyId).toBe('k1');
    expect(sealed.ciphertext.toString('latin1')).not.toContain('sk_test');
    expect(cipher.open(sealed, 'ten_a', 'con_a')).toEqual(secret);
  });

  it('uses a fresh IV each time', () => {
    const cipher = new CredentialCipher([k1]);
    expect(cipher.seal(secret, 't', 'c').ciphertext.equals(cipher.seal(secret, 't', 'c').ciphertext)).toBe(false);
  });

  it.each([
    ['another tenant', 'ten_b', 'con_a'],
    ['another connection', 'ten_a', 'con_b'],
  ])('fails closed when moved to %s', (_label, tenant, connection) => {
    const cipher = new CredentialCipher([k1]);
    const sealed = cipher.seal(secret, 'ten_a', 'con_a');
    expect(() => cipher.open(sealed, tenant, connection)).toThrow(CredentialDecryptionError);
  });

  it.each([1, 5, 20, 40])('fails closed when byte %i is flipped', (index) => {
    const cipher = new CredentialCipher([k1]);
    const sealed = cipher.seal(secret, 'ten_a', 'con_a');
    const tampered = Buffer.from(sealed.ciphertext);
    tampered[index] = tampered[index]! ^ 0x01;
    expect(() => cipher.open({ ...sealed, ciphertext: tampered }, 'ten_a', 'con_a')).toThrow(CredentialDecryptionError);
  });

  it('fails closed on an unknown key id and on truncated input', () => {
    const cipher = new CredentialCipher([k1]);
    const sealed = cipher.seal(secret, 't', 'c');
    expect(() => cipher.open({ ...sealed, keyId: 'nope' }, 't', 'c')).toThrow(/unknown credentials key id/);
    expect(() => cipher.open({ ...sealed, ciphertext: sealed.ciphertext.subarray(0, 10) }, 't', 'c')).toThrow(
      CredentialDecryptionError,
    );
  });

  it('rotates: the new first key seals, the old key still opens old rows', () => {
    const old = new CredentialCipher([k1]).seal(secret, 't', 'c');
    const rotated = new CredentialCipher([k2, k1]);
    expect(rotated.open(old, 't', 'c')).toEqual(secret);
    expect(rotated.seal(secret, 't', 'c').keyId).toBe('k2');
    expect(() => new CredentialCipher([k2]).open(old, 't', 'c')).toThrow(CredentialDecryptionError);
  });

  it('error messages carry no key material or plaintext', () => {
    const cipher = new CredentialCipher([k1]);
    const sealed = cipher.seal(secret, 't', 'c');
    try {
      cipher.open(sealed, 't', 'other');
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain('sk_test');
      expect(String(err)).not.toContain(k1.key.toString('base64'));
    }
  });
});
