/**
 * The delivery worker: takes due writes from the outbox and makes them through the route (its mode
 * and binding, under the binding's policy). Delivered → done; refused as invalid (a 4xx answer) →
 * dead-letter queue at once; failed → again later with exponential backoff and jitter, until the
 * attempts or the age budget are spent, then dead-letter queue. While the circuit is open nothing is
 * tried: the write waits for the circuit without spending an attempt.
 */
import { halfJitterGenerator } from 'cockatiel';
import type { OperationRequest } from '../kinds/kind.ts';
import type { Logger } from '../observability/logger.ts';
import { PROBLEMS, Problem, backendRefused } from '../problem.ts';
import { dispatch } from '../routing/dispatch.ts';
import { activeTracer } from '../observability/tracing/current.ts';
import type { RouteTable } from '../routing/route-table.ts';
import { OutageLog } from '../state/sql-store.ts';
import type { DeadReason } from './dead-letter-store.ts';
import type { AttemptError, OutboxEntry, OutboxStore } from './outbox-store.ts';
import type { WritesMetrics } from './writes-metrics.ts';
import type { WritesConfig } from './writes-config.ts';

/** 4xx answers that mean "not now" rather than "never": retried, not dead-lettered. */
const TRANSIENT_4XX = new Set([408, 425, 429]);

export interface OutboxWorkerOptions {
  outbox: OutboxStore;
  routes: RouteTable;
  config: WritesConfig['outbox'];
  owner: string;
  logger: Logger;
  metrics: WritesMetrics;
  /** Told of each write that reached the dead-letter queue (for the warning log line and tests). */
  onDead?: (entry: OutboxEntry, reason: DeadReason) => void;
}

export function backoffDelay(attempts: number, initialDelayMs: number, maxDelayMs: number): number {
  const [delay] = halfJitterGenerator(Math.max(0, attempts - 1), { initialDelay: initialDelayMs, maxDelay: maxDelayMs, exponent: 2, generator: halfJitterGenerator });
  return delay;
}

