import { createRequire } from 'node:module';
import type { Env } from '../config/env.js';
import type { Tracing } from './tracing-handle.js';

export type { Tracing } from './tracing-handle.js';


export const tracingOff: Tracing = { enabled: false, shutdown: async () => {} };

export type TracingSettings = Pick<Env, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_HEADERS' | 'OTEL_SERVICE_NAME'>;

/** Workflow interceptor module bundled into the workflow code when tracing is on. */
export const tracingWorkflowInterceptorModule = createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** `serviceName`: this process's name (`switchyard-api`, `switchyard-worker`) unless OTEL_SERVICE_NAME is set. */
export async function startTracing(settings: TracingSettings, serviceName: string): Promise<Tracing> {
  if (!settings.OTEL_EXPORTER_OTLP_ENDPOINT) return tracingOff;
  // Loaded only when on: the SDK and the exporter cost start-up time and memory.
  const { startOtelSdk } = await import('./otel-sdk.js');
  return startOtelSdk({
    endpoint: settings.OTEL_EXPORTER_OTLP_ENDPOINT,
    headers: settings.OTEL_EXPORTER_OTLP_HEADERS ?? {},
    serviceName: settings.OTEL_SERVICE_NAME ?? serviceName,
  });
}
