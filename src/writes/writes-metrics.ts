/** Metrics of the writes feature: idempotency replays and conflicts, outbox traffic and depth, DLQ depth and age. */
import { Counter, Gauge } from 'prom-client';
import type { GatewayMetrics } from '../observability/metrics.ts';

export interface QueueFigures {
  outboxPending: number;
  outboxOldestPendingSeconds: number;
  dlqDepth: number;
  dlqOldestSeconds: number;
}

export class WritesMetrics {
  readonly idempotencyReplays: Counter<'operation'>;
  readonly idempotencyConflicts: Counter<'operation' | 'conflict'>;
  readonly outboxAccepted: Counter<'operation' | 'why'>;
  readonly outboxDeliveries: Counter<'operation' | 'outcome'>;
  readonly dlqArrivals: Counter<'operation' | 'reason'>;

  constructor(metrics: GatewayMetrics, figures: () => Promise<QueueFigures>) {
    const registers = [metrics.registry];
    this.idempotencyReplays = new Counter({
      name: 'ficus_idempotency_replays_total',
      help: 'Retries answered with the stored response of their idempotency key',
      labelNames: ['operation'],
      registers,
    });
    this.idempotencyConflicts = new Counter({
      name: 'ficus_idempotency_conflicts_total',
      help: 'Idempotency keys reused for another request (reused) or retried while in flight (in_flight)',
      labelNames: ['operation', 'conflict'],
      registers,
    });
    this.outboxAccepted = new Counter({
      name: 'ficus_outbox_accepted_total',
      help: 'Writes committed to the outbox and answered 202, by why (async route, or legacy down)',
      labelNames: ['operation', 'why'],
      registers,
    });
    this.outboxDeliveries = new Counter({
      name: 'ficus_outbox_deliveries_total',
      help: 'Outbox delivery attempts, by outcome (delivered, retry, paused, dead)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.dlqArrivals = new Counter({
      name: 'ficus_dlq_arrivals_total',
      help: 'Writes moved to the dead-letter queue, by reason (exhausted, rejected, quarantined)',
      labelNames: ['operation', 'reason'],
      registers,
    });

    // The queue gauges are read from the state store when scraped (shared by every instance on PostgreSQL).
    let last: Promise<QueueFigures> | undefined;
    const read = () => {
      last ??= figures().finally(() => setTimeout(() => (last = undefined), 0));
      return last;
    };
    const gauge = (name: string, help: string, pick: (f: QueueFigures) => number) =>
      new Gauge({
        name,
        help,
        registers,
        // Every worker of a cluster reads the same store: one value, not one per worker.
        aggregator: 'max',
        async collect() {
          try {
            this.set(pick(await read()));
          } catch {
            // store closed or unreachable: leave the last value
          }
        },
      });
    gauge('ficus_outbox_pending', 'Writes waiting in the outbox (pending or being delivered)', (f) => f.outboxPending);
    gauge('ficus_outbox_oldest_pending_age_seconds', 'Age of the oldest write waiting in the outbox', (f) => f.outboxOldestPendingSeconds);
    gauge('ficus_dlq_depth', 'Dead letters waiting for someone (not replayed, not expired)', (f) => f.dlqDepth);
    gauge('ficus_dlq_oldest_age_seconds', 'Age of the oldest dead letter waiting', (f) => f.dlqOldestSeconds);
  }
}
