import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv, requireSettings } from '../../src/config/env.js';

describe('parseEnv', () => {
  it('applies defaults', () => {
    const env = parseEnv({});
    expect(env.PORT).toBe(3000);
    expect(env.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('parses credential keys, first key first', () => {
    const a = randomBytes(32).toString('base64');
    const b = randomBytes(32).toString('base64');
    const env = parseEnv({ CREDENTIALS_KEYS: `new:${a}, old:${b}` });
    expect(env.CREDENTIALS_KEYS?.map((k) => k.id)).toEqual(['new', 'old']);
    expect(env.CREDENTIALS_KEYS?.[0]?.key.length).toBe(32);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ CREDENTIALS_KEYS: 'k1:short' }, 'CREDENTIALS_KEYS'],
    [{ TEMPORAL_TLS: 'maybe' }, 'TEMPORAL_TLS'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ WORKER_TASK_QUEUES: 'erp,invoices' }, 'WORKER_TASK_QUEUES'],
    [{ WORKER_TASK_QUEUES: ' , ' }, 'WORKER_TASK_QUEUES'],
  ])('names the bad variable: %o', (source, name) => {
    expect(() => parseEnv(source)).toThrow(ConfigError);
    expect(() => parseEnv(source)).toThrow(new RegExp(`${name}:`));
  });

  it('reads the task queues a worker serves, without repeats', () => {
    expect(parseEnv({ WORKER_TASK_QUEUES: 'erp, customers,erp' }).WORKER_TASK_QUEUES).toEqual(['erp', 'customers']);
    expect(parseEnv({}).WORKER_TASK_QUEUES).toBeUndefined();
    expect(() => parseEnv({ WORKER_TASK_QUEUES: 'erp,invoices' })).toThrow(/payments, connections, customers, erp/);
  });

  it('requireSettings names what is missing', () => {
    expect(() => requireSettings(parseEnv({}), ['ADMIN_TOKEN', 'DATABASE_URL'])).toThrow(/ADMIN_TOKEN, DATABASE_URL/);
  });
});
