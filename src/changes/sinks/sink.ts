/**
 * Where delivered events go. A sink takes a batch (at most one event per key, so their order does not
 * matter within it) and says, per event, whether it arrived. RabbitMQ and webhooks are here; a Kafka
 * or NATS JetStream sink is one more module implementing this, chosen by the subscription's kind.
 */
import type { StoredEvent } from '../cloud-event.ts';

/** Per event of the batch, in order: undefined when it arrived, else why not. */
export type BatchOutcome = (string | undefined)[];

export interface Sink {
  /** Each event's JSON text goes out as it is stored: consumers get the bytes the feed wrote. */
  deliver(events: readonly StoredEvent[], signal: AbortSignal): Promise<BatchOutcome>;
  close(): Promise<void>;
}
