/**
 * The `events:` section of ficus.yaml: how change events are delivered from the outbox (poll,
 * batch, retries and backoff, the budget after which a delivery goes to the dead-letter state) and
 * the sinks declared in config (a RabbitMQ exchange, a webhook); more webhooks are subscribed through
 * the admin API (`ficus events subscribe`).
 */
import { z } from 'zod';
import { durationMs } from '../config/units.ts';

const flag = z.union([z.boolean(), z.stringbool()]);

export const amqpSinkSchema = z
  .object({
    type: z.literal('amqp'),
    /** amqp://user:password@host:port/vhost (from the environment: it holds a password). */
    url: z.string().min(1),
    /** A topic exchange, declared durable if missing; events are published with their type as routing key. */
    exchange: z.string().min(1).default('ficus.events'),
    /** Only these event types (default: all). */
    types: z.array(z.string()).optional(),
  })
  .strict();

export const webhookSinkSchema = z
  .object({
    type: z.literal('webhook'),
    url: z.url(),
    /** The Standard Webhooks secret, `whsec_<base64>` (from the environment). */
    secret: z.string().regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, 'whsec_ followed by at least 16 base64 characters'),
    types: z.array(z.string()).optional(),
  })
  .strict();

export const sinkSchema = z.discriminatedUnion('type', [amqpSinkSchema, webhookSinkSchema]);
export type SinkConfig = z.infer<typeof sinkSchema>;

export const eventsConfigSchema = z
  .object({
    /** CloudEvents `source` of every event (a URI reference). */
    source: z.string().min(1).default('/ficus'),
    delivery: z
      .object({
        /** Run the delivery worker in this instance. */
        worker: flag.default(true),
        pollInterval: durationMs.default(250),
        /** Deliveries taken at once (one per key and sink at a time). */
        batchSize: z.coerce.number().int().min(1).max(10_000).default(500),
        /**
         * Events handed to a sink and not yet acknowledged, at most: RabbitMQ publishes awaiting the
         * broker's confirm, webhook calls under way. The rest of a batch waits (backpressure).
         */
        maxInFlight: z.coerce.number().int().min(1).max(10_000).default(500),
        maxAttempts: z.coerce.number().int().min(1).default(12),
        initialDelay: durationMs.default(500),
        maxDelay: durationMs.default(60_000),
        /** One webhook call or one broker confirm may take this long. */
        timeout: durationMs.default(10_000),
        /** Delivered events are kept this long, then purged. */
        keepDelivered: durationMs.default(3_600_000),
        leaseMs: durationMs.default(30_000),
      })
      .strict()
      .prefault({}),
    /** Sinks declared here (by name); webhooks may also be subscribed through the admin API. */
    sinks: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . -'), sinkSchema).default({}),
  })
  .strict();
export type EventsConfig = z.infer<typeof eventsConfigSchema>;
