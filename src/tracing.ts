/**
 * OpenTelemetry tracing, one provider per thread. Spans cover frame handling (edge), actor
 * commands (shard host), persister batches and outside calls; the W3C `traceparent` travels in
 * the bus envelope (both buses carry it the same way) and is honoured on HTTP requests.
 * Exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise the API's no-op
 * tracer costs next to nothing. Spans carry ids, types and sizes — never bodies or tokens.
 * The SDK is the 2.x line (exporter 0.223): 3.x needs Node ≥ 22.15 and we run Node 20; the
 * classes used here are the same in both. Its peers pin @opentelemetry/api below 1.10.
 */
import { context, propagation, trace, type Attributes, type Link, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BatchSpanProcessor, type SpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

let tracer: Tracer = trace.getTracer('chat');
let provider: TracerProvider | undefined;

/** Sets this thread's tracer up; `exporter` is for tests (in-memory), else OTLP when configured. */
export function initTracing(thread: string, exporter?: SpanExporter): void {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!exporter && !endpoint) return;
  const processor = exporter
    ? new SimpleSpanProcessor({ exporter })
    : new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${endpoint!.replace(/\/+$/, '')}/v1/traces` }), scheduledDelayMillis: 500 });
  provider = new TracerProvider({ spanProcessors: [processor] });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  tracer = provider.getTracer('chat', '1', {});
  void thread;
}

export function tracingEnabled(): boolean {
  return provider !== undefined;
}

/** Starts a span, child of the given W3C traceparent when there is one. */
export function startSpan(name: string, traceparent?: string, attributes?: Attributes, links?: Link[]): Span {
  const parent = traceparent ? propagation.extract(context.active(), { traceparent }) : context.active();
  return tracer.startSpan(name, { attributes, links }, parent);
}

/** The W3C traceparent of a span, to carry across the bus. */
export function traceparentOf(span: Span): string | undefined {
  if (!provider) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return carrier.traceparent;
}

export function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  if (!traceparent) return undefined;
  return trace.getSpanContext(propagation.extract(context.active(), { traceparent }));
}

export async function flushTracing(): Promise<void> {
  await provider?.forceFlush().catch(() => {});
}
