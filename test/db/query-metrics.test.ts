/**
 * The db kind's per-query metrics as a user scrapes them from /metrics: one histogram of statement
 * durations by binding and outcome, one counter of rows by binding, shared by every db adapter, in
 * both exposition formats, with the gateway's default labels, and emptied by a reset.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { bindingMetrics, dbMetrics } from '../../src/kinds/db/query-metrics.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition (Prometheus text or OpenMetrics), label values unescaped. */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with exactly these labels, or undefined. */
function valueOf(all: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const hits = all.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()));
  expect(hits.length).toBeLessThanOrEqual(1);
  return hits[0]?.value;
}

const CONTENT_TYPES = [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE];

describe('db query metrics', () => {
  for (const contentType of CONTENT_TYPES) {
    it(`are scraped per binding and outcome, with the registry's default labels (${contentType.split(';')[0]})`, async () => {
      const registry = new Registry();
      registry.setContentType(contentType as never);
      registry.setDefaultLabels({ instance: 'gw "1"' });
      const metrics = dbMetrics(registry);
      const get = bindingMetrics(metrics, 'crm-db', 'getCustomer', 'sqlite');
      // A second db adapter shares the series; awkward label values are escaped and read back intact.
      const list = bindingMetrics(dbMetrics(registry), 'crm "db\\', 'list\nCustomers', 'postgres');
      get.duration('ok', 0.0007);
      get.rows(1);
      get.duration('ok', 0.003);
      get.rows(1);
      get.duration('not_found', 0.0002);
      get.rows(0);
      list.duration('timeout', 12);
      list.rows(25);

      const text = await registry.metrics();
      expect(text).toContain('# TYPE ficus_db_query_duration_seconds histogram');
      expect(text).toMatch(/# TYPE ficus_db_rows(_total)? counter/);
      expect(text).toContain('# HELP ficus_db_query_duration_seconds Statements run by db adapters, by binding and outcome (ok, not_found, error, timeout)');
      const all = samples(text);
      const g = { instance: 'gw "1"', adapter: 'crm-db', operation: 'getCustomer', driver: 'sqlite' };
      const H = 'ficus_db_query_duration_seconds';
      expect(valueOf(all, `${H}_count`, { ...g, outcome: 'ok' })).toBe(2);
      expect(valueOf(all, `${H}_sum`, { ...g, outcome: 'ok' })).toBeCloseTo(0.0037, 10);
      expect(valueOf(all, `${H}_bucket`, { ...g, outcome: 'ok', le: '0.0005' })).toBe(0);
      expect(valueOf(all, `${H}_bucket`, { ...g, outcome: 'ok', le: '0.001' })).toBe(1);
      expect(valueOf(all, `${H}_bucket`, { ...g, outcome: 'ok', le: '0.005' })).toBe(2);
      expect(valueOf(all, `${H}_bucket`, { ...g, outcome: 'ok', le: '+Inf' })).toBe(2);
      expect(valueOf(all, `${H}_count`, { ...g, outcome: 'not_found' })).toBe(1);
      // Outcomes that never happened print nothing.
      expect(valueOf(all, `${H}_count`, { ...g, outcome: 'error' })).toBeUndefined();
      expect(valueOf(all, `${H}_count`, { ...g, outcome: 'timeout' })).toBeUndefined();
      const l = { instance: 'gw "1"', adapter: 'crm "db\\', operation: 'list\nCustomers', driver: 'postgres' };
      expect(valueOf(all, `${H}_bucket`, { ...l, outcome: 'timeout', le: '10' })).toBe(0);
      expect(valueOf(all, `${H}_bucket`, { ...l, outcome: 'timeout', le: '30' })).toBe(1);
      expect(valueOf(all, `${H}_sum`, { ...l, outcome: 'timeout' })).toBe(12);
      const bounds = all.filter((s) => s.name === `${H}_bucket` && s.labels.outcome === 'ok').map((s) => s.labels.le);
      expect(bounds).toEqual(['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '+Inf']);
      expect(valueOf(all, 'ficus_db_rows_total', { instance: 'gw "1"', adapter: 'crm-db', operation: 'getCustomer' })).toBe(2);
      expect(valueOf(all, 'ficus_db_rows_total', { instance: 'gw "1"', adapter: 'crm "db\\', operation: 'list\nCustomers' })).toBe(25);

      // A reset empties the series; the bindings keep recording into them.
      registry.resetMetrics();
      expect(samples(await registry.metrics()).filter((s) => s.name.startsWith('ficus_db_'))).toEqual([]);
      get.duration('error', 0.02);
      get.rows(3);
      const after = samples(await registry.metrics());
      expect(valueOf(after, `${H}_count`, { ...g, outcome: 'error' })).toBe(1);
      expect(valueOf(after, `${H}_count`, { ...g, outcome: 'ok' })).toBeUndefined();
      expect(valueOf(after, 'ficus_db_rows_total', { instance: 'gw "1"', adapter: 'crm-db', operation: 'getCustomer' })).toBe(3);
    });
  }

  it('are the same series in the JSON the registry gives', async () => {
    const registry = new Registry();
    bindingMetrics(dbMetrics(registry), 'crm-db', 'getCustomer', 'sqlite').rows(4);
    const json = await registry.getMetricsAsJSON();
    expect(json.find((m) => m.name === 'ficus_db_rows_total')?.values).toEqual([{ value: 4, labels: { adapter: 'crm-db', operation: 'getCustomer' } }]);
  });

  it('refuses a name already taken by another metric', () => {
    const registry = new Registry();
    registry.registerMetric({ name: 'ficus_db_rows_total', get: async () => ({}), reset: () => {} } as never);
    expect(() => dbMetrics(registry)).toThrow(/already registered by something other than the db kind/);
  });

  it('refuses what prom-client refuses', () => {
    const rec = bindingMetrics(dbMetrics(new Registry()), 'a', 'op', 'sqlite');
    expect(() => rec.duration('ok', Number.NaN)).toThrow(TypeError);
    expect(() => rec.rows(-1)).toThrow(/not possible to decrease/);
  });
});
