/**
 * Prometheus metrics of one gateway instance (its own registry, so that several gateways in one
 * process, as in the tests, do not mix their figures).
 *
 * In a cluster (`ficus start --workers N`) /metrics shows every worker's figures, aggregated by the
 * primary (src/cluster): counters, histograms and gauges of amounts (in flight, pages busy, bytes
 * cached) are summed; a gauge every worker reads from the shared state store (outbox depth, route
 * mode, export age) says how it is combined (`aggregator: 'max'`), so that it is not counted once per
 * worker; a gauge of one worker's own state (circuit state) gets a `worker` label instead
 * (`PER_WORKER_METRICS` in src/cluster/worker-link.ts).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type OpenMetricsContentType } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'operation' | 'backend' | 'status'>;
  readonly requestDuration: Histogram<'operation' | 'backend'>;
  readonly inFlight: Gauge;
  readonly adapterCalls: Histogram<'adapter' | 'operation' | 'outcome'>;
  readonly adapterErrors: Counter<'adapter' | 'operation' | 'reason'>;
  readonly circuitState: Gauge<'adapter' | 'operation'>;
  readonly contractViolations: Counter<'operation' | 'direction' | 'field'>;
  readonly retries: Counter<'adapter' | 'operation'>;
  readonly adapterUp: Gauge<'adapter' | 'kind'>;

  /** Whether request latencies carry exemplars (the trace id; tracing on): /metrics is OpenMetrics then. */
  readonly exemplars: boolean;

  /** What /metrics answers instead of this registry's own figures: a cluster's worker asks its primary for every worker's. */
  exposition: (() => Promise<{ contentType: string; text: string }>) | undefined;

  constructor(opts: { defaultMetrics?: boolean; exemplars?: boolean } = {}) {
    const registers = [this.registry];
    this.exemplars = opts.exemplars ?? false;
    // (Typed as the Prometheus registry everywhere it is passed; only its exposition changes.)
    if (this.exemplars) (this.registry as unknown as Registry<OpenMetricsContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'ficus_process_' });
    this.requests = new Counter({ name: 'ficus_http_requests_total', help: 'Requests answered, by operation, backend and status', labelNames: ['operation', 'backend', 'status'], registers });
    this.requestDuration = new Histogram({
      name: 'ficus_http_request_duration_seconds',
      help: 'Time from request to response, by operation and backend',
      labelNames: ['operation', 'backend'],
      buckets: LATENCY_BUCKETS,
      registers,
      enableExemplars: this.exemplars,
    });
    this.inFlight = new Gauge({ name: 'ficus_http_in_flight_requests', help: 'Requests being served now', registers });
    this.adapterCalls = new Histogram({
      name: 'ficus_adapter_call_duration_seconds',
      help: 'Calls to adapters (each attempt), by outcome',
      labelNames: ['adapter', 'operation', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.adapterErrors = new Counter({ name: 'ficus_adapter_errors_total', help: 'Failed adapter calls, by reason', labelNames: ['adapter', 'operation', 'reason'], registers });
    this.circuitState = new Gauge({
      name: 'ficus_circuit_state',
      help: 'Circuit breaker state per binding: 0 closed, 1 open, 2 half-open, 3 isolated',
      labelNames: ['adapter', 'operation'],
      registers,
    });
    this.contractViolations = new Counter({
      name: 'ficus_contract_violations_total',
      help: 'Requests or responses that broke the contract, by field',
      labelNames: ['operation', 'direction', 'field'],
      registers,
    });
    this.retries = new Counter({ name: 'ficus_adapter_retries_total', help: 'Retried adapter calls', labelNames: ['adapter', 'operation'], registers });
    // In a cluster: up only when every worker's last check said so.
    this.adapterUp = new Gauge({ name: 'ficus_adapter_up', help: 'Last health check of each adapter: 1 up, 0 down', labelNames: ['adapter', 'kind'], registers, aggregator: 'min' });
  }
}
