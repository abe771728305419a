/**
 * A retry budget: retries may be at most `ratio` of the calls made over a sliding window, plus a
 * small floor per second, so that a failing backend is not hammered by retries on top of traffic.
 */
export class RetryBudget {
  private readonly windowMs: number;
  private readonly buckets: { calls: number; retries: number }[];
  private readonly bucketMs: number;
  private current = 0;
  private currentStart: number;

  constructor(
    private readonly ratio: number,
    private readonly minPerSecond: number,
    windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.windowMs = windowMs;
    this.bucketMs = windowMs / 10;
    this.buckets = Array.from({ length: 10 }, () => ({ calls: 0, retries: 0 }));
    this.currentStart = now();
  }

  recordCall(): void {
    this.rotate();
    this.buckets[this.current].calls++;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryRetry(): boolean {
    this.rotate();
    let calls = 0;
    let retries = 0;
    for (const b of this.buckets) {
      calls += b.calls;
      retries += b.retries;
    }
    const allowed = calls * this.ratio + (this.minPerSecond * this.windowMs) / 1000;
    if (retries + 1 > allowed) return false;
    this.buckets[this.current].retries++;
    return true;
  }

  private rotate(): void {
    const t = this.now();
    let steps = Math.floor((t - this.currentStart) / this.bucketMs);
    if (steps <= 0) return;
    steps = Math.min(steps, this.buckets.length);
    for (let i = 0; i < steps; i++) {
      this.current = (this.current + 1) % this.buckets.length;
      this.buckets[this.current] = { calls: 0, retries: 0 };
    }
    this.currentStart = t;
  }
}
