/**
 * Metrics per query of the db kind, in the gateway's registry: how long each binding's statements
 * take (by outcome) and how many rows they return. Several db adapters share the same series.
 *
 *   ficus_db_query_duration_seconds{adapter,operation,driver,outcome}   histogram
 *   ficus_db_rows_total{adapter,operation}                               counter
 *
 * They are recorded on every call, so each binding finds its series once, at start-up, and then
 * records with a few additions. prom-client's Histogram and Counter check and hash the label set
 * on every observe() and inc(), also through labels() (about 0.5 and 0.2 µs: a third of the kind's
 * whole budget per call on SQLite, 20% of a 10 µs query); these two keep their series themselves
 * and give the registry the same values prom-client's would (get()), so /metrics prints them the
 * same way (test/db/query-metrics.test.ts compares the two).
 */
import type { Metric, Registry } from 'prom-client';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type QueryOutcome = 'ok' | 'not_found' | 'error' | 'timeout';
type Labels = Readonly<Record<string, string>>;

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  /** The series' own labels; the registry prints them after `labels` and the default labels (as it does prom-client's histograms). */
  sharedLabels?: Labels;
  metricName?: string;
  exemplar?: null;
}

/** What a prom-client Registry reads of a metric: its name (which it may rewrite), get() and reset(). */
abstract class SeriesMetric<S extends { labels: Labels; active: boolean }> {
  readonly aggregator = 'sum';
  private readonly byKey = new Map<string, S>();
  /** The series recorded since the last reset, in the order they were first recorded (as prom-client lists them). */
  protected active: S[] = [];

  constructor(
    public name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
  ) {}

  abstract readonly type: 'histogram' | 'counter';
  protected abstract create(labels: Labels): S;
  protected abstract clear(series: S): void;
  protected abstract values(series: S): MetricValue[];

  /** The series of one label set, the same object for the same labels. */
  protected seriesOf(labels: Labels): S {
    const names = Object.keys(labels);
    if (names.length !== this.labelNames.length || !this.labelNames.every((n) => n in labels)) {
      throw new Error(`${this.name} has the labels ${this.labelNames.join(', ')}, not ${names.join(', ')}`);
    }
    const key = JSON.stringify(this.labelNames.map((n) => labels[n]));
    let s = this.byKey.get(key);
    if (!s) {
      s = this.create({ ...labels });
      this.byKey.set(key, s);
    }
    return s;
  }

  /** A series' first record since the last reset makes it appear. */
  protected activate(series: S): void {
    series.active = true;
    this.active.push(series);
  }

  /** The metric and its values, in prom-client's form. */
  async get(): Promise<{ name: string; help: string; type: 'histogram' | 'counter'; values: MetricValue[]; aggregator: 'sum' }> {
    const values = this.active.flatMap((s) => this.values(s)).map(({ sharedLabels, ...v }) => (sharedLabels ? { ...v, labels: { ...v.labels, ...sharedLabels } } : v));
    // (prom-client's counters list help before name; the same here, for identical JSON.)
    const head = this.type === 'counter' ? { help: this.help, name: this.name } : { name: this.name, help: this.help };
    return { ...head, type: this.type, values, aggregator: this.aggregator };
  }

  /** The same for the registry's text, the series' labels apart (what the registry reads first, when a metric has it). */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram' | 'counter'; values: MetricValue[]; aggregator: 'sum' }> {
    return { name: this.name, help: this.help, type: this.type, values: this.active.flatMap((s) => this.values(s)), aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.active) {
      s.active = false;
      this.clear(s);
    }
    this.active = [];
  }

  /** Registers the metric in `registry` (it reads only name, get() and reset() of a metric). */
  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

