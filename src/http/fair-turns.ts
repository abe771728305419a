/**
 * Fair turns between operations when requests arrive in a burst. Node reads every socket that is
 * ready in one pass of the event loop and runs each request as far as it goes before reading the
 * next: a flood of 400 requests whose answers need no I/O (refused at once as overloaded, or as
 * invalid) is then served back to back, and a request to another route that arrives meanwhile waits
 * for the whole flood, some 100-300 ms. Here at most `perTurn` requests start in one turn of the
 * loop; the rest wait in a queue per key (the gateway's key: the operation and the caller's address),
 * and the queues take turns (one request of each in turn) on the following turns, with the loop free
 * for I/O in between. A request that finds nothing waiting and the turn not used up starts at once,
 * so nothing changes below a burst.
 */
export class FairTurns {
  private startedThisTurn = 0;
  private resetScheduled = false;
  private readonly queues = new Map<string, (() => void)[]>();
  private draining = false;

  constructor(readonly perTurn = 16) {}

  /** Requests waiting for their turn, over every operation. */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /** Whether a request may start now (counted if so): nothing waits and this turn is not used up. */
  now(): boolean {
    if (this.queues.size > 0 || this.startedThisTurn >= this.perTurn) return false;
    this.count();
    return true;
  }

  /** Runs `start` in its operation's turn (when `now()` said no). `start` must not throw. */
  later(key: string, start: () => void): void {
    const q = this.queues.get(key);
    if (q) q.push(start);
    else this.queues.set(key, [start]);
    if (!this.draining) {
      this.draining = true;
      setImmediate(this.drain);
    }
  }

  /** `start` now, or in its operation's turn. `start` must not throw. */
  run(key: string, start: () => void): void {
    if (this.now()) start();
    else this.later(key, start);
  }

  private count(): void {
    this.startedThisTurn++;
    this.resetNextCheck();
  }

  /** The turn's count goes back to 0 in the loop's next check phase. */
  private resetNextCheck(): void {
    if (!this.resetScheduled) {
      this.resetScheduled = true;
      setImmediate(this.reset);
    }
  }

  private readonly reset = (): void => {
    this.resetScheduled = false;
    this.startedThisTurn = 0;
  };

  /** One turn: up to `perTurn` requests, one of each waiting operation in turn; then the loop reads sockets again. */
  private readonly drain = (): void => {
    let started = 0;
    while (started < this.perTurn && this.queues.size > 0) {
      const [key, q] = this.queues.entries().next().value as [string, (() => void)[]];
      const start = q.shift() as () => void;
      // To the back of the line, behind the other operations waiting.
      this.queues.delete(key);
      if (q.length > 0) this.queues.set(key, q);
      started++;
      start();
    }
    // What this drain started counts against the turn that follows (until the next check phase).
    this.startedThisTurn = Math.max(this.startedThisTurn, started);
    this.resetNextCheck();
    if (this.queues.size > 0) setImmediate(this.drain);
    else this.draining = false;
  };
}
