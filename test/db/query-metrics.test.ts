/**
 * The db kind's per-query metrics keep their series themselves (prom-client's hash the labels on
 * every call): the gateway's registry must print and report them exactly as it would prom-client's
 * Histogram and Counter, in both exposition formats, default labels and resets included.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { bindingMetrics, dbMetrics, type QueryOutcome } from '../../src/kinds/db/query-metrics.ts';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const OUTCOMES: QueryOutcome[] = ['ok', 'not_found', 'error', 'timeout'];

describe('db query metrics', () => {
  for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE]) {
    it(`are printed as prom-client prints its own (${contentType.split(';')[0]})`, async () => {
      const reference = new Registry();
      const ours = new Registry();
      for (const r of [reference, ours]) {
        r.setContentType(contentType as never);
        r.setDefaultLabels({ instance: 'gw "1"' });
      }
      const histogram = new Histogram({ name: 'ficus_db_query_duration_seconds', help: 'Statements run by db adapters, by binding and outcome (ok, not_found, error, timeout)', labelNames: ['adapter', 'operation', 'driver', 'outcome'], buckets: BUCKETS, registers: [reference] });
      const counter = new Counter({ name: 'ficus_db_rows_total', help: 'Rows read by db adapters, by binding', labelNames: ['adapter', 'operation'], registers: [reference] });
      const metrics = dbMetrics(ours);
      expect(dbMetrics(ours).queryDuration).toBe(metrics.queryDuration); // a second db adapter shares them
      const bindings = [
        { labels: ['crm-db', 'getCustomer', 'sqlite'], rec: bindingMetrics(metrics, 'crm-db', 'getCustomer', 'sqlite') },
        { labels: ['crm "db\\', 'list\nCustomers', 'postgres'], rec: bindingMetrics(metrics, 'crm "db\\', 'list\nCustomers', 'postgres') },
      ];
      let seed = 7;
      const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
      const play = (n: number) => {
        for (let i = 0; i < n; i++) {
          const b = bindings[Math.floor(random() * bindings.length)];
          const outcome = OUTCOMES[Math.floor(random() * OUTCOMES.length)];
          const seconds = random() < 0.1 ? random() * 60 : random() * 0.02;
          const rows = Math.floor(random() * 4);
          const [adapter, operation, driver] = b.labels;
          histogram.observe({ adapter, operation, driver, outcome }, seconds);
          counter.inc({ adapter, operation }, rows);
          b.rec.duration(outcome, seconds);
          b.rec.rows(rows);
        }
      };
      const same = async () => {
        expect(await ours.metrics()).toBe(await reference.metrics());
        expect(JSON.stringify(await ours.getMetricsAsJSON())).toBe(JSON.stringify(await reference.getMetricsAsJSON()));
      };
      await same();
      play(3);
      await same();
      play(2000);
      await same();
      reference.resetMetrics();
      ours.resetMetrics();
      await same();
      play(1);
      await same();
      play(500);
      await same();
    });
  }

  it('refuses what prom-client refuses', () => {
    const rec = bindingMetrics(dbMetrics(new Registry()), 'a', 'op', 'sqlite');
    expect(() => rec.duration('ok', Number.NaN)).toThrow(TypeError);
    expect(() => rec.rows(-1)).toThrow(/not possible to decrease/);
  });
});
