/**
 * Metrics per query of the db kind, in the gateway's registry: how long each binding's statements
 * take (by outcome) and how many rows they return. Several db adapters share the same series.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface DbMetrics {
  queryDuration: Histogram<'adapter' | 'operation' | 'driver' | 'outcome'>;
  rows: Counter<'adapter' | 'operation'>;
}

export function dbMetrics(registry: Registry): DbMetrics {
  const existingDuration = registry.getSingleMetric('ficus_db_query_duration_seconds');
  const existingRows = registry.getSingleMetric('ficus_db_rows_total');
  return {
    queryDuration:
      (existingDuration as DbMetrics['queryDuration'] | undefined) ??
      new Histogram({ name: 'ficus_db_query_duration_seconds', help: 'Statements run by db adapters, by binding and outcome (ok, not_found, error, timeout)', labelNames: ['adapter', 'operation', 'driver', 'outcome'], buckets: BUCKETS, registers: [registry] }),
    rows:
      (existingRows as DbMetrics['rows'] | undefined) ??
      new Counter({ name: 'ficus_db_rows_total', help: 'Rows read by db adapters, by binding', labelNames: ['adapter', 'operation'], registers: [registry] }),
  };
}
