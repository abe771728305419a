/**
 * The gateway's tracer (OpenTelemetry JS SDK): one SERVER span per request named by its operationId,
 * one CLIENT span per adapter attempt (retries and the circuit's state on each, the kind's own
 * attributes), the shadow call and each outbox delivery as spans of their own traces linked to the
 * request that caused them. W3C trace context in (`traceparent`/`tracestate` of the caller) and out
 * (to http backends). Exported over OTLP/HTTP (protobuf or JSON) in batches; sampled by ratio,
 * following a caller's sampled flag.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Attributes, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace-base';
import type { OperationRequest } from '../../kinds/kind.ts';
import { Problem, UpstreamError } from '../../problem.ts';
import type { AttemptWrapper, CallTracer, TracedBinding } from './current.ts';
import type { TracingSettings } from './tracing-config.ts';

function samplerOf(s: TracingSettings): Sampler {
  switch (s.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(s.ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(s.ratio) });
  }
}

/** How an error reads on a span: the problem type where there is one. */
function errorOf(err: unknown): { type: string; message: string } {
  if (err instanceof Problem) return { type: err.typeName, message: err.detail ?? err.title };
  // (A kind's failure as the caller will see it: the problem type it becomes.)
  if (err instanceof UpstreamError) return { type: err.toProblem().typeName, message: err.message };
  if (err instanceof Error) return { type: err.name, message: err.message };
  return { type: 'error', message: String(err) };
}

export class GatewayTracer implements CallTracer {
  readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(readonly settings: TracingSettings) {
    const options = { url: settings.url, headers: settings.headers, timeoutMillis: settings.exportTimeoutMs };
    const exporter = settings.protocol === 'http/json' ? new OtlpJsonExporter(options) : new OtlpProtoExporter(options);
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': settings.serviceName, 'process.pid': process.pid }),
      sampler: samplerOf(settings),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1_000, maxQueueSize: 8_192, maxExportBatchSize: 512 })],
    });
    this.tracer = this.provider.getTracer('ficus');
  }

  /** The caller's trace context (W3C headers, lower-cased names), or the root. */
  extract(headers: Record<string, string>): Context {
    if (headers.traceparent === undefined) return ROOT_CONTEXT;
    return this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
  }

  /** The request's SERVER span, a child of the caller's span where it sent one. */
  startServer(operationId: string, attributes: Attributes, parent: Context): { span: Span; ctx: Context } {
    const span = this.tracer.startSpan(operationId, { kind: SpanKind.SERVER, attributes }, parent);
    return { span, ctx: trace.setSpan(parent, span) };
  }

  /** `traceparent` of a span (as the outbox stores it, to link its delivery to the request). */
  traceparentOf(ctx: Context): string | undefined {
    const carrier: Record<string, string> = {};
    this.propagator.inject(ctx, carrier, defaultTextMapSetter);
    return carrier.traceparent;
  }

  traceCall<T>(binding: TracedBinding, req: OperationRequest, execute: (wrap: AttemptWrapper) => Promise<T>): Promise<T> {
    const parent = req.trace ?? ROOT_CONTEXT;
    const request = trace.getSpan(parent);
    // A call outside any traced request (another gateway of this process, a tool) makes no span; nor
    // does one of a request sampled out (its children would be too): the request's context goes on
    // to the backend as it is, unsampled.
    if (!request?.isRecording()) return execute((run) => run(parent));
    let attempt = 0;
    const wrap: AttemptWrapper = <R>(run: (ctx: Context) => Promise<R>): Promise<R> => {
      attempt++;
      const span = this.tracer.startSpan(
        `${binding.adapter} ${binding.operationId}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'ficus.adapter': binding.adapter,
            'ficus.kind': binding.kind,
            'ficus.backend': binding.backend,
            'ficus.operation': binding.operationId,
            'ficus.attempt': attempt,
            'ficus.retry': attempt > 1,
            'ficus.circuit.state': binding.policy.circuitState,
          },
        },
        parent,
      );
      let running: Promise<R>;
      try {
        running = run(trace.setSpan(parent, span));
      } catch (err) {
        running = Promise.reject(err);
      }
      return running.then(
        (value) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          const e = errorOf(err);
          const answer = err instanceof Problem && err.isClientError;
          span.setAttributes({ 'error.type': e.type, 'ficus.circuit.state_after': binding.policy.circuitState });
          // A 404 or 422 is the backend's answer, not its failure.
          if (!answer) span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
          span.end();
          throw err;
        },
      );
    };
    return execute(wrap).then(
      (value) => {
        if (attempt > 1) request.setAttribute('ficus.retries', attempt - 1);
        return value;
      },
      (err: unknown) => {
        if (attempt === 0) {
          // Refused before any attempt (circuit open, queue full): said on the request's span.
          const e = errorOf(err);
          request.addEvent('ficus.call.refused', { 'ficus.adapter': binding.adapter, 'error.type': e.type, 'ficus.circuit.state': binding.policy.circuitState });
        } else if (attempt > 1) request.setAttribute('ficus.retries', attempt - 1);
        throw err;
      },
    );
  }

  traceShadow<T>(operationId: string, request: Context, run: (ctx: Context) => Promise<T>): Promise<T> {
    const cause = trace.getSpanContext(request);
    if (!cause) return run(request);
    const links: Link[] = cause ? [{ context: cause, attributes: { 'ficus.link': 'shadowed request' } }] : [];
    const span = this.tracer.startSpan(`shadow ${operationId}`, { kind: SpanKind.INTERNAL, links, root: true, attributes: { 'ficus.operation': operationId, 'ficus.shadow': true } }, ROOT_CONTEXT);
    return this.ended(span, () => run(trace.setSpan(ROOT_CONTEXT, span)));
  }

  traceDelivery<T>(operationId: string, writeId: string, attempt: number, traceparent: string | undefined, run: (ctx: Context) => Promise<T>): Promise<T> {
    const queued = traceparent ? trace.getSpanContext(this.propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter)) : undefined;
    const links: Link[] = queued ? [{ context: queued, attributes: { 'ficus.link': 'queued by' } }] : [];
    const span = this.tracer.startSpan(
      `deliver ${operationId}`,
      { kind: SpanKind.CONSUMER, links, root: true, attributes: { 'ficus.operation': operationId, 'ficus.outbox.write_id': writeId, 'ficus.outbox.attempt': attempt } },
      ROOT_CONTEXT,
    );
    return this.ended(span, () => run(trace.setSpan(ROOT_CONTEXT, span)));
  }

  private ended<T>(span: Span, run: () => Promise<T>): Promise<T> {
    let p: Promise<T>;
    try {
      p = run();
    } catch (err) {
      p = Promise.reject(err);
    }
    return p.then(
      (v) => {
        span.end();
        return v;
      },
      (err: unknown) => {
        const e = errorOf(err);
        span.setAttribute('error.type', e.type);
        span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
        span.end();
        throw err;
      },
    );
  }

  annotate(ctx: Context, attributes: Attributes): void {
    const span = trace.getSpan(ctx);
    if (span) span.setAttributes(attributes);
  }

  inject(ctx: Context, headers: Record<string, string>): void {
    this.propagator.inject(ctx, headers, defaultTextMapSetter);
  }

  /** Exports what is buffered and stops. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
