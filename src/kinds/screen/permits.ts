/**
 * A counting semaphore with a bounded, first-come-first-served queue whose waiters can give up
 * (their signal aborts). The browser pool's page limit: the legacy system's concurrency, not ours.
 */
export class QueueFull extends Error {
  constructor(readonly limit: number, readonly queue: number) {
    super(`all ${limit} browser pages are busy and ${queue} requests are already waiting`);
    this.name = 'QueueFull';
  }
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  cleanup(): void;
}

export class Permits {
  private free: number;
  private readonly waiters: Waiter[] = [];

  constructor(readonly size: number, readonly queueLimit: number) {
    this.free = size;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  get inUse(): number {
    return this.size - this.free;
  }

  acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.queueLimit) return Promise.reject(new QueueFull(this.size, this.queueLimit));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      const waiter: Waiter = { resolve, reject, cleanup: () => signal.removeEventListener('abort', onAbort) };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) {
      next.cleanup();
      next.resolve();
    } else {
      this.free = Math.min(this.size, this.free + 1);
    }
  }

  rejectAll(err: unknown): void {
    for (const w of this.waiters.splice(0)) {
      w.cleanup();
      w.reject(err);
    }
  }
}
