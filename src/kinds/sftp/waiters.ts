/**
 * Callers waiting for the replies to their orders: a wait ends when every id is decided, the
 * timeout passes, or the caller goes away; the reply poller wakes the waiters of an id it decided.
 */
import type { PendingRequests } from './pending-requests.ts';

export class Waiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly pending: PendingRequests,
    private readonly pollIntervalMs: number,
    /** Whether this instance polls for replies (and so wakes its waiters); when not, they look at the store every interval. */
    private readonly pollsHere: () => boolean = () => true,
  ) {}

  /** How many ids are waited for now. */
  get size(): number {
    return this.waiters.size;
  }

  /** Wakes every caller waiting for this id (it looks at the store again). */
  wake(id: string): void {
    for (const wake of this.waiters.get(id) ?? []) wake();
  }

  /** Waits until every id is decided, the timeout passes, or the caller goes away. */
  async waitFor(ids: string[], timeoutMs: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const open = new Set(ids);
    const refresh = async () => {
      const rows = await this.pending.rowsOf([...open]);
      for (const r of rows) if (r.status !== 'pending') open.delete(r.id);
    };
    await refresh();
    while (open.size > 0 && Date.now() < deadline && !signal.aborted) {
      await new Promise<void>((resolve) => {
        // Whatever ends the wait (a reply, the timer, the caller leaving) takes every listener back.
        const t = setTimeout(() => done(), Math.min(deadline - Date.now(), this.pollIntervalMs * (this.pollsHere() ? 4 : 1)));
        const done = () => {
          clearTimeout(t);
          for (const id of ids) this.waiters.get(id)?.delete(onWake);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const onWake = () => done();
        for (const id of ids) {
          let set = this.waiters.get(id);
          if (!set) this.waiters.set(id, (set = new Set()));
          set.add(onWake);
        }
        signal.addEventListener('abort', done, { once: true });
      });
      for (const id of ids) if (this.waiters.get(id)?.size === 0) this.waiters.delete(id);
      await refresh();
    }
  }
}
