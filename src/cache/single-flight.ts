/**
 * Single flight: identical calls in flight share one run. Each waiter gets the same answer or the
 * same error; a waiter that goes away is answered at once (its own request is over) without
 * cancelling the run for the others. The run has its own signal, aborted only when every waiter has
 * gone (nobody is left to answer), never by one waiter leaving; a run started for nobody (a
 * background refresh) is never aborted by waiters and is bounded by the backend's policy timeout.
 */
import { PROBLEMS, Problem } from '../problem.ts';

interface Flight<T> {
  promise: Promise<T>;
  waiters: number;
  controller: AbortController;
  /** Started or joined by a background refresh: waiters leaving never abort it. */
  keep: boolean;
}

export interface Joined<T> {
  promise: Promise<T>;
  /** True when this caller joined a run already in flight. */
  joined: boolean;
}

export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  /** Runs in flight now. */
  get size(): number {
    return this.flights.size;
  }

  /** Callers waiting on runs in flight now. */
  get waiting(): number {
    let n = 0;
    for (const f of this.flights.values()) n += f.waiters;
    return n;
  }

  /**
   * Joins the run of `key`, or starts it with `start(signal)`. `callerSignal` is the waiter's own
   * (undefined for a background run, which nobody waits for).
   */
  run(key: string, callerSignal: AbortSignal | undefined, start: (signal: AbortSignal) => Promise<T>): Joined<T> {
    let f = this.flights.get(key);
    const joined = f !== undefined;
    if (!f) {
      const controller = new AbortController();
      const flight: Flight<T> = { promise: Promise.resolve() as Promise<T>, waiters: 0, controller, keep: false };
      let p: Promise<T>;
      try {
        p = start(controller.signal);
      } catch (err) {
        p = Promise.reject(err);
      }
      flight.promise = p;
      const done = () => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      };
      p.then(done, done);
      this.flights.set(key, flight);
      f = flight;
    }
    if (!callerSignal) {
      f.keep = true;
      return { promise: f.promise, joined };
    }
    return { promise: this.wait(key, f, callerSignal), joined };
  }

  private wait(key: string, f: Flight<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) return Promise.reject(gone());
    f.waiters++;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const leave = () => {
        if (settled) return;
        settled = true;
        f.waiters--;
        if (f.waiters === 0 && !f.keep) {
          // Nobody is left to answer: stop the backend call, and let the next caller start afresh.
          if (this.flights.get(key) === f) this.flights.delete(key);
          f.controller.abort(signal.reason);
        }
        reject(gone());
      };
      signal.addEventListener('abort', leave, { once: true });
      f.promise.then(
        (v) => {
          if (settled) return;
          settled = true;
          f.waiters--;
          signal.removeEventListener('abort', leave);
          resolve(v);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          f.waiters--;
          signal.removeEventListener('abort', leave);
          reject(err);
        },
      );
    });
  }
}

function gone(): Problem {
  return new Problem(PROBLEMS.clientClosedRequest, { detail: 'the caller went away before the answer' });
}
