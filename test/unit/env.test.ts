import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiSchema, ConfigError, devSchema, parseEnv, processSchemas, requireSettings, toolsSchema, workerSchema } from '../../src/config/env.js';

describe('parseEnv', () => {
  it('applies defaults', () => {
    const env = parseEnv(apiSchema, {});
    expect(env.PORT).toBe(3000);
    expect(env.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('parses credential keys, first key first', () => {
    const a = randomBytes(32).toString('base64');
    const b = randomBytes(32).toString('base64');
    const env = parseEnv(toolsSchema, { CREDENTIALS_KEYS: `new:${a}, old:${b}` });
    expect(env.CREDENTIALS_KEYS?.map((k) => k.id)).toEqual(['new', 'old']);
    expect(env.CREDENTIALS_KEYS?.[0]?.key.length).toBe(32);
  });

  it.each([
    [apiSchema, { PORT: 'eighty' }, 'PORT'],
    [toolsSchema, { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [toolsSchema, { CREDENTIALS_KEYS: 'k1:short' }, 'CREDENTIALS_KEYS'],
    [workerSchema, { TEMPORAL_TLS: 'maybe' }, 'TEMPORAL_TLS'],
    [apiSchema, { ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [workerSchema, { WORKER_TASK_QUEUES: 'erp,invoices' }, 'WORKER_TASK_QUEUES'],
    [workerSchema, { WORKER_TASK_QUEUES: ' , ' }, 'WORKER_TASK_QUEUES'],
    [devSchema, { DEMO: 'perhaps' }, 'DEMO'],
  ])('names the bad variable: %#', (schema, source, name) => {
    expect(() => parseEnv(schema, source)).toThrow(ConfigError);
    expect(() => parseEnv(schema, source)).toThrow(new RegExp(`${name}:`));
  });

  it('reads the task queues a worker serves, without repeats', () => {
    expect(parseEnv(workerSchema, { WORKER_TASK_QUEUES: 'erp, customers,erp' }).WORKER_TASK_QUEUES).toEqual(['erp', 'customers']);
    expect(parseEnv(workerSchema, {}).WORKER_TASK_QUEUES).toBeUndefined();
    expect(() => parseEnv(workerSchema, { WORKER_TASK_QUEUES: 'erp,invoices' })).toThrow(/payments, connections, customers, erp/);
  });

  it('requireSettings names everything missing and what it should look like', () => {
    expect(() => requireSettings(parseEnv(apiSchema, {}), ['ADMIN_TOKEN', 'DATABASE_URL'])).toThrow(
      'Missing configuration: ADMIN_TOKEN (at least 24 random characters), DATABASE_URL (postgres://user:pass@host:5432/db)',
    );
  });
});

describe('one schema per process', () => {
  it("reads only the process's own settings: another process's malformed setting does not stop it", () => {
    const workerOnly = { WORKER_TASK_QUEUES: 'invoices', ERP_MAX_PAGE_RECORDS: 'many' };
    const apiOnly = { TRUST_PROXY: 'proxy.internal', ADMIN_TOKEN: 'short' };
    expect(() => parseEnv(apiSchema, workerOnly)).not.toThrow();
    expect(() => parseEnv(workerSchema, workerOnly)).toThrow(/WORKER_TASK_QUEUES:/);
    expect(() => parseEnv(workerSchema, workerOnly)).toThrow(/ERP_MAX_PAGE_RECORDS:/);
    expect(() => parseEnv(workerSchema, apiOnly)).not.toThrow();
    expect(() => parseEnv(apiSchema, apiOnly)).toThrow(/TRUST_PROXY:/);
    expect(() => parseEnv(apiSchema, apiOnly)).toThrow(/ADMIN_TOKEN:/);
    // The migrate and reseal commands read neither, nor Temporal's settings.
    expect(() => parseEnv(toolsSchema, { ...workerOnly, ...apiOnly, TEMPORAL_TLS: 'maybe' })).not.toThrow();
    expect(parseEnv(apiSchema, workerOnly)).not.toHaveProperty('WORKER_TASK_QUEUES');
  });

  it('dev reads every setting of the API and the worker, and its own', () => {
    const dev = new Set(Object.keys(devSchema.shape));
    for (const key of [...Object.keys(apiSchema.shape), ...Object.keys(workerSchema.shape)]) expect(dev, key).toContain(key);
    expect(Object.keys(processSchemas).sort()).toEqual(['api', 'dev', 'temporal', 'tools', 'worker']);
  });
});

describe('Temporal TLS variables', () => {
  it("are @temporalio/envconfig's names; TEMPORAL_TLS_CERT_PATH/KEY_PATH are read as deprecated aliases", () => {
    const old = parseEnv(workerSchema, { TEMPORAL_TLS_CERT_PATH: '/old.crt', TEMPORAL_TLS_KEY_PATH: '/old.key' });
    expect([old.TEMPORAL_TLS_CLIENT_CERT_PATH, old.TEMPORAL_TLS_CLIENT_KEY_PATH]).toEqual(['/old.crt', '/old.key']);
    expect(old).not.toHaveProperty('TEMPORAL_TLS_CERT_PATH');
    const both = parseEnv(workerSchema, { TEMPORAL_TLS_CERT_PATH: '/old.crt', TEMPORAL_TLS_CLIENT_CERT_PATH: '/new.crt' });
    expect(both.TEMPORAL_TLS_CLIENT_CERT_PATH).toBe('/new.crt');
    for (const schema of Object.values(processSchemas)) expect(Object.keys(schema.shape)).not.toContain('TEMPORAL_TLS_CERT_PATH');
  });
});
