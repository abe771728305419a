/** Spaces calls out to at most `perSecond` a second (no limit when undefined). */
export class RateLimiter {
  private next = 0;

  constructor(private readonly perSecond: number | undefined) {}

  async take(): Promise<void> {
    if (!this.perSecond) return;
    const now = performance.now();
    const slot = Math.max(now, this.next);
    this.next = slot + 1000 / this.perSecond;
    if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
  }
}
