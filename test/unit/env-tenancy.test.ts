import { describe, expect, it } from 'vitest';
import { apiSchema, ConfigError, parseEnv } from '../../src/config/env.js';

describe('rate limit and proxy settings', () => {
  it('defaults: no proxy trusted, limits per minute', () => {
    const env = parseEnv(apiSchema, {});
    expect(env.TRUST_PROXY).toBe(false);
    expect([env.RATE_LIMIT_WINDOW_SECONDS, env.RATE_LIMIT_PER_TENANT, env.RATE_LIMIT_PER_IP, env.RATE_LIMIT_PER_WEBHOOK_CONNECTION]).toEqual([60, 1200, 60, 1200]);
  });

  it.each([
    ['true', true],
    ['false', false],
    ['2', 2],
    ['loopback, 10.0.0.0/8,fd00::/8', ['loopback', '10.0.0.0/8', 'fd00::/8']],
  ])('TRUST_PROXY=%s', (raw, parsed) => {
    expect(parseEnv(apiSchema, { TRUST_PROXY: raw }).TRUST_PROXY).toEqual(parsed);
  });

  it.each([['proxy.internal'], ['10.0.0.0/33'], ['1.2.3.4/8/1']])('refuses TRUST_PROXY=%s, naming it', (raw) => {
    expect(() => parseEnv(apiSchema, { TRUST_PROXY: raw })).toThrow(ConfigError);
    expect(() => parseEnv(apiSchema, { TRUST_PROXY: raw })).toThrow(/TRUST_PROXY:/);
  });

  it('refuses a zero limit', () => {
    expect(() => parseEnv(apiSchema, { RATE_LIMIT_PER_IP: '0' })).toThrow(/RATE_LIMIT_PER_IP:/);
  });
});
