import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { parseEnv, workerSchema } from '../../src/config/env.js';
import { clientRetryInterceptors, temporalConnectConfig } from '../../src/temporal/connection.js';

const dir = mkdtempSync(path.join(tmpdir(), 'envconfig-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('Temporal connection settings (@temporalio/envconfig)', () => {
  it('default to a local dev server', () => {
    const c = temporalConnectConfig(parseEnv(workerSchema, {}));
    expect(c.connectionOptions.address).toBe('127.0.0.1:7233');
    expect(c.namespace).toBe('default');
    expect(c.connectionOptions.tls).toBeFalsy();
  });

  it('take address, namespace, TLS and API key from a TOML profile, overridden by variables that are set', () => {
    const config = file(
      'temporal.toml',
      `[profile.cloud]\naddress = "acme.a1b2c.tmprl.cloud:7233"\nnamespace = "acme.a1b2c"\napi_key = "profile-key"\n[profile.cloud.tls]\n`,
    );
    const fromProfile = temporalConnectConfig(parseEnv(workerSchema, { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud' }));
    expect(fromProfile).toMatchObject({ namespace: 'acme.a1b2c', connectionOptions: { address: 'acme.a1b2c.tmprl.cloud:7233', apiKey: 'profile-key' } });
    expect(fromProfile.connectionOptions.tls).toBeTruthy();

    const overridden = temporalConnectConfig(parseEnv(workerSchema, { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'cloud', TEMPORAL_NAMESPACE: 'other', TEMPORAL_API_KEY: 'env-key' }));
    expect(overridden).toMatchObject({ namespace: 'other', connectionOptions: { address: 'acme.a1b2c.tmprl.cloud:7233', apiKey: 'env-key' } });
  });

  it('turn TLS on for an API key, and keep the old certificate variable names working as aliases (mTLS)', () => {
    expect(temporalConnectConfig(parseEnv(workerSchema, { TEMPORAL_API_KEY: 'k' })).connectionOptions.tls).toBeTruthy();
    const crt = file('client.crt', 'CERT');
    const key = file('client.key', 'KEY');
    const mtls = temporalConnectConfig(parseEnv(workerSchema, { TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS_CERT_PATH: crt, TEMPORAL_TLS_KEY_PATH: key }));
    const pair = (mtls.connectionOptions.tls as { clientCertPair?: { crt: Uint8Array; key: Uint8Array } }).clientCertPair;
    expect([Buffer.from(pair!.crt).toString(), Buffer.from(pair!.key).toString()]).toEqual(['CERT', 'KEY']);
  });

  it('bound how long one call retries while Temporal does not answer (TEMPORAL_CLIENT_CALL_ATTEMPTS)', async () => {
    expect(parseEnv(workerSchema, {}).TEMPORAL_CLIENT_CALL_ATTEMPTS).toBe(6);
    expect(() => parseEnv(workerSchema, { TEMPORAL_CLIENT_CALL_ATTEMPTS: '0' })).toThrow(/TEMPORAL_CLIENT_CALL_ATTEMPTS/);
    expect(() => parseEnv(workerSchema, { TEMPORAL_CLIENT_CALL_ATTEMPTS: '21' })).toThrow(/TEMPORAL_CLIENT_CALL_ATTEMPTS/);
    // Nothing listens on port 1: every attempt is refused at once, so the time taken is the backoff.
    const timeToGiveUp = async (attempts: number) => {
      const connection = Connection.lazy({ address: '127.0.0.1:1', interceptors: clientRetryInterceptors(attempts) });
      const started = Date.now();
      await expect(connection.workflowService.getSystemInfo({})).rejects.toThrow();
      await connection.close();
      return Date.now() - started;
    };
    expect(await timeToGiveUp(1)).toBeLessThan(1_000);
    // Three waits of the SDK's backoff (170, 289, 491 ms, each with at most 20% jitter): at least 760 ms.
    expect(await timeToGiveUp(4)).toBeGreaterThanOrEqual(760);
  });
});
