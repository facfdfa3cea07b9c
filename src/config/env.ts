import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * `CREDENTIALS_KEYS`: comma-separated `keyId:base64key` pairs, each key 32 bytes (AES-256). The first
 * key encrypts; every listed key can decrypt, so a key can be rotated in without rewriting rows.
 */
const credentialKeys = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    const keys: { id: string; key: Buffer }[] = [];
    for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
      const sep = part.indexOf(':');
      const id = part.slice(0, sep);
      const key = Buffer.from(part.slice(sep + 1), 'base64');
      if (sep <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || key.length !== 32) {
        ctx.addIssue({
          code: 'custom',
          message: 'each entry must look like keyId:<base64 of 32 random bytes> (e.g. k1:$(openssl rand -base64 32))',
        });
        return z.NEVER;
      }
      keys.push({ id, key });
    }
    if (keys.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'at least one keyId:base64key entry is required' });
      return z.NEVER;
    }
    return keys;
  });

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Public base URL of the API, used in printed hints and webhook URLs. */
  PUBLIC_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),

  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  DATA_DIR: z.string().default('.data'),

  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_UI_URL: z.string().default('http://127.0.0.1:8233'),
  TEMPORAL_CLI: z.string().optional(),
  /** Appended to every task queue name, to isolate one deployment's workers from another's. */
  TASK_QUEUE_SUFFIX: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, "_" or "-"').optional(),
  HEALTH_CHECK_INTERVAL_SECONDS: z.coerce.number().int().min(5).max(3600).default(30),
  /** Payment workflow: how long to wait for a gateway callback before polling its status. */
  PAYMENT_CALLBACK_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),

  ADMIN_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  CREDENTIALS_KEYS: credentialKeys.optional(),

  STRIPE_API_URL: z.url().optional(),
  PROVIDERS_DIR: z.string().default('providers'),
  ALLOW_PRIVATE_PROVIDER_URLS: bool.default(false),
});

export type Env = z.infer<typeof envSchema>;

/** Thrown at start-up when a setting is missing or malformed; names each variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function parseEnv(source: Record<string, string | undefined>): Env {
  // Empty strings mean "unset", as in most shells' `FOO= cmd`.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Narrows a config to what a production process needs; names what is missing. */
export function requireSettings<K extends keyof Env>(env: Env, keys: K[]): Env & Required<Pick<Env, K>> {
  const missing = keys.filter((k) => env[k] === undefined);
  if (missing.length > 0) {
    throw new ConfigError(
      `Missing configuration: ${missing.map(String).join(', ')} (see the configuration table in README.md)`,
    );
  }
  return env as Env & Required<Pick<Env, K>>;
}
