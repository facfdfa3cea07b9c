import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../src/config/env.js';
import { temporalConnectConfig } from '../../src/temporal/connection.js';

const dir = mkdtempSync(path.join(tmpdir(), 'envconfig-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('Temporal connection settings (@temporalio/envconfig)', () => {
  it('default to a local dev server', () => {
    const c = temporalConnectConfig(parseEnv({}));
    expect(c.connectionOptions.address).toBe('127.0.0.1:7233');
    expect(c.namespace).toBe('default');
    expect(c.connectionOptions.tls).toBeFalsy();
  });

  it('take address, namespace, TLS and API key from a TOML profile, overridden by variables that are set', () => {
    const config = file(
      'temporal.toml',
      `[profile.cloud]\naddress = "acme.a1b2c.tmprl.cloud:7233"\nnamespace = "acme.a1b2c"\napi_key = "profile-key"\n[profile.cloud.tls]\n`,
    );
    const fromProfile = temporalConnectConfig(parseEnv({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud' }));
    expect(fromProfile).toMatchObject({ namespace: 'acme.a1b2c', connectionOptions: { address: 'acme.a1b2c.tmprl.cloud:7233', apiKey: 'profile-key' } });
    expect(fromProfile.connectionOptions.tls).toBeTruthy();

    const overridden = temporalConnectConfig(parseEnv({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud', TEMPORAL_NAMESPACE: 'other', TEMPORAL_API_KEY: 'env-key' }));
    expect(overridden).toMatchObject({ namespace: 'other', connectionOptions: { address: 'acme.a1b2c.tmprl.cloud:7233', apiKey: 'env-key' } });
  });

  it('turn TLS on for an API key, and keep the old certificate variable names working (mTLS)', () => {
    expect(temporalConnectConfig(parseEnv({ TEMPORAL_API_KEY: 'k' })).connectionOptions.tls).toBeTruthy();
    const crt = file('client.crt', 'CERT');
    const key = file('client.key', 'KEY');
    const mtls = temporalConnectConfig(parseEnv({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS_CERT_PATH: crt, TEMPORAL_TLS_KEY_PATH: key }));
    const pair = (mtls.connectionOptions.tls as { clientCertPair?: { crt: Uint8Array; key: Uint8Array } }).clientCertPair;
    expect([Buffer.from(pair!.crt).toString(), Buffer.from(pair!.key).toString()]).toEqual(['CERT', 'KEY']);
  });
});
