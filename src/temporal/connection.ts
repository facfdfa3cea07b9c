import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ClientInterceptors } from '@temporalio/client';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { apiSchema, ConfigError, type Env } from '../config/env.js';
import { encryptionDataConverter } from './payload-codec.js';

/** The names @temporalio/envconfig reads, as the Temporal CLI does. */
const ENVCONFIG_NAMES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_PROFILE',
  'TEMPORAL_CONFIG_FILE',
] as const;

type ConnectSettings = Pick<Env, (typeof ENVCONFIG_NAMES)[number]>;
type TemporalSettings = ConnectSettings & Pick<Env, 'TEMPORAL_CLIENT_CALL_ATTEMPTS' | 'PAYLOAD_CODEC_KEYS'>;

const DEFAULT_ADDRESS = apiSchema.shape.TEMPORAL_ADDRESS.parse(undefined);
const DEFAULT_NAMESPACE = apiSchema.shape.TEMPORAL_NAMESPACE.parse(undefined);

/** Payload encryption for clients and workers alike: nothing talks to Temporal without it. */
export function temporalDataConverter(env: Pick<Env, 'PAYLOAD_CODEC_KEYS'>): DataConverter {
  if (!env.PAYLOAD_CODEC_KEYS) {
    throw new ConfigError('Missing configuration: PAYLOAD_CODEC_KEYS (e.g. p1:$(openssl rand -base64 32)); encrypts personal data in Temporal');
  }
  return encryptionDataConverter(env.PAYLOAD_CODEC_KEYS);
}

/**
 * Connection settings through @temporalio/envconfig, so TOML profiles (TEMPORAL_PROFILE,
 * TEMPORAL_CONFIG_FILE), TLS and Temporal Cloud API keys behave as in the Temporal CLI. It reads our
 * parsed settings, not process.env. Precedence: a variable that is set > the profile > our built-in
 * defaults (a profile's address is not overridden by the default 127.0.0.1:7233).
 */
export function temporalConnectConfig(env: ConnectSettings): ClientConnectConfig & { namespace: string } {
  const usesProfile = Boolean(env.TEMPORAL_PROFILE || env.TEMPORAL_CONFIG_FILE);
  const explicit = (value: string, fallback: string) => (usesProfile && value === fallback ? undefined : value);
  const vars: Record<string, unknown> = {
    ...Object.fromEntries(ENVCONFIG_NAMES.map((name) => [name, env[name]])),
    TEMPORAL_ADDRESS: explicit(env.TEMPORAL_ADDRESS, DEFAULT_ADDRESS),
    TEMPORAL_NAMESPACE: explicit(env.TEMPORAL_NAMESPACE, DEFAULT_NAMESPACE),
    // false is our default, not a decision: leave a profile's TLS alone unless TLS is asked for.
    TEMPORAL_TLS: env.TEMPORAL_TLS ? 'true' : undefined,
  };
  const overrideEnvVars = Object.fromEntries(Object.entries(vars).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const config = loadClientConnectConfig({ overrideEnvVars, disableFile: !usesProfile });
  return { ...config, namespace: config.namespace ?? env.TEMPORAL_NAMESPACE };
}

/**
 * How long one client call retries while Temporal does not answer: by default 6 attempts, about 3 s of
 * backoff, instead of the SDK's 10 (about 20 s). An API request then answers 503 naming Temporal
 * within seconds instead of holding its connection that long, and what it committed is not lost: the
 * reconciliation sweep starts the workflow of a payment or refund whose start failed. Callers in the
 * worker (the outbox relay, activities) retry on their own schedule. TEMPORAL_CLIENT_CALL_ATTEMPTS
 * trades one for the other (10 is the SDK's default).
 */
export function clientRetryInterceptors(attempts = apiSchema.shape.TEMPORAL_CLIENT_CALL_ATTEMPTS.parse(undefined)) {
  return [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: attempts }))];
}

/** `interceptors`: the tracing interceptors when tracing is on (runtime.tracing.clientInterceptors). */
export async function connectTemporalClient(env: TemporalSettings, interceptors?: ClientInterceptors): Promise<Client> {
  const { connectionOptions, namespace } = temporalConnectConfig(env);
  const connection = await Connection.connect({ ...connectionOptions, interceptors: clientRetryInterceptors(env.TEMPORAL_CLIENT_CALL_ATTEMPTS) });
  return new Client({ connection, namespace, dataConverter: temporalDataConverter(env), ...(interceptors ? { interceptors } : {}) });
}

export function connectTemporalWorker(env: TemporalSettings): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectConfig(env).connectionOptions);
}