/** One series of a histogram: counts per bucket (not cumulative; the last is above every bound), sum and count. */
export class DurationSeries {
  active = false;
  sum = 0;
  count = 0;
  readonly counts: number[];

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
    private readonly owner: QueryDurationHistogram,
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${seconds}`);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
    if (!this.active) this.owner.activated(this);
  }
}

export class QueryDurationHistogram extends SeriesMetric<DurationSeries> {
  readonly type = 'histogram';

  constructor(name: string, help: string, labelNames: readonly string[], private readonly bounds: readonly number[]) {
    super(name, help, labelNames);
  }

  series(labels: Labels): DurationSeries {
    return this.seriesOf(labels);
  }

  /** Called by a series on its first observation since the last reset. */
  activated(series: DurationSeries): void {
    this.activate(series);
  }

  protected create(labels: Labels): DurationSeries {
    return new DurationSeries(labels, this.bounds, this);
  }

  protected clear(s: DurationSeries): void {
    s.counts.fill(0);
    s.sum = 0;
    s.count = 0;
  }

  protected values(s: DurationSeries): MetricValue[] {
    const bucket = `${this.name}_bucket`;
    let acc = 0;
    const out: MetricValue[] = this.bounds.map((le, i) => {
      acc += s.counts[i];
      return { value: acc, metricName: bucket, exemplar: null, labels: { le }, sharedLabels: s.labels };
    });
    out.push(
      { value: s.count, metricName: bucket, exemplar: null, labels: { le: '+Inf' }, sharedLabels: s.labels },
      { value: s.sum, metricName: `${this.name}_sum`, labels: {}, sharedLabels: s.labels },
      { value: s.count, metricName: `${this.name}_count`, labels: {}, sharedLabels: s.labels },
    );
    return out;
  }
}

/** One series of a counter. */
export class CountSeries {
  active = false;
  value = 0;

  constructor(
    readonly labels: Labels,
    private readonly owner: RowCounter,
  ) {}

  inc(n: number): void {
    if (n && !Number.isFinite(n)) throw new TypeError(`Value is not a valid number: ${n}`);
    if (n < 0) throw new Error('It is not possible to decrease a counter');
    this.value += n;
    if (!this.active) this.owner.activated(this);
  }
}

export class RowCounter extends SeriesMetric<CountSeries> {
  readonly type = 'counter';

  series(labels: Labels): CountSeries {
    return this.seriesOf(labels);
  }

  activated(series: CountSeries): void {
    this.activate(series);
  }

  protected create(labels: Labels): CountSeries {
    return new CountSeries(labels, this);
  }

  protected clear(s: CountSeries): void {
    s.value = 0;
  }

  protected values(s: CountSeries): MetricValue[] {
    return [{ value: s.value, labels: { ...s.labels } }];
  }
}

export interface DbMetrics {
  queryDuration: QueryDurationHistogram;
  rows: RowCounter;
}

const DURATION = 'ficus_db_query_duration_seconds';
const ROWS = 'ficus_db_rows_total';

/** The metric registered under `name` if the db kind made it (another db adapter did), else undefined. */
function ours<T>(registry: Registry, name: string, type: abstract new (...args: never[]) => T): T | undefined {
  const existing: unknown = registry.getSingleMetric(name);
  if (existing === undefined || existing instanceof type) return existing;
  throw new Error(`${name} is already registered by something other than the db kind`);
}

/** The db kind's metrics in `registry`, made by the first db adapter and shared by the others. */
export function dbMetrics(registry: Registry): DbMetrics {
  return {
    queryDuration:
      ours(registry, DURATION, QueryDurationHistogram) ??
      new QueryDurationHistogram(DURATION, 'Statements run by db adapters, by binding and outcome (ok, not_found, error, timeout)', ['adapter', 'operation', 'driver', 'outcome'], BUCKETS).register(registry),
    rows: ours(registry, ROWS, RowCounter) ?? new RowCounter(ROWS, 'Rows read by db adapters, by binding', ['adapter', 'operation']).register(registry),
  };
}

/** One binding's series: a statement's duration by outcome, and the rows it read. */
export interface BindingMetrics {
  duration(outcome: QueryOutcome, seconds: number): void;
  rows(n: number): void;
}

export function bindingMetrics(metrics: DbMetrics, adapter: string, operation: string, driver: string): BindingMetrics {
  const series = (outcome: QueryOutcome) => metrics.queryDuration.series({ adapter, operation, driver, outcome });
  const byOutcome: Record<QueryOutcome, DurationSeries> = { ok: series('ok'), not_found: series('not_found'), error: series('error'), timeout: series('timeout') };
  const rows = metrics.rows.series({ adapter, operation });
  return {
    duration: (outcome, seconds) => byOutcome[outcome].observe(seconds),
    rows: (n) => rows.inc(n),
  };
}
