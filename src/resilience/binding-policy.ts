/**
 * The resilience policy of one binding, built from its PolicyConfig with cockatiel:
 * bulkhead (concurrency limit and queue, bounded in length and in time) → retry (exponential backoff
 * with jitter, within a budget) → circuit breaker → timeout (per attempt). Failures come out as
 * problems the caller understands: 504 on timeout, 503 with Retry-After while the circuit is open,
 * 503 `overloaded` with Retry-After when the queue is full or a call waited its queue time. Waiting
 * for capacity (here, or in a backend's own pool: see `waitInQueue`) is not a failure of the
 * backend: it neither runs down the attempt's timeout nor counts for the circuit breaker.
 */
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  IsolatedCircuitError,
  TaskCancelledError,
  circuitBreaker,
  handleWhen,
  noop,
  retry,
  wrap,
  type CircuitBreakerPolicy,
  type IPolicy,
} from 'cockatiel';
import { PROBLEMS, Problem, StateStoreUnavailable, UpstreamError, problems } from '../problem.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { Bulkhead, BulkheadRejected } from './bulkhead.ts';
import { DEFAULT_QUEUE_TIMEOUT_MS, type PolicyConfig } from './policy-config.ts';
import { RetryBudget } from './retry-budget.ts';

export interface BindingPolicyOptions {
  adapter: string;
  operation: string;
  /** Whether the operation may be retried (safe methods, or `retry.unsafe`). */
  retryable: boolean;
  metrics: GatewayMetrics;
}

/**
 * The caller went away (closed the connection) while the backend was being called. Not the
 * backend's fault: neither retried nor counted by the circuit breaker.
 */
export class CallerGoneError extends Error {
  constructor(cause: unknown) {
    super('the caller went away before the backend answered', { cause });
    this.name = 'CallerGoneError';
  }
}

/** Whether an error is a failure of the backend (as opposed to an answer such as 404 or 422). */
export function isBackendFailure(err: unknown): boolean {
  if (err instanceof CallerGoneError) return false;
  // Too many callers waiting (here or in a backend's own pool) is load, not the backend failing.
  if (err instanceof Problem && err.typeName === PROBLEMS.overloaded.type) return false;
  // The gateway's own state store failing (a kind keeping state there) is not the backend's doing.
  if (err instanceof StateStoreUnavailable) return false;
  if (err instanceof Problem) return !err.isClientError;
  return true;
}

function isRetryableFailure(err: unknown): boolean {
  if (err instanceof CallerGoneError || err instanceof StateStoreUnavailable) return false;
  if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) return false;
  // An overloaded backend pool: the caller is told when to come back (Retry-After), not queued again.
  if (err instanceof Problem && err.typeName === PROBLEMS.overloaded.type) return false;
  if (err instanceof UpstreamError) return err.retryable;
  if (err instanceof Problem) return err.status === 503 || err.status === 504;
  return err instanceof TaskCancelledError;
}

/**
 * One attempt under a deadline: its signal aborts when the deadline passes or the caller goes, and
 * the attempt settles then even if the backend ignores its signal (cockatiel's "aggressive" timeout).
 */
const ATTEMPT: unique symbol = Symbol('ficus.attempt');

class Attempt {
  private readonly controller = new AbortController();
  private fail: ((err: unknown) => void) | undefined;
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  /** While held (waiting in a backend's own queue): the time the attempt had left. */
  private left = 0;
  private deadline = 0;
  private holds = 0;

  constructor(
    private readonly timeoutMs: number,
    /** Until when (performance.now()) the attempt may wait in a backend's own queue. */
    readonly queueDeadline: number,
  ) {}

