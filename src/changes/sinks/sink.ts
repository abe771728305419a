/**
 * Where delivered events go. A sink takes a batch (at most one event per key, so their order does not
 * matter within it) and says, per event, whether it arrived. RabbitMQ and webhooks are here; a Kafka
 * or NATS JetStream sink is one more module implementing this, chosen by the subscription's kind.
 */
import type { CloudEvent } from '../cloud-event.ts';

/** Per event of the batch, in order: undefined when it arrived, else why not. */
export type BatchOutcome = (string | undefined)[];

export interface Sink {
  deliver(events: readonly CloudEvent[], signal: AbortSignal): Promise<BatchOutcome>;
  close(): Promise<void>;
}
