import { createRequire } from 'node:module';
import type { ClientInterceptors } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import type { RequestHandler } from 'express';
import type { Env } from '../config/env.js';

/**
 * OpenTelemetry tracing across API → workflow → activities, with Temporal's own interceptors
 * (`@temporalio/interceptors-opentelemetry`): the API's request span is the parent of the client's
 * StartWorkflow span, whose context travels in the workflow's headers to the workflow's spans and on
 * to every activity's span. On only when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise no SDK is
 * loaded, no interceptor is installed and the workflow bundle has no tracing code (no overhead).
 */
export interface Tracing {
  enabled: boolean;
  /** For `new Client({ interceptors })`: the StartWorkflow / SignalWorkflow spans carry the context on. */
  clientInterceptors?: ClientInterceptors;
  /** For the workers: activity interceptors and the sink that exports the workflows' spans. */
  worker?: Pick<WorkerOptions, 'interceptors' | 'sinks'>;
  /** The API's first middleware: one SERVER span per request, active while the request is handled. */
  httpMiddleware?: RequestHandler;
  /** Exports what is still buffered and stops. */
  shutdown(): Promise<void>;
}

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
