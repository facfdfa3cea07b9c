/**
 * The OpenTelemetry SDK, loaded only when tracing is on (see tracing.ts): a tracer provider with a
 * batching OTLP/HTTP exporter, Temporal's client and activity interceptors, the sink that exports
 * the workflows' spans, and a span per API request.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type SpanContext } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { node } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  type OpenTelemetrySinks,
  type SerializableSpan,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks } from '@temporalio/worker';
import type { RequestHandler } from 'express';
import type { Tracing } from './tracing-handle.js';

export function startOtelSdk(opts: { endpoint: string; headers: Record<string, string>; serviceName: string }): Tracing {
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName });
  // OTEL_EXPORTER_OTLP_ENDPOINT is the base URL; traces go to <base>/v1/traces (OTLP spec).
  const exporter = new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/+$/, '')}/v1/traces`, headers: opts.headers });
  const processor = new BatchSpanProcessor(exporter);
  const provider = new node.NodeTracerProvider({ resource, spanProcessors: [processor] });
  // Global tracer provider, AsyncLocalStorage context manager, W3C trace-context propagator.
  provider.register();
  return {
    enabled: true,
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    worker: {
      interceptors: {
        activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
      },
      sinks: workflowSpanSink(processor, resource),
    },
    httpMiddleware: httpServerSpans(),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * The `exporter` sink the workflow interceptors send their spans to (they cannot export from the
 * workflow sandbox). Written here instead of the package's makeWorkflowExporter: @temporalio's 1.24
 * package builds spans in the OpenTelemetry 1.x shape (`parentSpanId`, `instrumentationLibrary`),
 * and our 2.x exporter reads `parentSpanContext` and `instrumentationScope`; passed through as they
 * are, workflow spans would lose their parent and break the OTLP serializer.
 */
function workflowSpanSink(processor: SpanProcessor, resource: Resource): InjectedSinks<OpenTelemetrySinks> {
  return {
    exporter: {
      export: {
        fn: (info, spans) => {
          for (const s of spans) {
            const { traceState: _traceState, ...ids } = s.spanContext;
            const spanContext: SpanContext = ids;
            const parentSpanContext: SpanContext | undefined = s.parentSpanId ? { traceId: ids.traceId, spanId: s.parentSpanId, traceFlags: ids.traceFlags, isRemote: false } : undefined;
            const attributes: Attributes = { ...s.attributes, 'temporal.workflow_id': info.workflowId, 'temporal.run_id': info.runId, 'temporal.workflow_type': info.workflowType };
            processor.onEnd(toReadableSpan(s, spanContext, parentSpanContext, attributes, resource));
          }
        },
      },
    },
  };
}

function toReadableSpan(s: SerializableSpan, spanContext: SpanContext, parentSpanContext: SpanContext | undefined, attributes: Attributes, resource: Resource): ReadableSpan {
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => spanContext,
    ...(parentSpanContext ? { parentSpanContext } : {}),
    startTime: s.startTime,
    endTime: s.endTime,
    status: s.status,
    attributes,
    links: s.links,
    events: s.events,
    duration: s.duration,
    ended: s.ended,
    resource,
    instrumentationScope: { name: s.instrumentationLibrary.name, ...(s.instrumentationLibrary.version ? { version: s.instrumentationLibrary.version } : {}) },
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: s.droppedLinksCount,
  };
}

/**
 * One SERVER span per API request, continuing a caller's `traceparent`, named by route template
 * (never the raw path). The request's and response's event listeners are bound to the span's context,
 * so handlers that run after the body parser (stream events) still see it as active.
 */
function httpServerSpans(): RequestHandler {
  const tracer = trace.getTracer('switchyard-api');
  return (req, res, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(req.method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.path': req.path } }, parent);
    const active = trace.setSpan(parent, span);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : undefined;
      if (route) {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.bind(active, req);
    context.bind(active, res);
    context.with(active, next);
  };
}
