/**
 * Per route and backend, this instance's recent traffic: calls, failures and calls served in
 * 10-second buckets (two hours kept, for error rates and the traffic split over any window up to
 * that), the last hour per minute with latency histograms (traffic-series.ts, for the dashboard),
 * latency of the last calls for percentiles, calls served to callers since start and since the
 * route's state last changed (the traffic split), and fallbacks. In memory: each instance measures
 * its own traffic.
 */
import type { Backend } from '../routing/route-table.ts';
import { MinuteSeries } from './traffic-series.ts';

const BUCKET_MS = 10_000;
const BUCKETS = 720;
const LATENCY_SAMPLES = 512;

class Window {
  private readonly epochs = new Float64Array(BUCKETS).fill(-1);
  private readonly calls = new Float64Array(BUCKETS);
  private readonly errors = new Float64Array(BUCKETS);
  private readonly served = new Float64Array(BUCKETS);

  private slot(now: number): number {
    const epoch = Math.floor(now / BUCKET_MS);
    const i = epoch % BUCKETS;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.calls[i] = 0;
      this.errors[i] = 0;
      this.served[i] = 0;
    }
    return i;
  }

  add(now: number, failed: boolean): void {
    const i = this.slot(now);
    this.calls[i]++;
    if (failed) this.errors[i]++;
  }

  addServed(now: number): void {
    this.served[this.slot(now)]++;
  }

  /** The buckets held, flat: [epoch, calls, errors, served] per bucket. */
  export(): number[] {
    const out: number[] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.epochs[i] >= 0) out.push(this.epochs[i], this.calls[i], this.errors[i], this.served[i]);
    return out;
  }

  /** Adds another process's `export()` (a bucket older than the one held in its slot is dropped). */
  absorb(flat: readonly number[]): void {
    for (let at = 0; at + 4 <= flat.length; at += 4) {
      const epoch = flat[at];
      const i = epoch % BUCKETS;
      if (this.epochs[i] > epoch) continue;
      this.slot(epoch * BUCKET_MS);
      this.calls[i] += flat[at + 1];
      this.errors[i] += flat[at + 2];
      this.served[i] += flat[at + 3];
    }
  }

  /** Calls, failures and calls served over the last `ms` (to the bucket). */
  sum(now: number, ms: number): { calls: number; errors: number; served: number } {
    const last = Math.floor(now / BUCKET_MS);
    const first = Math.floor((now - Math.min(ms, BUCKET_MS * (BUCKETS - 1))) / BUCKET_MS);
    let calls = 0;
    let errors = 0;
    let served = 0;
    for (let e = first; e <= last; e++) {
      const i = e % BUCKETS;
      if (this.epochs[i] === e) {
        calls += this.calls[i];
        errors += this.errors[i];
        served += this.served[i];
      }
    }
    return { calls, errors, served };
  }
}

/** The traffic split of one route over a window: calls for callers answered by each backend. */
export interface TrafficSplit {
  /** Where the window starts (ISO 8601): `windowMs` ago, or when the route's state last changed if that is later. */
  from: string;
  windowMs: number;
  /** The window starts at the route's last change of state (so a switch shows at once). */
  sinceChange: boolean;
  legacy: number;
  modern: number;
  /** Percent of the window's calls that modern answered (null without calls). */
  modernShare: number | null;
}

export interface BackendFigures {
  /** Calls made to this backend since start (shadow calls included). */
  calls: number;
  errors: number;
  /** Calls whose answer went to the caller. */
  served: number;
  /** Percent of calls that failed over the last 5 minutes (null without calls). */
  errorRate5m: number | null;
  calls5m: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

class BackendStats {
  calls = 0;
  errors = 0;
  served = 0;
  readonly window = new Window();
  readonly series = new MinuteSeries();
  private readonly latencies = new Float64Array(LATENCY_SAMPLES);
  private n = 0;

  record(now: number, ms: number, failed: boolean): void {
    this.calls++;
    if (failed) this.errors++;
    this.window.add(now, failed);
    this.series.call(now, ms, failed);
    this.latencies[this.n % LATENCY_SAMPLES] = ms;
    this.n++;
  }

  export(): BackendSnapshot {
    const held = Math.min(this.n, LATENCY_SAMPLES);
    return { calls: this.calls, errors: this.errors, served: this.served, window: this.window.export(), series: this.series.export(), latencies: Array.from(this.latencies.subarray(0, held)) };
  }

  absorb(b: BackendSnapshot): void {
    this.calls += b.calls;
    this.errors += b.errors;
    this.served += b.served;
    this.window.absorb(b.window);
    this.series.absorb(b.series);
    for (const ms of b.latencies) this.latencies[this.n++ % LATENCY_SAMPLES] = ms;
  }

  figures(now: number): BackendFigures {
    const w = this.window.sum(now, 300_000);
    const sorted = Array.from(this.latencies.subarray(0, Math.min(this.n, LATENCY_SAMPLES))).sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length === 0 ? null : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] * 100) / 100);
    return {
      calls: this.calls,
      errors: this.errors,
      served: this.served,
      errorRate5m: w.calls === 0 ? null : Math.round((w.errors / w.calls) * 10_000) / 100,
      calls5m: w.calls,
      p50Ms: pct(0.5),
      p95Ms: pct(0.95),
    };
  }
}

