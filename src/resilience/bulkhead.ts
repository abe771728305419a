/**
 * A binding's concurrency limit: calls past `limit` wait in a queue bounded both in length and in
 * time, first come first served. A call that finds the queue full, or waits longer than it may, is
 * refused (503 `overloaded` with Retry-After): under a flood every caller gets an answer within the
 * queue time, instead of waiting until the backend's timeout and looking like a backend failure.
 */
export class BulkheadRejected extends Error {
  constructor(
    readonly why: 'full' | 'waited',
    readonly limit: number,
    readonly queue: number,
    readonly waitedMs: number,
  ) {
    super(why === 'full' ? `${limit} calls in flight and ${queue} waiting` : `no free slot within ${waitedMs} ms (${limit} calls in flight)`);
    this.name = 'BulkheadRejected';
  }
}

interface Waiter {
  resolve(): void;
  timer: NodeJS.Timeout | undefined;
  onAbort: () => void;
  signal: AbortSignal;
}

export class Bulkhead {
  private active = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly limit: number,
    readonly queue: number,
  ) {}

  /**
   * Waits (at most `maxWaitMs`) for a slot. Rejects with BulkheadRejected when the queue is full or
   * the wait is over, with `gone(reason)` when `signal` aborts meanwhile. Call `release` after.
   */
  acquire(maxWaitMs: number, signal: AbortSignal, gone: (reason: unknown) => unknown): Promise<void> | undefined {
    if (this.active < this.limit) {
      this.active++;
      return undefined;
    }
    if (this.waiters.length >= this.queue || maxWaitMs <= 0) return Promise.reject(new BulkheadRejected(this.waiters.length >= this.queue ? 'full' : 'waited', this.limit, this.queue, maxWaitMs));
    return new Promise<void>((resolve, reject) => {
      const drop = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        clearTimeout(waiter.timer);
        signal.removeEventListener('abort', waiter.onAbort);
      };
      const waiter: Waiter = {
        resolve,
        signal,
        timer: Number.isFinite(maxWaitMs)
          ? setTimeout(() => {
              drop();
              reject(new BulkheadRejected('waited', this.limit, this.queue, maxWaitMs));
            }, maxWaitMs)
          : undefined,
        onAbort: () => {
          drop();
          reject(gone(signal.reason));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (!next) {
      this.active--;
      return;
    }
    // The slot passes straight to the next waiter.
    clearTimeout(next.timer);
    next.signal.removeEventListener('abort', next.onAbort);
    next.resolve();
  }
}
