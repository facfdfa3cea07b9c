import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Env } from '../config/env.js';

type TemporalSettings = Pick<
  Env,
  'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE' | 'TEMPORAL_TLS' | 'TEMPORAL_TLS_CERT_PATH' | 'TEMPORAL_TLS_KEY_PATH' | 'TEMPORAL_API_KEY'
>;

/** The same settings reach a local dev server, a self-hosted cluster (mTLS) or Temporal Cloud (API key). */
function connectionOptions(env: TemporalSettings): ConnectionOptions & NativeConnectionOptions {
  const mtls =
    env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH
      ? {
          clientCertPair: {
            crt: readFileSync(env.TEMPORAL_TLS_CERT_PATH),
            key: readFileSync(env.TEMPORAL_TLS_KEY_PATH),
          },
        }
      : undefined;
  const tls = mtls ?? (env.TEMPORAL_TLS || env.TEMPORAL_API_KEY ? true : undefined);
  return {
    address: env.TEMPORAL_ADDRESS,
    ...(tls ? { tls } : {}),
    ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
  };
}

export async function connectTemporalClient(env: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(env));
  return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
}

export function connectTemporalWorker(env: TemporalSettings): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(env));
}