function describe(err: unknown): { status?: number; type?: string; message: string; retryAfterMs?: number } {
  if (err instanceof Problem) {
    const ra = Number(err.headers['Retry-After']);
    return { status: err.status, type: err.typeName, message: err.detail ?? err.title, retryAfterMs: Number.isFinite(ra) && ra > 0 ? ra * 1000 : undefined };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

export class OutboxWorker {
  private readonly inFlight = new Map<string, { entry: OutboxEntry; abort: AbortController; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  /** Until `start`: an instance that does not run the singletons takes nothing from the outbox, even when poked. */
  private stopped = true;
  private readonly outage: OutageLog;

  constructor(private readonly opts: OutboxWorkerOptions) {
    this.outage = new OutageLog(opts.logger, 'outbox worker');
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.poke(), this.opts.config.pollIntervalMs);
    this.timer.unref();
    this.poke();
  }

  /** Looks for due writes now (after an enqueue, or a delivery that freed a slot). */
  poke(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick()
      .then(() => this.outage.ok())
      .catch((err: unknown) => {
        if (!this.outage.failed(err)) this.opts.logger.error({ err }, 'outbox worker: could not read the outbox');
      })
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  get busy(): number {
    return this.inFlight.size;
  }

  private async tick(): Promise<void> {
    const free = this.opts.config.concurrency - this.inFlight.size;
    if (free <= 0 || this.stopped) return;
    const entries = await this.opts.outbox.claim(this.opts.owner, free, this.opts.config.leaseMs);
    for (const entry of entries) {
      if (this.stopped) {
        await this.opts.outbox.release(this.opts.owner, [entry.id]);
        continue;
      }
      const abort = new AbortController();
      const done = this.deliver(entry, abort.signal)
        .catch((err: unknown) => this.opts.logger.error({ err, write: entry.id }, 'outbox worker: could not record a delivery'))
        .finally(() => {
          this.inFlight.delete(entry.id);
          this.poke();
        });
      this.inFlight.set(entry.id, { entry, abort, done });
    }
  }

  private async deliver(entry: OutboxEntry, signal: AbortSignal): Promise<void> {
    const { outbox, config, owner, metrics, logger } = this.opts;
    const op = entry.operation;
    const route = this.opts.routes.get(op);
    const at = new Date().toISOString();
    if (!route) {
      await this.dead(entry, 'rejected', { attempt: entry.attempts, at, error: `operation ${op} is no longer served by this gateway` });
      return;
    }
    const req: OperationRequest = { ...entry.request, signal };
    let err: unknown;
    try {
      const tracer = activeTracer();
      const d = await (tracer ? tracer.traceDelivery(op, entry.id, entry.attempts, entry.request.headers.traceparent, (trace) => dispatch(route, { ...req, trace })) : dispatch(route, req));
      if (d.result.status < 400) {
        if (await outbox.markDelivered(entry.id, owner, { status: d.result.status, body: d.result.body, backend: d.backend, adapter: d.adapter })) {
          metrics.outboxDeliveries.inc({ operation: op, outcome: 'delivered' });
        }
        return;
      }
      err = backendRefused(d.result.status, { detail: `the backend refused the write: ${JSON.stringify(d.result.body ?? null)}` });
    } catch (e) {
      err = e;
    }
    if (signal.aborted) return; // shut down mid-attempt: the write was handed back to the outbox
    const info = describe(err);
    const attemptError: AttemptError = { attempt: entry.attempts, at, status: info.status, type: info.type, error: info.message };
    if (err instanceof Problem && err.isClientError && !TRANSIENT_4XX.has(err.status)) {
      await this.dead(entry, 'rejected', attemptError);
      return;
    }
    const now = Date.now();
    if (info.type === PROBLEMS.circuitOpen.type) {
      // Nothing was tried: wait for the circuit to let a trial call through, without spending an attempt.
      const waitMs = Math.max(info.retryAfterMs ?? config.initialDelayMs, config.initialDelayMs);
      if (now - entry.createdAt + waitMs <= config.maxAgeSeconds * 1000) {
        await outbox.reschedule(entry.id, owner, now + waitMs, undefined, false);
        metrics.outboxDeliveries.inc({ operation: op, outcome: 'paused' });
        return;
      }
    }
    const delay = backoffDelay(entry.attempts, config.initialDelayMs, config.maxDelayMs);
    if (entry.attempts >= config.maxAttempts || now - entry.createdAt + delay > config.maxAgeSeconds * 1000) {
      await this.dead(entry, 'exhausted', attemptError);
      return;
    }
    if (await outbox.reschedule(entry.id, owner, now + delay, attemptError, true)) {
      metrics.outboxDeliveries.inc({ operation: op, outcome: 'retry' });
      logger.info({ write: entry.id, operation: op, attempt: entry.attempts, nextInMs: Math.round(delay), error: info.message }, 'outbox delivery failed; will retry');
    }
  }

  private async dead(entry: OutboxEntry, reason: DeadReason, last: AttemptError): Promise<void> {
    const letter = await this.opts.outbox.kill(entry, this.opts.owner, reason, last);
    if (!letter) return;
    this.opts.metrics.outboxDeliveries.inc({ operation: entry.operation, outcome: 'dead' });
    this.opts.metrics.dlqArrivals.inc({ operation: entry.operation, reason });
    this.opts.logger.warn(
      { deadLetter: letter.id, operation: entry.operation, reason, attempts: letter.attempts, lastError: last.error, errors: letter.errors.length },
      'write moved to the dead-letter queue',
    );
    this.opts.onDead?.(entry, reason);
  }

  /**
   * Stops taking writes; lets deliveries in flight finish within `graceMs`, then aborts the rest
   * and hands them back to the outbox (they are delivered again by the next worker to start).
   */
  async stop(graceMs = this.opts.config.graceMs): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const pending = [...this.inFlight.values()];
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(pending.map((p) => p.done)), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    const left = [...this.inFlight.values()];
    for (const p of left) p.abort.abort(new Error('the gateway is shutting down'));
    if (left.length > 0) {
      const n = await this.opts.outbox.release(
        this.opts.owner,
        left.map((p) => p.entry.id),
      );
      this.opts.logger.info({ handedBack: n }, 'outbox worker stopped; unfinished deliveries handed back to the outbox');
    }
    // wait for the ticking claim to settle so nothing is claimed after stop
    for (let i = 0; i < 50 && this.ticking; i++) await new Promise((r) => setTimeout(r, 10));
  }
}
