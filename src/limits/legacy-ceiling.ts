/**
 * The ceiling on calls to a legacy adapter, across every instance sharing the limits store:
 * at most `ratePerSecond` attempts in any second (a rolling window of 1 s, src/limits/sliding-window.ts,
 * not a count per clock second: with that, a second's late calls and the next second's early ones
 * reached the legacy system within one second, up to twice the ceiling). A call over it waits for a
 * place when fewer than `burst` calls are already waiting here and the wait fits in `maxWait` (and
 * in the call's queue time: waiting for capacity does not run down the attempt's timeout);
 * otherwise it is answered 503 `overloaded` with Retry-After. Each outcome is counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PROBLEMS, Problem } from '../problem.ts';
import { waitInQueue } from '../resilience/binding-policy.ts';
import type { OperationRequest } from '../kinds/kind.ts';
import type { Limiters } from './limiters.ts';
import type { LimitRules } from './limit-rules.ts';

export type CeilingOutcome = 'passed' | 'waited' | 'refused';

export class LegacyCeiling {
  private waiting = 0;

  constructor(
    private readonly adapter: string,
    private readonly rules: LimitRules,
    private readonly limiters: Limiters,
    private readonly counted: (adapter: string, outcome: CeilingOutcome) => void,
  ) {}

  /** A BoundBinding's `admission`: resolves when the attempt may go to the legacy system. */
  async admit(req: OperationRequest): Promise<void> {
    const rule = this.rules.protect(this.adapter);
    if (!rule) return;
    let waited = false;
    const deadline = Date.now() + rule.maxWait;
    for (;;) {
      const taken = await this.limiters.slide(`p:${this.adapter}`, rule.ratePerSecond, 1_000);
      if (taken.allowed) {
        this.counted(this.adapter, waited ? 'waited' : 'passed');
        return;
      }
      const untilNext = taken.msBeforeNext + 1;
      if (this.waiting >= rule.burst || Date.now() + untilNext > deadline) this.refuse(untilNext);
      this.waiting++;
      try {
        await waitInQueue(req.signal, deadline - Date.now(), async (maxWaitMs) => {
          if (untilNext > maxWaitMs) this.refuse(untilNext);
          await sleep(untilNext, undefined, { signal: req.signal });
        });
      } finally {
        this.waiting--;
      }
      waited = true;
    }
  }

  private refuse(ms: number): never {
    this.counted(this.adapter, 'refused');
    throw new Problem(PROBLEMS.overloaded, {
      detail: `${this.adapter} takes at most ${this.rules.protect(this.adapter)?.ratePerSecond ?? '?'} calls a second from all gateway instances together; try again shortly`,
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) },
    });
  }
}
