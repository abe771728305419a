/**
 * Delivers the event outbox: takes due deliveries (one per key and subscription at a time, oldest
 * first), hands each subscription's share to its sink, and records the outcome in one transaction:
 * delivered; failed → again after exponential backoff with jitter (the writes outbox's); failed and
 * out of attempts → dead (listed and replayed with `ficus events dead`).
 */
import type { Logger } from '../observability/logger.ts';
import { OutageLog } from '../state/sql-store.ts';
import { backoffDelay } from '../writes/outbox-worker.ts';
import type { EventsConfig } from './events-config.ts';
import type { Delivery, EventStore, Subscription } from './event-store.ts';
import { AmqpSink } from './sinks/amqp-sink.ts';
import type { Sink } from './sinks/sink.ts';
import { WebhookSink } from './sinks/webhook-sink.ts';

export interface DeliveryWorkerOptions {
  events: EventStore;
  config: EventsConfig['delivery'];
  owner: string;
  logger: Logger;
  /** Told of each batch's outcome (metrics, tests). */
  onSettled?: (s: { delivered: number; retried: number; dead: number }) => void;
}

export function sinkFor(sub: Subscription, o: { timeoutMs: number; maxInFlight: number; onPublish?: (inFlight: number) => void }): Sink {
  if (sub.kind === 'amqp') return new AmqpSink({ url: sub.url, exchange: sub.exchange ?? 'ficus.events', ...o });
  return new WebhookSink(sub.url, sub.secret ?? '', o.timeoutMs, o.maxInFlight, o.onPublish);
}

export class DeliveryWorker {
  private readonly sinks = new Map<string, { sink: Sink; key: string }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private abort = new AbortController();
  private readonly outage: OutageLog;
  /** The most events ever in flight at one sink at once (bounded by `maxInFlight`). */
  readonly stats = { peakInFlight: 0 };

  constructor(private readonly opts: DeliveryWorkerOptions) {
    this.outage = new OutageLog(opts.logger, 'event delivery');
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.timer = setInterval(() => this.poke(), this.opts.config.pollInterval);
    this.timer.unref();
    this.poke();
  }

  /** Looks for due deliveries now (a feed just committed events). */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.poke();
      }
    });
  }

  private async loop(): Promise<void> {
    try {
      // Keep going while batches come back full: a backlog drains without waiting for the timer.
      while (!this.stopped && (await this.batch()) >= this.opts.config.batchSize);
      this.outage.ok();
    } catch (err) {
      if (!this.outage.failed(err)) this.opts.logger.error({ err }, 'event delivery: could not read the outbox');
    }
  }

  private async sinkOf(sub: Subscription): Promise<Sink> {
    const key = `${sub.kind} ${sub.url} ${sub.exchange ?? ''} ${sub.secret ?? ''}`;
    const cur = this.sinks.get(sub.id);
    if (cur && cur.key === key) return cur.sink;
    if (cur) await cur.sink.close().catch(() => undefined);
    const sink = sinkFor(sub, { timeoutMs: this.opts.config.timeout, maxInFlight: this.opts.config.maxInFlight, onPublish: (n) => (this.stats.peakInFlight = Math.max(this.stats.peakInFlight, n)) });
    this.sinks.set(sub.id, { sink, key });
    return sink;
  }

  /** One batch; returns how many deliveries it took. */
  private async batch(): Promise<number> {
    const { events, config, owner } = this.opts;
    if ((await events.subscriptions()).length === 0) return 0;
    const claimed = await events.claim(owner, config.batchSize, config.leaseMs);
    if (claimed.length === 0) return 0;
    const subs = new Map((await events.subscriptions()).map((s) => [s.id, s]));
    const bySub = new Map<string, Delivery[]>();
    for (const d of claimed) {
      let list = bySub.get(d.subId);
      if (!list) bySub.set(d.subId, (list = []));
      list.push(d);
    }
    const delivered: number[] = [];
    const retry: { seq: number; at: number; error: string; attempt: number }[] = [];
    const dead: { seq: number; error: string; attempt: number }[] = [];
    const failed = (d: Delivery, error: string) => {
      const now = Date.now();
      if (d.attempts >= config.maxAttempts) dead.push({ seq: d.seq, error, attempt: d.attempts });
      else retry.push({ seq: d.seq, at: now + backoffDelay(d.attempts, config.initialDelay, config.maxDelay), error, attempt: d.attempts });
    };
    await Promise.all(
      [...bySub].map(async ([subId, list]) => {
        const sub = subs.get(subId);
        if (!sub) {
          for (const d of list) failed(d, 'the subscription no longer exists');
          return;
        }
        const sink = await this.sinkOf(sub);
        let outcome: (string | undefined)[];
        try {
          outcome = await sink.deliver(
            list.map((d) => d.event),
            this.abort.signal,
          );
        } catch (err) {
          outcome = list.map(() => (err as Error).message);
        }
        list.forEach((d, i) => (outcome[i] === undefined ? delivered.push(d.seq) : failed(d, outcome[i])));
      }),
    );
    if (this.abort.signal.aborted) {
      await events.release(owner);
      return 0;
    }
    await events.settle(owner, { delivered, retry, dead });
    if (dead.length > 0) this.opts.logger.warn({ dead: dead.length, lastError: dead[0].error }, 'events moved to the dead state after their last attempt');
    else if (retry.length > 0) this.opts.logger.info({ retry: retry.length, error: retry[0].error }, 'event delivery failed; will retry');
    this.opts.onSettled?.({ delivered: delivered.length, retried: retry.length, dead: dead.length });
    return claimed.length;
  }

  /** Stops: the batch in flight finishes within `graceMs` or is handed back. */
  async stop(graceMs = 2_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.running) {
      let t: NodeJS.Timeout | undefined;
      const finished = await Promise.race([this.running.then(() => true), new Promise<boolean>((r) => (t = setTimeout(() => r(false), graceMs)))]);
      clearTimeout(t);
      if (!finished) {
        this.abort.abort(new Error('the gateway is shutting down'));
        await this.running;
      }
    }
    await this.opts.events.release(this.opts.owner).catch(() => 0);
    for (const s of this.sinks.values()) await s.sink.close().catch(() => undefined);
    this.sinks.clear();
  }
}
