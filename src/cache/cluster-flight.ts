/**
 * Coalescing across instances (a route's `coalesce: cluster`): of the instances sharing Redis, the one
 * that takes a short lock on the read (SET NX PX `cache.redis.lockTtl`) calls the backend, and gives
 * its answer (or its problem) to the others through Redis: published on the answers channel at once,
 * and kept under the leader's token for as long as the lock would have lasted. An instance that finds
 * the lock taken waits for that answer, looking every so often whether the lock is still held: gone
 * without an answer (the leader died, or its lock expired before it answered), it calls the backend
 * itself. Redis unreachable: every instance calls for itself. Within an instance, the reads are
 * already one call (single-flight.ts): this runs once per instance and key.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FieldError } from '../problem.ts';
import { PROBLEMS, Problem, UpstreamError, storedProblem } from '../problem.ts';
import type { Dispatched } from '../routing/dispatch.ts';
import type { RedisTier } from './redis-tier.ts';

/** What a leader gives the instances waiting for it. */
type Outcome =
  | { ok: Dispatched }
  | { problem: { type: string; status: number; detail?: string; errors?: FieldError[]; headers?: Record<string, string> } }
  | { upstream: { status: 502 | 503 | 504; message: string; code: string } }
  /** Nothing to share (the leader's callers all went away, or the answer is not JSON): call for yourself. */
  | { unshared: string };

export interface ClusterCall {
  dispatched: Dispatched;
  /** Answered by another instance's call. */
  shared: boolean;
}

/** Counts since start. */
export interface ClusterFigures {
  /** Reads this instance called the backend for, holding the lock. */
  led: number;
  /** Reads answered by another instance's call. */
  followed: number;
  /** Reads whose leader gave no answer (gone, lock expired, nothing to share): called here. */
  fellBack: number;
}

function plainJson(v: unknown): boolean {
  if (v === null || v === undefined || typeof v !== 'object') return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  return Array.isArray(v) || proto === Object.prototype || proto === null;
}

function encode(o: Outcome): string {
  return JSON.stringify(o);
}

function outcomeOfError(err: unknown): Outcome {
  if (err instanceof Problem) {
    if (err.typeName === 'client-closed-request') return { unshared: 'the callers went away' };
    return { problem: { type: err.typeName, status: err.status, detail: err.detail, errors: err.errors, headers: err.headers } };
  }
  if (err instanceof UpstreamError) return { upstream: { status: err.status, message: err.message, code: err.code } };
  return { unshared: 'the call failed unexpectedly' };
}

export class ClusterFlight {
  private readonly listeners = new Map<string, Set<(text: string) => void>>();
  readonly figures: ClusterFigures = { led: 0, followed: 0, fellBack: 0 };
  /** Reads of this instance waiting for another's answer now. */
  following = 0;
  private readonly lookEveryMs: number;

  constructor(
    private readonly redis: RedisTier,
    private readonly lockMs: number,
  ) {
    this.lookEveryMs = Math.max(10, Math.min(250, Math.floor(lockMs / 4)));
  }

  /** An answer published by a leader (any instance's, this one's too: nobody here listens for its own). */
  answered(id: string, outcome: string): void {
    const set = this.listeners.get(id);
    if (set) for (const l of [...set]) l(outcome);
  }

  /** Calls `call` once across the instances for (operationId, key); `signal` ends the wait (the callers here went away). */
  async run(operationId: string, key: string, signal: AbortSignal, call: () => Promise<Dispatched>): Promise<ClusterCall> {
    if (!this.redis.isUp) return { dispatched: await call(), shared: false };
    const id = createHash('sha1').update(`${operationId}\u0000${key}`).digest('base64url');
    // Listening before asking for the lock: an answer published once the lock is seen taken is heard.
    let heard: string | undefined;
    let wake: (() => void) | undefined;
    const listener = (text: string) => {
      heard = text;
      wake?.();
    };
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(listener);
    const stopListening = () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(id) === set) this.listeners.delete(id);
    };
    const token = randomUUID();
    let lock: Awaited<ReturnType<RedisTier['lock']>>;
    try {
      lock = await this.redis.lock(id, token, this.lockMs);
    } catch (err) {
      stopListening();
      throw err;
    }
    if (!lock || lock.acquired) {
      stopListening();
      if (!lock) return { dispatched: await call(), shared: false };
      return { dispatched: await this.lead(id, token, call), shared: false };
    }
    this.following++;
    let text: string | undefined;
    try {
      text = await this.follow(
        id,
        lock.holder,
        lock.pttl,
        signal,
        () => heard,
        (w) => (wake = w),
      );
    } finally {
      this.following--;
      stopListening();
    }
    const shared = text === undefined ? undefined : this.decode(text);
    if (shared) {
      this.figures.followed++;
      return { dispatched: shared(), shared: true };
    }
    this.figures.fellBack++;
    return { dispatched: await call(), shared: false };
  }

  private async lead(id: string, token: string, call: () => Promise<Dispatched>): Promise<Dispatched> {
    this.figures.led++;
    try {
      const d = await call();
      const outcome: Outcome = plainJson(d.result.body) ? { ok: d } : { unshared: 'the answer is not JSON' };
      void this.redis.release(id, token, encode(outcome), this.lockMs);
      return d;
    } catch (err) {
      void this.redis.release(id, token, encode(outcomeOfError(err)), this.lockMs);
      throw err;
    }
  }

  /**
   * Waits for the holder's answer: heard on the channel, or left under its token. Undefined when the
   * lock is gone (or held by another) without one, or Redis cannot say: the caller calls for itself.
   */
  private async follow(id: string, holder: string, pttl: number, signal: AbortSignal, heard: () => string | undefined, onWake: (w: (() => void) | undefined) => void): Promise<string | undefined> {
    // Bounded: the lock cannot outlive its ttl; after that (and a last look) this instance calls for itself.
    const deadline = performance.now() + Math.max(0, pttl) + this.lookEveryMs;
    for (;;) {
      const h = heard();
      if (h !== undefined) return h;
      if (signal.aborted) throw new Problem(PROBLEMS.clientClosedRequest, { detail: 'the callers went away before the answer' });
      const now = await this.redis.lockHolder(id);
      if (heard() !== undefined) continue;
      if (now !== holder || performance.now() > deadline) {
        // The holder finished (its answer is kept under its token), died, or its lock expired.
        return now === undefined ? undefined : await this.redis.answerOf(id, holder);
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          onWake(undefined);
          resolve();
        };
        const timer = setTimeout(done, this.lookEveryMs);
        signal.addEventListener('abort', done, { once: true });
        onWake(done);
      });
    }
  }

  /** The leader's outcome as this instance's answer (or problem), or undefined when there is nothing to share. */
  private decode(text: string): (() => Dispatched) | undefined {
    let o: Outcome;
    try {
      o = JSON.parse(text) as Outcome;
    } catch {
      return undefined;
    }
    if ('ok' in o) {
      const d = o.ok;
      return () => d;
    }
    if ('problem' in o) {
      const p = o.problem;
      return () => {
        throw storedProblem(p.type, p.status, { detail: p.detail, errors: p.errors, headers: p.headers });
      };
    }
    if ('upstream' in o) {
      const u = o.upstream;
      return () => {
        throw new UpstreamError(u.message, { status: u.status, retryable: false, code: u.code });
      };
    }
    return undefined;
  }
}
