/**
 * The control plane's traffic figures over time, on a clock the test moves: the traffic split over a
 * window (or since the route's last change of state), and each backend's last hour per minute with
 * its latency percentiles, adding up across routes.
 */
import { describe, expect, it } from 'vitest';
import { MINUTE_MS, SeriesSum } from '../../src/control/traffic-series.ts';
import { TrafficStats } from '../../src/control/traffic-stats.ts';

const T0 = Date.parse('2026-11-27T10:00:00.000Z');
const serve = (t: TrafficStats, op: string, backend: 'legacy' | 'modern', n: number, now: number, ms = 10) => {
  for (let i = 0; i < n; i++) {
    t.called(op, backend, ms, false, now);
    t.served(op, backend, now);
  }
};

describe('the traffic split over a window', () => {
  it('shows a route switched to modern as 100% modern since the switch, however much legacy served before', () => {
    const t = new TrafficStats();
    t.stateApplied('getCustomer', 'legacy', T0);
    serve(t, 'getCustomer', 'legacy', 700, T0 + 60_000);
    t.stateApplied('getCustomer', 'modern', T0 + 120_000);
    serve(t, 'getCustomer', 'modern', 400, T0 + 130_000);
    const s = t.split('getCustomer', 5 * MINUTE_MS, T0 + 150_000);
    expect(s).toEqual({ from: new Date(T0 + 120_000).toISOString(), windowMs: 30_000, sinceChange: true, legacy: 0, modern: 400, modernShare: 100 });
    // Since start: 400 of 1100.
    const f = t.figures('getCustomer', T0 + 150_000);
    expect(Math.round((f.modern.served / (f.modern.served + f.legacy.served)) * 10_000) / 100).toBe(36.36);
  });

  it('is the last window once the change is older than it', () => {
    const t = new TrafficStats();
    t.stateApplied('op', 'canary 50%', T0);
    serve(t, 'op', 'legacy', 100, T0 + 60_000); // 9 minutes before the look: outside a 5-minute window
    serve(t, 'op', 'legacy', 30, T0 + 7 * MINUTE_MS);
    serve(t, 'op', 'modern', 10, T0 + 8 * MINUTE_MS);
    const s = t.split('op', 5 * MINUTE_MS, T0 + 10 * MINUTE_MS);
    expect(s).toEqual({ from: new Date(T0 + 5 * MINUTE_MS).toISOString(), windowMs: 5 * MINUTE_MS, sinceChange: false, legacy: 30, modern: 10, modernShare: 25 });
  });

  it('does not start again for a change that keeps the state (an ignore rule, a gate paused)', () => {
    const t = new TrafficStats();
    t.stateApplied('op', 'modern', T0);
    serve(t, 'op', 'modern', 5, T0 + 1_000);
    t.stateApplied('op', 'modern', T0 + 2_000);
    expect(t.split('op', 5 * MINUTE_MS, T0 + 3_000)).toMatchObject({ modern: 5, from: new Date(T0).toISOString() });
  });

  it('has no share without calls', () => {
    expect(new TrafficStats().split('op', MINUTE_MS, T0).modernShare).toBeNull();
  });
});

describe("a backend's last hour per minute", () => {
  it('keeps 60 minutes, the current one last, and forgets older ones', () => {
    const t = new TrafficStats();
    serve(t, 'a', 'legacy', 3, T0 + 30_000); // minute 0
    serve(t, 'a', 'legacy', 2, T0 + 61 * MINUTE_MS + 1_000); // minute 61
    const sum = new SeriesSum(T0 + 61 * MINUTE_MS + 5_000, 60);
    t.series('a', 'legacy')!.addInto(sum);
    const points = sum.points();
    expect(points).toHaveLength(60);
    expect(points[59]).toMatchObject({ t: new Date(T0 + 61 * MINUTE_MS).toISOString(), calls: 2, served: 2 });
    // Minute 0 is 61 minutes old: gone.
    expect(sum.totals().calls).toBe(2);
  });

  it('adds the routes of one adapter up, errors and latency percentiles included', () => {
    const t = new TrafficStats();
    const now = T0 + 30_000;
    for (let i = 0; i < 90; i++) t.called('a', 'legacy', 10, false, now);
    for (let i = 0; i < 10; i++) t.called('b', 'legacy', 800, true, now);
    const sum = new SeriesSum(now, 5);
    t.series('a', 'legacy')!.addInto(sum);
    t.series('b', 'legacy')!.addInto(sum);
    const total = sum.totals();
    expect(total).toMatchObject({ calls: 100, errors: 10, errorRate: 10 });
    // 90 calls at 10 ms, 10 at 800 ms: the median in the 10 ms bin, the 95th in the 700-1000 ms bin.
    expect(total.p50Ms).toBeGreaterThan(7);
    expect(total.p50Ms).toBeLessThanOrEqual(10);
    expect(total.p95Ms).toBeGreaterThan(700);
    expect(total.p95Ms).toBeLessThanOrEqual(1000);
    expect(sum.points()[4]).toMatchObject({ calls: 100, errors: 10 });
  });
});
