/**
 * A change feed's polling: one poll at a time, the next `intervalMs` after the last one ended
 * (failed or not: a failure is reported and the next poll tries again), until stopped. Stopping
 * waits for the poll under way (the feed aborts it first through its own signal).
 */
export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly poll: () => Promise<unknown>,
    private readonly intervalMs: () => number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Starts polling now; false when it was already polling. */
  start(): boolean {
    if (!this.stopped) return false;
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.poll()
        .catch(this.onError)
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) {
            this.timer = setTimeout(loop, this.intervalMs());
            this.timer.unref();
          }
        });
    };
    loop();
    return true;
  }

  /** No poll starts any more; `interrupt` (the feed's abort) runs before waiting for the one under way. */
  async stop(interrupt: () => void = () => undefined): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    interrupt();
    await this.running?.catch(() => undefined);
  }
}
