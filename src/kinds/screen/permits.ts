/**
 * A counting semaphore shared fairly between operations (keys), with bounded queues whose waiters
 * can give up (their signal aborts) or run out of time. The browser pool's page limit: the legacy
 * system's concurrency, not ours. One operation holds at most `perKey` permits, so that a flood of
 * one operation leaves pages for the others; a freed permit goes to the operations with waiters in
 * turn, and within an operation first come first served.
 *
 * A waiter that would not reach a page within its wait is answered at once rather than when its
 * time is up: each operation's pages are held, on average, for a time measured as they are given
 * back (a moving average), so a newcomer behind q others of its operation expects to wait about
 * (q + 1) × that time ÷ the pages the operation may hold. Under a flood, the queue then stays as
 * long as the pages can serve in time, and the rest hear "overloaded" in microseconds. A newcomer
 * with nobody of its operation ahead waits its time, whatever one slow call made the average.
 */
export class QueueFull extends Error {
  constructor(
    readonly limit: number,
    readonly queue: number,
  ) {
    super(`all ${limit} browser pages are busy and ${queue} requests are already waiting`);
    this.name = 'QueueFull';
  }
}

/** A request would wait longer for a page than it may: answered at once. */
export class QueueTooSlow extends Error {
  constructor(
    readonly limit: number,
    readonly expectedMs: number,
    readonly maxWaitMs: number,
  ) {
    super(`all ${limit} browser pages are busy: a page would come free in about ${Math.round(expectedMs)} ms, later than the ${Math.round(maxWaitMs)} ms a request may wait`);
    this.name = 'QueueTooSlow';
  }
}

/** A request waited for a page as long as it may (the policy's `concurrency.queueTimeoutMs`). */
export class QueueTimeout extends Error {
  constructor(
    readonly limit: number,
    readonly waitedMs: number,
  ) {
    super(`no browser page came free within ${Math.round(waitedMs)} ms (${limit} pages, all busy)`);
    this.name = 'QueueTimeout';
  }
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  cleanup(): void;
}

export class Permits {
  private free: number;
  /** Waiters by key, in arrival order; a key is deleted when its queue empties. */
  private readonly queues = new Map<string, Waiter[]>();
  private readonly held = new Map<string, number>();
  /** Keys served in turn: the key last given a permit goes to the back. */
  private readonly turn: string[] = [];
  /** By key: when each permit still held was taken (oldest first), and the moving average of how long one is held. */
  private readonly takenAt = new Map<string, number[]>();
  private readonly holdMs = new Map<string, number>();
  readonly perKey: number;

  constructor(
    readonly size: number,
    readonly queueLimit: number,
    perKey?: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.free = size;
    this.perKey = Math.max(1, Math.min(size, perKey ?? (size > 1 ? size - 1 : 1)));
  }

  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  get inUse(): number {
    return this.size - this.free;
  }

  /**
   * A permit for `key` (an operation); waits at most `maxWaitMs` when none is free to it. The
   * queue limit is per key, so that one operation's flood does not refuse the others at once.
   */
  acquire(signal: AbortSignal, key = '', maxWaitMs = Number.POSITIVE_INFINITY): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.free > 0 && (this.held.get(key) ?? 0) < this.perKey && !this.queues.has(key)) {
      this.take(key);
      return Promise.resolve();
    }
    const queue = this.queues.get(key) ?? [];
    if (queue.length >= this.queueLimit) return Promise.reject(new QueueFull(this.size, this.queueLimit));
    if (maxWaitMs <= 0) return Promise.reject(new QueueTimeout(this.size, 0));
    // (Only behind others: a lone waiter waits its time, whatever one slow or abandoned call made the average.)
    const expected = queue.length > 0 ? this.expectedWait(key, queue.length) : 0;
    if (expected > maxWaitMs) return Promise.reject(new QueueTooSlow(this.size, expected, maxWaitMs));
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        const q = this.queues.get(key);
        const i = q ? q.indexOf(waiter) : -1;
        if (q && i >= 0) q.splice(i, 1);
        if (q && q.length === 0) this.queues.delete(key);
        waiter.cleanup();
      };
      const onAbort = () => {
        leave();
        reject(signal.reason);
      };
      const timer = Number.isFinite(maxWaitMs)
        ? setTimeout(() => {
            leave();
            reject(new QueueTimeout(this.size, maxWaitMs));
          }, maxWaitMs)
        : undefined;
      const waiter: Waiter = {
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      queue.push(waiter);
      this.queues.set(key, queue);
    });
  }

  /** About how long a newcomer behind `ahead` waiters of `key` waits for a page (0 while nothing is measured). */
  expectedWait(key: string, ahead: number): number {
    const hold = this.holdMs.get(key);
    if (hold === undefined) return 0;
    return ((ahead + 1) * hold) / Math.min(this.perKey, this.size);
  }

  release(key = ''): void {
    const taken = this.takenAt.get(key)?.shift();
    if (taken !== undefined) {
      const ms = this.now() - taken;
      const avg = this.holdMs.get(key);
      this.holdMs.set(key, avg === undefined ? ms : avg * 0.8 + ms * 0.2);
    }
    const n = (this.held.get(key) ?? 1) - 1;
    if (n > 0) this.held.set(key, n);
    else this.held.delete(key);
    this.free = Math.min(this.size, this.free + 1);
    this.dispatch();
  }

  rejectAll(err: unknown): void {
    for (const q of this.queues.values()) {
      for (const w of q.splice(0)) {
        w.cleanup();
        w.reject(err);
      }
    }
    this.queues.clear();
  }

  private take(key: string): void {
    const taken = this.takenAt.get(key);
    if (taken) taken.push(this.now());
    else this.takenAt.set(key, [this.now()]);
    this.free--;
    this.held.set(key, (this.held.get(key) ?? 0) + 1);
    const i = this.turn.indexOf(key);
    if (i >= 0) this.turn.splice(i, 1);
    this.turn.push(key);
  }

  /** Gives free permits to waiting keys, the key served longest ago first. */
  private dispatch(): void {
    while (this.free > 0) {
      let chosen: string | undefined;
      for (const key of this.queues.keys()) {
        if ((this.held.get(key) ?? 0) >= this.perKey) continue;
        // Keys never served come first; then the one served longest ago.
        if (chosen === undefined || this.turn.indexOf(key) < this.turn.indexOf(chosen)) chosen = key;
      }
      if (chosen === undefined) return;
      const q = this.queues.get(chosen) as Waiter[];
      const w = q.shift() as Waiter;
      if (q.length === 0) this.queues.delete(chosen);
      this.take(chosen);
      w.cleanup();
      w.resolve();
    }
  }
}
