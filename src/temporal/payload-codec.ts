/**
 * The one payload codec for everything that leaves a process into Temporal (workflow inputs and
 * results, activity arguments, signals, queries, memos, failure messages): AES-256-GCM over the whole serialised
 * payload, so customer fields, payment tokens, metadata and descriptions are never stored in clear
 * text in Temporal's history. After samples-typescript `encryption`: the key id travels in the
 * payload's metadata, the first key encrypts and every listed key decrypts (rotation without
 * rewriting histories). Payloads written before the codec (no `binary/encrypted` encoding) pass
 * through decode unchanged, so old histories still replay.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { METADATA_ENCODING_KEY, ValueError, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';

const IV_BYTES = 12;
const encode = (text: string): Uint8Array => Buffer.from(text, 'utf8');
const decode = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const TAG_BYTES = 16;

/** `id` travels with each payload; `key` is 32 bytes. */
export interface CodecKey {
  id: string;
  key: Buffer;
}

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: CodecKey[]) {
    if (keys.length === 0) throw new Error('EncryptionCodec needs at least one key');
    for (const k of keys) if (k.key.length !== 32) throw new Error(`payload codec key "${k.id}" must be 32 bytes`);
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys[0]!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      // The key id is authenticated too, so a payload cannot be relabelled to another key.
      cipher.setAAD(Buffer.from(id));
      const plain = proto.temporal.api.common.v1.Payload.encode(payload).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: encode(ENCRYPTED_ENCODING), [METADATA_KEY_ID]: encode(id) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || decode(encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyIdBytes = payload.metadata?.[METADATA_KEY_ID];
      if (!keyIdBytes || !payload.data) throw new ValueError('encrypted payload without key id or data');
      const id = decode(keyIdBytes);
      const key = this.byId.get(id);
      if (!key) throw new ValueError(`payload was encrypted with key "${id}", which is not in PAYLOAD_CODEC_KEYS`);
      const data = Buffer.from(payload.data);
      if (data.length < IV_BYTES + TAG_BYTES) throw new ValueError('encrypted payload is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new ValueError(`encrypted payload failed authentication with key "${id}" (tampered or wrong key)`);
      }
      return proto.temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

/**
 * The module of the failure converter that encodes failure messages and stack traces (compiled:
 * .cjs next to this file). Workflow bundles must be built with it too (bundleWorkflowCode).
 */
export const failureConverterPath = fileURLToPath(
  new URL(`./failure-converter.${import.meta.url.endsWith('.js') ? 'cjs' : 'cts'}`, import.meta.url),
);

/**
 * The data converter every Temporal client and worker of a deployment uses: payloads encrypted, and
 * failure messages with them (otherwise a message is stored in clear beside its encrypted payloads).
 */
export function encryptionDataConverter(keys: CodecKey[]): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath };
}
