/**
 * Per route and backend, this instance's recent traffic: calls and failures in 10-second buckets
 * (two hours kept, for error rates over any window up to that), latency of the last calls for
 * percentiles, calls served to callers (the traffic split) and fallbacks. In memory: each instance
 * measures its own traffic.
 */
import type { Backend } from '../routing/route-table.ts';

const BUCKET_MS = 10_000;
const BUCKETS = 720;
const LATENCY_SAMPLES = 512;

class Window {
  private readonly epochs = new Float64Array(BUCKETS).fill(-1);
  private readonly calls = new Float64Array(BUCKETS);
  private readonly errors = new Float64Array(BUCKETS);

  add(now: number, failed: boolean): void {
    const epoch = Math.floor(now / BUCKET_MS);
    const i = epoch % BUCKETS;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.calls[i] = 0;
      this.errors[i] = 0;
    }
    this.calls[i]++;
    if (failed) this.errors[i]++;
  }

  /** Calls and failures over the last `ms` (to the bucket). */
  sum(now: number, ms: number): { calls: number; errors: number } {
    const last = Math.floor(now / BUCKET_MS);
    const first = Math.floor((now - Math.min(ms, BUCKET_MS * (BUCKETS - 1))) / BUCKET_MS);
    let calls = 0;
    let errors = 0;
    for (let e = first; e <= last; e++) {
      const i = e % BUCKETS;
      if (this.epochs[i] === e) {
        calls += this.calls[i];
        errors += this.errors[i];
      }
    }
    return { calls, errors };
  }
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
  private readonly latencies = new Float64Array(LATENCY_SAMPLES);
  private n = 0;

  record(now: number, ms: number, failed: boolean): void {
    this.calls++;
    if (failed) this.errors++;
    this.window.add(now, failed);
    this.latencies[this.n % LATENCY_SAMPLES] = ms;
    this.n++;
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

export class TrafficStats {
  private readonly routes = new Map<string, { legacy: BackendStats; modern: BackendStats; fallbacks: number }>();

  private of(operationId: string) {
    let r = this.routes.get(operationId);
    if (!r) {
      r = { legacy: new BackendStats(), modern: new BackendStats(), fallbacks: 0 };
      this.routes.set(operationId, r);
    }
    return r;
  }

  called(operationId: string, backend: Backend, ms: number, failed: boolean, now = Date.now()): void {
    this.of(operationId)[backend].record(now, ms, failed);
  }

  served(operationId: string, backend: Backend): void {
    this.of(operationId)[backend].served++;
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
