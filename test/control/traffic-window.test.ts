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

describe("several workers' traffic added up (ficus start --workers N)", () => {
  // Each worker's snapshot crosses a process boundary as JSON.
  const viaIpc = (t: TrafficStats) => JSON.parse(JSON.stringify(t.snapshot())) as ReturnType<TrafficStats['snapshot']>;

  it('gives the same split, minutes and percentiles as one process that served all the calls', () => {
    const one = new TrafficStats();
    const w1 = new TrafficStats();
    const w2 = new TrafficStats();
    for (const t of [one, w1, w2]) t.stateApplied('getCustomer', 'canary 50%', T0);
    serve(one, 'getCustomer', 'legacy', 30, T0 + 60_000, 5);
    serve(w1, 'getCustomer', 'legacy', 10, T0 + 60_000, 5);
    serve(w2, 'getCustomer', 'legacy', 20, T0 + 60_000, 5);
    serve(one, 'getCustomer', 'modern', 12, T0 + 3 * MINUTE_MS, 40);
    serve(w2, 'getCustomer', 'modern', 12, T0 + 3 * MINUTE_MS, 40);
    one.called('getCustomer', 'modern', 900, true, T0 + 4 * MINUTE_MS);
    w1.called('getCustomer', 'modern', 900, true, T0 + 4 * MINUTE_MS);
    one.fellBack('getCustomer');
    w1.fellBack('getCustomer');

    const merged = TrafficStats.merged([viaIpc(w1), viaIpc(w2)]);
    const now = T0 + 5 * MINUTE_MS;
    expect(merged.split('getCustomer', 10 * MINUTE_MS, now)).toEqual(one.split('getCustomer', 10 * MINUTE_MS, now));
    const sum = (t: TrafficStats) => {
      const s = new SeriesSum(now, 10);
      t.series('getCustomer', 'legacy')?.addInto(s);
      t.series('getCustomer', 'modern')?.addInto(s);
      return { points: s.points(), totals: s.totals() };
    };
    expect(sum(merged)).toEqual(sum(one));
    expect(sum(merged).totals).toMatchObject({ calls: 43, errors: 1 });
    const f = merged.figures('getCustomer', now);
    expect(f.fallbacks).toBe(1);
    expect(f.modern).toMatchObject({ calls: 13, errors: 1, served: 12, calls5m: 13 });
    expect(f.legacy).toMatchObject({ calls: 30, served: 30, p50Ms: 5 });
  });

  it("counts a switch's split from the workers that applied it, leaving out a worker still on the old state", () => {
    const w1 = new TrafficStats();
    const w2 = new TrafficStats();
    const w3 = new TrafficStats();
    for (const t of [w1, w2, w3]) t.stateApplied('op', 'legacy', T0);
    w1.stateApplied('op', 'modern', T0 + 60_000);
    w2.stateApplied('op', 'modern', T0 + 60_005);
    serve(w1, 'op', 'modern', 5, T0 + 70_000);
    serve(w2, 'op', 'modern', 7, T0 + 70_000);
    serve(w3, 'op', 'legacy', 4, T0 + 70_000); // has not heard of the switch yet
    // Whichever order the primary hands the parts in.
    for (const parts of [
      [w3, w1, w2],
      [w1, w3, w2],
      [w2, w1, w3],
    ]) {
      const s = TrafficStats.merged(parts.map(viaIpc)).split('op', 5 * MINUTE_MS, T0 + 90_000);
      expect(s).toMatchObject({ from: new Date(T0 + 60_000).toISOString(), sinceChange: true, legacy: 0, modern: 12, modernShare: 100 });
    }
  });
});
