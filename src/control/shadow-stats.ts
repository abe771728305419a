/**
 * Per route, this instance's shadow comparisons: how many matched, mismatched, or could not be
 * compared (modern or legacy failed, too many in flight, an unsafe call), the outcome of the last 100,000
 * comparisons for "match rate over the last N calls", and the paths found noisy (different between
 * two answers of legacy itself to the same request), and comparisons by the consumer whose call was
 * compared (at most `MAX_CONSUMERS` names a route; the rest as `other`; anonymous calls as `anonymous`).
 */
const RING = 100_000;
const MAX_CONSUMERS = 50;

export interface ShadowFigures {
  compared: number;
  matched: number;
  mismatched: number;
  /** Modern failed (error or timeout) while legacy answered. */
  modernFailed: number;
  /** Not compared: legacy failed (5xx), so there was no answer to compare modern's with. */
  legacyFailed: number;
  /** Not shadowed: too many shadow calls in flight. */
  dropped: number;
  /** Not shadowed: an unsafe call to a modern binding not declared side-effect free. */
  skippedUnsafe: number;
  /** Not shadowed: left out by the route's `shadow.sample`. */
  sampledOut: number;
  /** Percent of comparisons that matched (null before the first). */
  matchRate: number | null;
  /** Comparisons by the caller's consumer, most mismatched first. */
  byConsumer: { consumer: string; compared: number; mismatched: number }[];
}

class RouteShadow {
  compared = 0;
  matched = 0;
  modernFailed = 0;
  legacyFailed = 0;
  dropped = 0;
  skippedUnsafe = 0;
  sampledOut = 0;
  readonly ring = new Uint8Array(RING);
  readonly noisy = new Map<string, number>();
  byConsumer = new Map<string, { compared: number; mismatched: number }>();
}

export class ShadowStats {
  private readonly routes = new Map<string, RouteShadow>();

  private of(operationId: string): RouteShadow {
    let r = this.routes.get(operationId);
    if (!r) {
      r = new RouteShadow();
      this.routes.set(operationId, r);
    }
    return r;
  }

  compared(operationId: string, equal: boolean, consumer?: string): void {
    const r = this.of(operationId);
    r.ring[r.compared % RING] = equal ? 1 : 0;
    r.compared++;
    if (equal) r.matched++;
    let name = consumer ?? 'anonymous';
    if (!r.byConsumer.has(name) && r.byConsumer.size >= MAX_CONSUMERS) name = 'other';
    const c = r.byConsumer.get(name) ?? { compared: 0, mismatched: 0 };
    c.compared++;
    if (!equal) c.mismatched++;
    r.byConsumer.set(name, c);
  }

  modernFailed(operationId: string): void {
    this.of(operationId).modernFailed++;
  }
  legacyFailed(operationId: string): void {
    this.of(operationId).legacyFailed++;
  }
  dropped(operationId: string): void {
    this.of(operationId).dropped++;
  }
  skippedUnsafe(operationId: string): void {
    this.of(operationId).skippedUnsafe++;
  }
  sampledOut(operationId: string): void {
    this.of(operationId).sampledOut++;
  }

  noisy(operationId: string, paths: readonly string[]): void {
    const r = this.of(operationId);
    for (const p of paths) r.noisy.set(p, (r.noisy.get(p) ?? 0) + 1);
  }

  noisyPaths(operationId: string): { path: string; seen: number }[] {
    return [...this.of(operationId).noisy.entries()].map(([path, seen]) => ({ path, seen })).sort((a, b) => b.seen - a.seen || a.path.localeCompare(b.path));
  }

  /** Match rate (percent) over the last `n` comparisons, and how many there were (fewer than `n` early on). */
  recentMatchRate(operationId: string, n: number): { rate: number | null; calls: number } {
    const r = this.of(operationId);
    const calls = Math.min(n, r.compared, RING);
    if (calls === 0) return { rate: null, calls: 0 };
    let ok = 0;
    for (let k = r.compared - calls; k < r.compared; k++) ok += r.ring[k % RING];
    return { rate: (ok / calls) * 100, calls };
  }

  /** Forgets the comparisons (after the ignore rules change, old mismatches no longer say anything). */
  resetComparisons(operationId: string): void {
    const r = this.of(operationId);
    r.compared = 0;
    r.matched = 0;
    r.byConsumer = new Map();
  }

  figures(operationId: string): ShadowFigures {
    const r = this.of(operationId);
    return {
      compared: r.compared,
      matched: r.matched,
      mismatched: r.compared - r.matched,
      modernFailed: r.modernFailed,
      legacyFailed: r.legacyFailed,
      dropped: r.dropped,
      skippedUnsafe: r.skippedUnsafe,
      sampledOut: r.sampledOut,
      matchRate: r.compared === 0 ? null : Math.round((r.matched / r.compared) * 10_000) / 100,
      byConsumer: [...r.byConsumer.entries()]
        .map(([consumer, c]) => ({ consumer, ...c }))
        .sort((a, b) => b.mismatched - a.mismatched || b.compared - a.compared || a.consumer.localeCompare(b.consumer)),
    };
  }
}
