/**
 * The seam between tracing and the code it traces, cheap when tracing is off: the binding's call,
 * the kinds, the shadow runner and the outbox worker ask `activeTracer()` (undefined unless a
 * gateway of this process traces). The trace context travels with the request
 * (`OperationRequest.trace`), not in async-local storage, so a traced request costs no async hook
 * on every promise. Nothing here loads the OpenTelemetry SDK.
 */
import type { Attributes, Context } from '@opentelemetry/api';
import type { OperationRequest } from '../../kinds/kind.ts';

/** What a traced call needs to know of its binding. */
export interface TracedBinding {
  readonly adapter: string;
  readonly kind: string;
  readonly backend: 'legacy' | 'modern';
  readonly operationId: string;
  readonly policy: { readonly circuitState: string };
}

/** Wraps one attempt of a call: runs it inside its CLIENT span, given as the attempt's trace context. */
export type AttemptWrapper = <T>(attempt: (trace: Context) => Promise<T>) => Promise<T>;

export interface CallTracer {
  /** A binding's call (`req.trace` set): `execute` runs the policy and wraps each attempt it makes with the given wrapper. */
  traceCall<T>(binding: TracedBinding, req: OperationRequest, execute: (wrap: AttemptWrapper) => Promise<T>): Promise<T>;
  /** The shadow call of a request: its own trace, linked to the request's span (`cause`). */
  traceShadow<T>(operationId: string, cause: Context, run: (trace: Context) => Promise<T>): Promise<T>;
  /** An outbox delivery: its own trace, linked to the request that queued the write (`traceparent` as stored). */
  traceDelivery<T>(operationId: string, writeId: string, attempt: number, traceparent: string | undefined, run: (trace: Context) => Promise<T>): Promise<T>;
  /** Adds attributes to the span of `trace`. */
  annotate(trace: Context, attributes: Attributes): void;
  /** Writes `traceparent` (and `tracestate`) of `trace` into outgoing headers. */
  inject(trace: Context, headers: Record<string, string>): void;
}

let current: CallTracer | undefined;

export function activeTracer(): CallTracer | undefined {
  return current;
}

/** Installs (or, with `undefined`, removes) the process's tracer; one tracing gateway per process. */
export function setActiveTracer(tracer: CallTracer | undefined, only?: CallTracer): void {
  if (only !== undefined && current !== only) return;
  current = tracer;
}

/** The kind's own attributes on the attempt's span (the SQL file, the remote file, the flow): lazily built, only when traced. */
export function annotateAttempt(req: OperationRequest, attributes: () => Attributes): void {
  if (current && req.trace) current.annotate(req.trace, attributes());
}

/** Propagates the trace to a backend: W3C `traceparent`/`tracestate` of the attempt's span, when traced. */
export function injectTraceContext(req: OperationRequest, headers: Record<string, string>): void {
  if (current && req.trace) current.inject(req.trace, headers);
}
