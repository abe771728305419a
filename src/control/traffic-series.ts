/**
 * One backend's traffic of the last hour as a small time series: per minute, the calls, the failed
 * calls, the calls whose answer went to the caller, and a latency histogram (fixed bounds, so that
 * the minutes of several routes of one adapter add up to the adapter's). In memory, 61 minutes kept
 * (the current one and the 60 before it): recording is a few array increments.
 */

export const MINUTE_MS = 60_000;
export const SERIES_MINUTES = 60;
const SLOTS = SERIES_MINUTES + 1;

/** Upper bounds (ms) of the latency bins; a last bin holds what is slower. Percentiles are interpolated within a bin. */
export const LATENCY_BOUNDS_MS = [1, 1.5, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 7000, 10_000, 20_000, 30_000, 60_000];
const BINS = LATENCY_BOUNDS_MS.length + 1;

function binOf(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ms <= LATENCY_BOUNDS_MS[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The p-quantile (0..1) of a histogram of BINS counts, in ms (two decimals); null without calls. */
export function percentile(hist: ArrayLike<number>, offset: number, p: number): number | null {
  let total = 0;
  for (let b = 0; b < BINS; b++) total += hist[offset + b];
  if (total === 0) return null;
  const rank = p * total;
  let seen = 0;
  for (let b = 0; b < BINS; b++) {
    const n = hist[offset + b];
    if (n > 0 && seen + n >= rank) {
      const lower = b === 0 ? 0 : LATENCY_BOUNDS_MS[b - 1];
      if (b === BINS - 1) return lower;
      const upper = LATENCY_BOUNDS_MS[b];
      return Math.round((lower + ((rank - seen) / n) * (upper - lower)) * 100) / 100;
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
}

export class MinuteSeries {
  private readonly minutes = new Float64Array(SLOTS).fill(-1);
  readonly calls = new Float64Array(SLOTS);
  readonly errors = new Float64Array(SLOTS);
  readonly served = new Float64Array(SLOTS);
  readonly latency = new Uint32Array(SLOTS * BINS);

  private slot(now: number): number {
    const minute = Math.floor(now / MINUTE_MS);
    const i = minute % SLOTS;
    if (this.minutes[i] !== minute) {
      this.minutes[i] = minute;
      this.calls[i] = 0;
      this.errors[i] = 0;
      this.served[i] = 0;
      this.latency.fill(0, i * BINS, (i + 1) * BINS);
    }
    return i;
  }

  call(now: number, ms: number, failed: boolean): void {
    const i = this.slot(now);
    this.calls[i]++;
    if (failed) this.errors[i]++;
    this.latency[i * BINS + binOf(ms)]++;
  }

  serve(now: number): void {
    this.served[this.slot(now)]++;
  }

  /** The minutes held, flat: [minute, calls, errors, served, ...latency bins] per minute (plain data, for another process). */
  export(): number[] {
    const out: number[] = [];
    for (let i = 0; i < SLOTS; i++) {
      if (this.minutes[i] < 0) continue;
      out.push(this.minutes[i], this.calls[i], this.errors[i], this.served[i]);
      for (let b = 0; b < BINS; b++) out.push(this.latency[i * BINS + b]);
    }
    return out;
  }

  /** Adds another process's `export()` to this series (a minute older than the one held in its slot is dropped). */
  absorb(flat: readonly number[]): void {
    const stride = 4 + BINS;
    for (let at = 0; at + stride <= flat.length; at += stride) {
      const minute = flat[at];
      const i = minute % SLOTS;
      if (this.minutes[i] > minute) continue;
      this.slot(minute * MINUTE_MS);
      this.calls[i] += flat[at + 1];
      this.errors[i] += flat[at + 2];
      this.served[i] += flat[at + 3];
      for (let b = 0; b < BINS; b++) this.latency[i * BINS + b] += flat[at + 4 + b];
    }
  }

  /** Adds this series' minutes into `acc` (several series, e.g. every route of one adapter, add up). */
  addInto(acc: SeriesSum): void {
    for (let k = 0; k < acc.length; k++) {
      const minute = acc.firstMinute + k;
      const i = minute % SLOTS;
      if (this.minutes[i] !== minute) continue;
      acc.calls[k] += this.calls[i];
      acc.errors[k] += this.errors[i];
      acc.served[k] += this.served[i];
      for (let b = 0; b < BINS; b++) acc.latency[k * BINS + b] += this.latency[i * BINS + b];
    }
  }
}

/** One minute of a series as the admin API gives it. */
export interface MinutePoint {
  /** The minute's start (ISO 8601). */
  t: string;
  calls: number;
  errors: number;
  served: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** Figures over a stretch of minutes. */
export interface SeriesTotals {
  calls: number;
  errors: number;
  /** Percent of calls that failed (null without calls). */
  errorRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** The sum of series over the last `minutes` minutes up to `now` (the current, partial minute last). */
export class SeriesSum {
  readonly firstMinute: number;
  readonly calls: Float64Array;
  readonly errors: Float64Array;
  readonly served: Float64Array;
  readonly latency: Float64Array;

  constructor(
    now: number,
    readonly length: number = SERIES_MINUTES,
  ) {
    if (length < 1 || length > SLOTS) throw new RangeError(`a series covers 1 to ${SLOTS} minutes`);
    this.firstMinute = Math.floor(now / MINUTE_MS) - length + 1;
    this.calls = new Float64Array(length);
    this.errors = new Float64Array(length);
    this.served = new Float64Array(length);
    this.latency = new Float64Array(length * BINS);
  }

  points(): MinutePoint[] {
    const out: MinutePoint[] = [];
    for (let k = 0; k < this.length; k++) {
      out.push({
        t: new Date((this.firstMinute + k) * MINUTE_MS).toISOString(),
        calls: this.calls[k],
        errors: this.errors[k],
        served: this.served[k],
        p50Ms: percentile(this.latency, k * BINS, 0.5),
        p95Ms: percentile(this.latency, k * BINS, 0.95),
      });
    }
    return out;
  }

  /** Figures over the last `minutes` minutes of the sum (all of it by default). */
  totals(minutes = this.length): SeriesTotals {
    const from = Math.max(0, this.length - minutes);
    const hist = new Float64Array(BINS);
    let calls = 0;
    let errors = 0;
    for (let k = from; k < this.length; k++) {
      calls += this.calls[k];
      errors += this.errors[k];
      for (let b = 0; b < BINS; b++) hist[b] += this.latency[k * BINS + b];
    }
    return {
      calls,
      errors,
      errorRate: calls === 0 ? null : Math.round((errors / calls) * 10_000) / 100,
      p50Ms: percentile(hist, 0, 0.5),
      p95Ms: percentile(hist, 0, 0.95),
      p99Ms: percentile(hist, 0, 0.99),
    };
  }
}