  run<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.fail = reject;
      (this.controller.signal as AttemptSignal)[ATTEMPT] = this;
      this.arm(this.timeoutMs);
      let running: Promise<T>;
      try {
        running = fn(this.controller.signal);
      } catch (err) {
        running = Promise.reject(err);
      }
      running.then(
        (value) => {
          clearTimeout(this.timer);
          this.settled = true;
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(this.timer);
          if (this.settled) return;
          this.settled = true;
          reject(err);
        },
      );
    });
  }

  callerGone(reason: unknown): void {
    this.stop(new CallerGoneError(reason));
  }

  /** Stops the attempt's clock until the returned function is called (once). */
  hold(): () => void {
    if (this.settled) return () => undefined;
    if (this.holds++ === 0) {
      clearTimeout(this.timer);
      this.left = Math.max(0, this.deadline - performance.now());
    }
    let resumed = false;
    return () => {
      if (resumed) return;
      resumed = true;
      if (--this.holds === 0 && !this.settled) this.arm(this.left);
    };
  }

  private arm(ms: number): void {
    this.deadline = performance.now() + ms;
    this.timer = setTimeout(() => this.stop(new TaskCancelledError(`no answer within ${this.timeoutMs} ms`)), ms);
  }

  private stop(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.controller.abort(err);
    this.fail?.(err);
  }
}

/** An attempt's signal knows its attempt, for `waitInQueue` (a property, not a WeakMap: no ephemeron per call for the GC). */
type AttemptSignal = AbortSignal & { [ATTEMPT]?: Attempt };

/**
 * Waits in a backend's own queue (a pool of browser pages, of connections) from within an attempt,
 * given the attempt's signal: waiting for capacity is not the backend being slow, so the attempt's
 * timeout is held meanwhile, and the wait is bounded by what is left of the call's queue time
 * (`concurrency.queueTimeoutMs`, counted from the call's arrival, time in the binding's own queue
 * included). `wait` gets that bound in ms and should refuse with a 503 `overloaded` when it passes.
 * A signal that is not an attempt's gets `fallbackMs`.
 */
export async function waitInQueue<T>(signal: AbortSignal, fallbackMs: number, wait: (maxWaitMs: number) => Promise<T>): Promise<T> {
  const attempt = (signal as AttemptSignal)[ATTEMPT];
  if (!attempt) return wait(fallbackMs);
  const resume = attempt.hold();
  try {
    return await wait(Math.max(0, attempt.queueDeadline - performance.now()));
  } finally {
    resume();
  }
}

export class BindingPolicy {
  readonly config: PolicyConfig;
  private readonly policy: IPolicy;
  private readonly breaker: CircuitBreakerPolicy | undefined;
  private readonly budget: RetryBudget;
  private readonly bulkhead: Bulkhead;
  private readonly queueTimeoutMs: number;
  private openedAt = 0;

  constructor(
    config: PolicyConfig,
    private readonly opts: BindingPolicyOptions,
  ) {
    this.config = config;
    const labels = { adapter: opts.adapter, operation: opts.operation };
    this.budget = new RetryBudget(config.retry.budget.ratio, config.retry.budget.minPerSecond);
    this.bulkhead = new Bulkhead(config.concurrency.limit, config.concurrency.queue);
    this.queueTimeoutMs = config.concurrency.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS;
    const parts: IPolicy[] = [];
    if (opts.retryable && config.retry.maxRetries > 0) {
      const r = retry(
        handleWhen((err) => isRetryableFailure(err) && this.budget.tryRetry()),
        {
          maxAttempts: config.retry.maxRetries,
          // ExponentialBackoff's default generator is decorrelated jitter.
          backoff: new ExponentialBackoff({ initialDelay: config.retry.initialDelayMs, maxDelay: config.retry.maxDelayMs }),
        },
      );
      r.onRetry(() => opts.metrics.retries.inc(labels));
      parts.push(r);
    }
    if (config.circuitBreaker.enabled) {
      this.breaker = circuitBreaker(handleWhen(isBackendFailure), {
        halfOpenAfter: config.circuitBreaker.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(config.circuitBreaker.consecutiveFailures),
      });
      opts.metrics.circuitState.set(labels, 0);
      this.breaker.onStateChange((state) => {
        if (state === CircuitState.Open) this.openedAt = Date.now();
        opts.metrics.circuitState.set(labels, state);
      });
      parts.push(this.breaker);
    }
    // The per-attempt timeout is `Attempt` (above), not cockatiel's timeout policy: that one derives an
    // AbortController and listens on it for every call (about 10 µs a call on Node 20, a third of
    // the policy's cost), where one timer and one controller per attempt do the same job.
    this.policy = parts.length > 0 ? wrap(...parts) : noop;
  }

