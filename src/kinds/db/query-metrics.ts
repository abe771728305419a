/**
 * Metrics per query of the db kind, in the gateway's registry: how long each binding's statements
 * take (by outcome) and how many rows they return. Several db adapters share the same series.
 *
 *   ficus_db_query_duration_seconds{adapter,operation,driver,outcome}   histogram
 *   ficus_db_rows_total{adapter,operation}                               counter
 *
 * Plain prom-client metrics. Each binding takes its label-bound children (`labels(...)`) once, at
 * bind time, and records through them on every call.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type QueryOutcome = 'ok' | 'not_found' | 'error' | 'timeout';

const DURATION_LABELS = ['adapter', 'operation', 'driver', 'outcome'] as const;
const ROWS_LABELS = ['adapter', 'operation'] as const;
type DurationLabel = (typeof DURATION_LABELS)[number];
type RowsLabel = (typeof ROWS_LABELS)[number];

export interface DbMetrics {
  queryDuration: Histogram<DurationLabel>;
  rows: Counter<RowsLabel>;
}

const DURATION = 'ficus_db_query_duration_seconds';
const ROWS = 'ficus_db_rows_total';

/** The metric registered under `name` if the db kind made it (another db adapter did), else undefined. */
function ours<T extends Histogram<string> | Counter<string>>(registry: Registry, name: string, type: abstract new (...args: never[]) => T, labelNames: readonly string[]): T | undefined {
  const existing: unknown = registry.getSingleMetric(name);
  if (existing === undefined) return undefined;
  if (existing instanceof type && (existing as unknown as { labelNames: readonly string[] }).labelNames.join() === labelNames.join()) return existing;
  throw new Error(`${name} is already registered by something other than the db kind`);
}

/** The db kind's metrics in `registry`, made by the first db adapter and shared by the others. */
export function dbMetrics(registry: Registry): DbMetrics {
  return {
    queryDuration:
      ours(registry, DURATION, Histogram<DurationLabel>, DURATION_LABELS) ??
      new Histogram({
        name: DURATION,
        help: 'Statements run by db adapters, by binding and outcome (ok, not_found, error, timeout)',
        labelNames: DURATION_LABELS,
        buckets: BUCKETS,
        registers: [registry],
      }),
    rows: ours(registry, ROWS, Counter<RowsLabel>, ROWS_LABELS) ?? new Counter({ name: ROWS, help: 'Rows read by db adapters, by binding', labelNames: ROWS_LABELS, registers: [registry] }),
  };
}

/** One binding's series: a statement's duration by outcome, and the rows it read. */
export interface BindingMetrics {
  duration(outcome: QueryOutcome, seconds: number): void;
  rows(n: number): void;
}

/** Takes the binding's label-bound children once; a series appears on /metrics on its first record. */
export function bindingMetrics(metrics: DbMetrics, adapter: string, operation: string, driver: string): BindingMetrics {
  const series = (outcome: QueryOutcome) => metrics.queryDuration.labels({ adapter, operation, driver, outcome });
  const byOutcome = { ok: series('ok'), not_found: series('not_found'), error: series('error'), timeout: series('timeout') };
  const rows = metrics.rows.labels({ adapter, operation });
  return {
    duration: (outcome, seconds) => byOutcome[outcome].observe(seconds),
    rows: (n) => rows.inc(n),
  };
}
