/**
 * The loops only one instance may run at a time: outbox delivery, reply polling, gate evaluation,
 * change feeds and their delivery. Features (and kinds) register each loop here, once; this module
 * decides whether this instance runs them.
 *
 * Alone (one process: `ficus start --workers 1`, the tests' gateways), this instance runs them from
 * the start. In a cluster (`--workers N`) the instances share a lease in the state store
 * (`singleton-lease.ts`): the holder renews it every `renewMs` and runs every loop; the others try to
 * take it at the same pace and run nothing. A holder that has not renewed for half of `ttlMs` (its
 * store calls fail or hang) stops its loops, well before its lease can expire; one that ends releases the lease at once; one that dies loses it
 * when it expires (`ttlMs`), or at once when the primary says its process ended (`processEnded`).
 * So another instance runs the loops within `ttlMs + renewMs` of a holder's death, at the latest.
 *
 * Every loop must stop cleanly and start again (an instance may take the lease, lose it, and take it
 * again); a loop's `stop` finishes or hands back what it holds, as at shutdown.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Gauge } from 'prom-client';
import type { Logger } from '../observability/logger.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { OutageLog, type SqlStore } from '../state/sql-store.ts';
import { SingletonLease } from './singleton-lease.ts';

export interface SingletonLoop {
  /** Starts the loop: this instance now runs the singletons. */
  start(): void | Promise<void>;
  /** Stops it (the lease was lost, or the gateway closes); it may be started again later. */
  stop(): void | Promise<void>;
  /**
   * A process of this host ended (a cluster's worker died): take back at once what it held, rather
   * than wait for its leases to expire. Called on the instance that runs the singletons only. Owners
   * of rows in the state store begin with `ownerPrefix` (`<host>:<pid>:`) when that process held them.
   */
  reclaim?(ownerPrefix: string): Promise<unknown>;
}

/** How the rows a process holds are owned (`<host>:<pid>:…`): what `reclaim` is given when that process ends. */
export function ownerPrefixOf(pid: number): string {
  return `${hostname()}:${pid}:`;
}

export interface SingletonsOptions {
  logger: Logger;
  metrics?: GatewayMetrics;
  /** Share a lease in this store with the other instances; without it this instance runs every loop. */
  store?: SqlStore;
  /** How this instance is named in the lease (after host and pid), e.g. `w2` for a cluster's second worker. */
  label?: string;
  renewMs?: number;
  ttlMs?: number;
}

/** The name of the gauge that says which instance holds the singletons (1) and which do not (0). */
export const SINGLETONS_HELD_METRIC = 'ficus_singletons_held';

export class Singletons {
  private readonly loops = new Map<string, SingletonLoop>();
  private readonly listeners = new Set<(held: boolean) => void>();
  private readonly lease: SingletonLease | undefined;
  private readonly renewMs: number;
  private readonly ttlMs: number;
  private readonly logger: Logger;
  private readonly outage: OutageLog;
  private readonly gauge: Gauge | undefined;
  private holding = false;
  private started = false;
  private stopping = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** Lease calls and transitions, one at a time. */
  private queue: Promise<void> = Promise.resolve();
  private tickQueued = false;
  /** Armed while renewals fail: stops the loops once half the lease has passed without one. */
  private stepDown: NodeJS.Timeout | undefined;
  private lastRenewed = 0;

  constructor(opts: SingletonsOptions) {
    this.logger = opts.logger.child({ component: 'singletons' });
    this.outage = new OutageLog(this.logger, 'singletons lease');
    this.renewMs = opts.renewMs ?? 1_000;
    this.ttlMs = opts.ttlMs ?? 3_000;
    if (this.ttlMs < 2 * this.renewMs) throw new Error(`the singletons lease (${this.ttlMs} ms) must last at least two renewals (${this.renewMs} ms each)`);
    if (opts.store) this.lease = new SingletonLease(opts.store, `${hostname()}:${process.pid}:${opts.label ?? 'gw'}:${randomUUID().slice(0, 8)}`);
    if (opts.metrics)
      this.gauge = new Gauge({
        name: SINGLETONS_HELD_METRIC,
        help: 'Whether this instance runs the singletons (outbox delivery, reply polling, gates, change feeds): 1 yes, 0 no',
        registers: [opts.metrics.registry],
      });
    this.gauge?.set(0);
  }

  /** How this instance is named in the lease (undefined: no lease, it runs the loops alone). */
  get owner(): string | undefined {
    return this.lease?.owner;
  }

  /** Whether this instance runs the singletons now. */
  get held(): boolean {
    return this.holding;
  }

  /** Registers a loop (by a name for logs); started at once when this instance holds the singletons. */
  register(name: string, loop: SingletonLoop): void {
    if (this.loops.has(name)) throw new Error(`a singleton loop named ${name} is registered already`);
    this.loops.set(name, loop);
    if (this.holding) void this.startLoop(name, loop);
  }