/** One backend of a route as another process sends it (plain data). */
export interface BackendSnapshot {
  calls: number;
  errors: number;
  served: number;
  /** 10-second buckets, flat: [epoch, calls, errors, served]… */
  window: number[];
  /** Minutes, flat: [minute, calls, errors, served, …latency bins]… */
  series: number[];
  /** The last calls' latencies (ms). */
  latencies: number[];
}

/** One process's traffic (`TrafficStats.snapshot()`), for adding up the workers of a cluster. */
export interface TrafficSnapshot {
  routes: Record<string, { state: string; changedAt: number; sinceChange: { legacy: number; modern: number }; fallbacks: number; legacy: BackendSnapshot; modern: BackendSnapshot }>;
}

interface RouteTraffic {
  legacy: BackendStats;
  modern: BackendStats;
  fallbacks: number;
  /** The route's state (text) last applied, when, and the calls served since. */
  state: string;
  changedAt: number;
  sinceChange: { legacy: number; modern: number };
}

export class TrafficStats {
  private readonly routes = new Map<string, RouteTraffic>();

  private of(operationId: string): RouteTraffic {
    let r = this.routes.get(operationId);
    if (!r) {
      r = { legacy: new BackendStats(), modern: new BackendStats(), fallbacks: 0, state: '', changedAt: 0, sinceChange: { legacy: 0, modern: 0 } };
      this.routes.set(operationId, r);
    }
    return r;
  }

  /** This process's traffic as plain data (for the primary of a cluster to pass to the worker asked for the dashboard). */
  snapshot(): TrafficSnapshot {
    const routes: TrafficSnapshot['routes'] = {};
    for (const [op, r] of this.routes) {
      routes[op] = { state: r.state, changedAt: r.changedAt, sinceChange: { ...r.sinceChange }, fallbacks: r.fallbacks, legacy: r.legacy.export(), modern: r.modern.export() };
    }
    return { routes };
  }

  /**
   * Several processes' traffic added up (the workers of one cluster): counts, buckets, minutes and
   * latency samples summed; a route's split since its last change adds up the workers that applied
   * the latest state, from the earliest of them (workers apply a switch within milliseconds).
   */
  static merged(parts: readonly TrafficSnapshot[]): TrafficStats {
    const out = new TrafficStats();
    const seen = new Set<string>();
    for (const part of parts) {
      for (const [op, p] of Object.entries(part.routes)) {
        const r = out.of(op);
        r.legacy.absorb(p.legacy);
        r.modern.absorb(p.modern);
        r.fallbacks += p.fallbacks;
        if (!seen.has(op) || (p.state !== r.state && p.changedAt > r.changedAt)) {
          // The first worker's, or a worker that has applied a newer state: the split counts from it.
          seen.add(op);
          r.state = p.state;
          r.changedAt = p.changedAt;
          r.sinceChange = { ...p.sinceChange };
        } else if (p.state === r.state) {
          r.changedAt = Math.min(r.changedAt, p.changedAt);
          r.sinceChange.legacy += p.sinceChange.legacy;
          r.sinceChange.modern += p.sinceChange.modern;
        }
        // Else the worker has not applied the latest state yet: its calls since its own change are not of this state.
      }
    }
    return out;
  }

  /** A state was put in force on this instance: when it differs from the last one, the split since the change starts again. */
  stateApplied(operationId: string, state: string, now = Date.now()): void {
    const r = this.of(operationId);
    if (r.state === state) return;
    r.state = state;
    r.changedAt = now;
    r.sinceChange = { legacy: 0, modern: 0 };
  }

  /**
   * The split over the last `windowMs`, or since the route's state last changed when that is
   * later: a route switched to modern shows modern's share of the calls since the switch, not of
   * everything before it.
   */
  split(operationId: string, windowMs: number, now = Date.now()): TrafficSplit {
    const r = this.of(operationId);
    const sinceChange = r.changedAt > now - windowMs;
    const legacy = sinceChange ? r.sinceChange.legacy : r.legacy.window.sum(now, windowMs).served;
    const modern = sinceChange ? r.sinceChange.modern : r.modern.window.sum(now, windowMs).served;
    const from = sinceChange ? r.changedAt : now - windowMs;
    return {
      from: new Date(from).toISOString(),
      windowMs: now - from,
      sinceChange,
      legacy,
      modern,
      modernShare: legacy + modern === 0 ? null : Math.round((modern / (legacy + modern)) * 10_000) / 100,
    };
  }

  /** The per-minute series of one backend of a route (undefined: the route has seen no traffic). */
  series(operationId: string, backend: Backend): MinuteSeries | undefined {
    return this.routes.get(operationId)?.[backend].series;
  }

  called(operationId: string, backend: Backend, ms: number, failed: boolean, now = Date.now()): void {
    this.of(operationId)[backend].record(now, ms, failed);
  }

  served(operationId: string, backend: Backend, now = Date.now()): void {
    const r = this.of(operationId);
    const b = r[backend];
    b.served++;
    b.window.addServed(now);
    b.series.serve(now);
    r.sinceChange[backend]++;
  }

  fellBack(operationId: string): void {
    this.of(operationId).fallbacks++;
  }

  /** Modern's calls and failures over the last `ms`. */
  modernWindow(operationId: string, ms: number, now = Date.now()): { calls: number; errors: number } {
    return this.of(operationId).modern.window.sum(now, ms);
  }

  figures(operationId: string, now = Date.now()): { legacy: BackendFigures; modern: BackendFigures; fallbacks: number } {
    const r = this.of(operationId);
    return { legacy: r.legacy.figures(now), modern: r.modern.figures(now), fallbacks: r.fallbacks };
  }
}