  get circuitState(): 'closed' | 'open' | 'half-open' | 'isolated' | 'none' {
    if (!this.breaker) return 'none';
    return (['closed', 'open', 'half-open', 'isolated'] as const)[this.breaker.state];
  }

  /**
   * Runs one call under the policy; `signal` is the caller's (aborted when the caller goes away).
   * The caller's signal is kept out of cockatiel, whose timeout would report the caller leaving as
   * a timed-out attempt (a failure for the breaker); each attempt gets it combined with its own.
   */
  async execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    this.budget.recordCall();
    if (signal.aborted) throw this.toProblem(new CallerGoneError(signal.reason));
    const arrived = performance.now();
    const waiting = this.bulkhead.acquire(this.queueTimeoutMs, signal, (reason) => new CallerGoneError(reason));
    if (waiting) {
      try {
        await waiting;
      } catch (err) {
        throw this.toProblem(err);
      }
    }
    // One listener on the caller's signal for the whole call (not one per attempt, and no
    // AbortSignal.any, which costs some 30 µs a call on Node 20): it cancels the attempt in flight.
    let current: Attempt | undefined;
    const onGone = () => current?.callerGone(signal.reason);
    signal.addEventListener('abort', onGone);
    try {
      return await this.policy.execute(() => {
        if (signal.aborted) throw new CallerGoneError(signal.reason);
        // The first attempt's queue time counts from the call's arrival; a retry gets its own.
        current = new Attempt(this.config.timeoutMs, (current === undefined ? arrived : performance.now()) + this.queueTimeoutMs);
        return current.run(fn);
      });
    } catch (err) {
      throw this.toProblem(err);
    } finally {
      signal.removeEventListener('abort', onGone);
      this.bulkhead.release();
    }
  }

  private toProblem(err: unknown): unknown {
    const where = `${this.opts.adapter} (${this.opts.operation})`;
    if (err instanceof Problem) return err;
    if (err instanceof CallerGoneError) {
      // Cancelled by whoever called (a client hanging up, or a caller's own deadline such as the
      // outbox's): a 504 as before, so callers that queue on timeouts still do.
      return problems.upstreamTimeout(`the call to ${where} was cancelled before it answered`);
    }
    if (err instanceof TaskCancelledError) return problems.upstreamTimeout(`${where} did not answer within ${this.config.timeoutMs} ms`);
    if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
      const waitMs = Math.max(0, this.openedAt + this.config.circuitBreaker.halfOpenAfterMs - Date.now());
      return new Problem(PROBLEMS.circuitOpen, {
        detail: `the circuit breaker of ${where} is open after repeated failures`,
        headers: { 'Retry-After': String(Math.max(1, Math.ceil(waitMs / 1000))) },
      });
    }
    if (err instanceof BulkheadRejected) {
      return new Problem(PROBLEMS.overloaded, {
        detail:
          err.why === 'full'
            ? `${where} allows ${this.config.concurrency.limit} calls at once and ${this.config.concurrency.queue} waiting`
            : `${where} had no free slot within ${this.queueTimeoutMs} ms (${this.config.concurrency.limit} calls at once)`,
        headers: { 'Retry-After': err.why === 'full' ? '1' : String(Math.max(1, Math.ceil(this.queueTimeoutMs / 1000))) },
      });
    }
    if (err instanceof UpstreamError) return err.toProblem();
    return problems.upstreamError(`${where} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
