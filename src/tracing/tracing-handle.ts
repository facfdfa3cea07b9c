import type { ClientInterceptors } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import type { RequestHandler } from 'express';

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
