/**
 * Tracing as a feature (first in the list, so its hooks wrap every other feature's): the request's
 * SERVER span starts before any other hook and rides on the request (`OperationRequest.trace`, not
 * async-local storage: no async hook on every promise) to every attempt, whose CLIENT span is its
 * child; it ends with the answer's status. The trace id goes on the request's log line
 * and, as an exemplar, on its latency observation. Off unless `tracing.enabled` or the standard
 * OpenTelemetry environment variables say otherwise (./tracing-config.ts).
 */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { Feature, InstalledFeature } from '../../features/feature.ts';
import type { OperationHooks } from '../../http/app.ts';
import { setActiveTracer } from './current.ts';
import { resolveTracing, type TracingConfig } from './tracing-config.ts';

/** What the tracing feature gives other features and the tests (`gateway.feature('tracing')`). */
export interface TracingApi {
  /** Whether spans are made (tracing on). */
  readonly enabled: boolean;
  /** Exports every span ended so far. */
  flush(): Promise<void>;
}

function tracingConfigOf(config: { gateway: { tracing?: unknown } }): TracingConfig {
  return config.gateway.tracing as TracingConfig;
}

export const tracingFeature: Feature<TracingApi> = {
  name: 'tracing',
  checkConfig: (config, env) => resolveTracing(tracingConfigOf(config), env, config.file).errors,
  install: async (host): Promise<InstalledFeature<TracingApi>> => {
    const { settings } = resolveTracing(tracingConfigOf(host.config), host.env, host.config.file);
    if (!settings) return { api: { enabled: false, flush: () => Promise.resolve() } };
    // (Loaded only when tracing is on: the SDK costs nothing to a gateway that does not trace.)
    const { GatewayTracer } = await import('./tracer.ts');
    const tracer = new GatewayTracer(settings);
    setActiveTracer(tracer);
    host.logger.info(
      { endpoint: settings.url, protocol: settings.protocol, sampler: settings.sampler, ratio: settings.ratio, serviceName: settings.serviceName },
      'tracing: exporting spans over OTLP/HTTP',
    );

    const hooks: OperationHooks = {
      before: (route, req, res) => {
        const parent = tracer.extract(req.headers);
        const started = tracer.startServer(
          route.operationId,
          {
            'http.request.method': req.method,
            'http.route': route.operation.path,
            'ficus.operation': route.operationId,
            'ficus.request_id': req.requestId,
            'ficus.mode': route.state.mode,
          },
          parent,
        );
        // The request carries its trace context to every hook, the dispatch and each attempt.
        req.trace = started.ctx;
        const sc = started.span.spanContext();
        res.locals.traceId = sc.traceId;
        // (The outbox keeps it, so that the delivery's span links back to this request.)
        if (started.span.isRecording()) req.traceparent = tracer.traceparentOf(started.ctx);
        return Promise.resolve(undefined);
      },
      after: (_route, req, outcome) => {
        const span = req.trace && trace.getSpan(req.trace);
        if (!span) return;
        const s = { span };
        const status = outcome.result?.status ?? outcome.problem?.status ?? 500;
        s.span.setAttribute('http.response.status_code', status);
        if (outcome.dispatched) s.span.setAttributes({ 'ficus.backend': outcome.dispatched.backend, 'ficus.adapter': outcome.dispatched.adapter });
        if (outcome.problem) s.span.setAttribute('error.type', outcome.problem.typeName);
        if (status >= 500) s.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.problem?.detail ?? `status ${status}` });
        s.span.end();
      },
    };
    return {
      api: { enabled: true, flush: () => tracer.provider.forceFlush() },
      hooks: [hooks],
      close: async () => {
        setActiveTracer(undefined, tracer);
        await tracer.shutdown().catch((err: unknown) => host.logger.warn({ err }, 'tracing: the last spans could not be exported'));
      },
    };
  },
};