  /** Told whenever this instance takes or gives up the singletons. */
  onChange(listener: (held: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Begins: alone, runs every loop now; with a lease, tries to take it now and every `renewMs`. */
  async start(): Promise<void> {
    if (this.started || this.closed) return;
    this.started = true;
    if (!this.lease) {
      await this.take();
      return;
    }
    await this.lease.migrate();
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.renewMs);
    this.timer.unref();
  }

  /**
   * The process `pid` of this host has ended (the cluster's primary says so): when it held the lease,
   * this instance takes it now; then the holder takes back what that process held (`reclaim`).
   */
  async processEnded(pid: number): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    const prefix = ownerPrefixOf(pid);
    await this.serial(async () => {
      if (this.stopping || this.closed) return;
      try {
        if (!this.holding) {
          const holder = await lease.holder();
          if (!holder?.owner.startsWith(prefix)) return;
          const asked = Date.now();
          if (!(await lease.takeOver(holder.owner, this.ttlMs))) return;
          this.lastRenewed = asked;
          await this.take(`from ${holder.owner}, whose process ended`);
        }
        for (const [name, loop] of this.loops) {
          if (!loop.reclaim) continue;
          try {
            const n = await loop.reclaim(prefix);
            if (typeof n === 'number' && n > 0) this.logger.info({ loop: name, pid, taken: n }, 'took back what an ended process held');
          } catch (err) {
            this.logger.warn({ err, loop: name, pid }, 'could not take back what an ended process held (its leases expire by themselves)');
          }
        }
      } catch (err) {
        if (!this.outage.failed(err)) this.logger.warn({ err }, 'could not take the singletons from an ended process');
      }
    });
  }

  /** Shutdown has begun: this instance no longer takes the singletons (it keeps them, if it has them, until `close`). */
  beginShutdown(): void {
    this.stopping = true;
  }

  /** Stops every loop this instance runs and releases the lease for another instance to take at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopping = true;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.stepDown);
    await this.queue;
    if (this.holding) {
      await this.give();
      await this.lease?.release().catch((err: unknown) => this.logger.warn({ err }, 'could not release the singletons lease (it expires by itself)'));
    }
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** One renewal at a time; a tick due while one is still waiting is dropped. */
  private tick(): Promise<void> {
    if (this.tickQueued) return this.queue;
    this.tickQueued = true;
    return this.serial(async () => {
      this.tickQueued = false;
      await this.renew();
    });
  }

  private async renew(): Promise<void> {
    const lease = this.lease;
    if (!lease || this.closed || (this.stopping && !this.holding)) return;
    const asked = Date.now();
    try {
      const ours = await lease.acquire(this.ttlMs);
      this.outage.ok();
      if (ours) {
        this.lastRenewed = asked;
        clearTimeout(this.stepDown);
        this.stepDown = undefined;
        if (!this.holding && !this.stopping && !this.closed) await this.take();
      } else if (this.holding) {
        await this.give('another instance holds the lease');
      }
    } catch (err) {
      if (!this.outage.failed(err)) this.logger.warn({ err }, 'could not renew the singletons lease');
      if (this.holding) this.armStepDown();
    }
  }

  /**
   * Stops the loops once half the lease has passed since the last renewal, unless one succeeds
   * first: before the lease can expire, so that the next holder never runs beside this one. A timer
   * of its own, not a turn of the renewals: a renewal may hang (up to the store's statement timeout).
   */
  private armStepDown(): void {
    if (this.stepDown) return;
    const check = () => {
      this.stepDown = undefined;
      if (!this.holding) return;
      const left = this.lastRenewed + this.ttlMs / 2 - Date.now();
      if (left > 0) {
        this.stepDown = setTimeout(check, left);
        this.stepDown.unref();
        return;
      }
      void this.give('the lease could not be renewed');
    };
    check();
  }

  private async take(how?: string): Promise<void> {
    this.holding = true;
    this.gauge?.set(1);
    if (this.lease) this.logger.info({ owner: this.lease.owner, loops: [...this.loops.keys()], how }, 'this instance runs the singletons now');
    await Promise.all([...this.loops].map(([name, loop]) => this.startLoop(name, loop)));
    for (const l of this.listeners) l(true);
  }

  private async give(why?: string): Promise<void> {
    this.holding = false;
    this.gauge?.set(0);
    if (why) this.logger.warn({ owner: this.lease?.owner, why }, 'this instance stops running the singletons');
    for (const l of this.listeners) l(false);
    await Promise.all(
      [...this.loops].map(async ([name, loop]) => {
        try {
          await loop.stop();
        } catch (err) {
          this.logger.error({ err, loop: name }, 'a singleton loop failed to stop');
        }
      }),
    );
  }

  private async startLoop(name: string, loop: SingletonLoop): Promise<void> {
    try {
      await loop.start();
    } catch (err) {
      this.logger.error({ err, loop: name }, 'a singleton loop failed to start');
    }
  }
}
