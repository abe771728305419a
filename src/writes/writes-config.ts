/**
 * The `writes:` section of ficus.yaml: idempotency keys, the durable outbox and its delivery worker,
 * the dead-letter queue, and which routes write through the outbox.
 */
import { z } from 'zod';
import { PROBLEM_TYPES } from '../problem.ts';

const ms = z.coerce.number().int().min(1);
/** true/false, also as a string (from an environment variable). */
const flag = z.union([z.boolean(), z.stringbool()]);

export const writeRouteSchema = z
  .object({
    /** true: every write is queued in the outbox and answered 202 at once; false: only while the legacy system is down. */
    async: flag.default(false),
    /**
     * Keep writes in order per key: the name of a body field (`customerId`) or a path parameter
     * (`path.accountId`). A write waits until every earlier write with the same key is delivered or dead.
     */
    orderingKey: z.string().min(1).optional(),
    /** The status resource a queued write's 202 points at (e.g. getOrder /orders/{orderId}). */
    status: z
      .object({
        operation: z.string(),
        /** The path parameter of that operation that carries the id. */
        param: z.string(),
        /** Field of the 202 body (and of the backend's answer) that carries the id. */
        idField: z.string().default('id'),
        /** Field of the body that says what became of the write, and its values. */
        statusField: z.string().default('status'),
        pending: z.string().default('pending'),
        failed: z.string().default('failed'),
        /** Field of the status body given `{code, reason}` when the write went to the dead-letter queue. */
        rejectionField: z.string().optional(),
      })
      .strict()
      .optional(),
    /**
     * Batch writes: the array of items in the request body and the list of rejected items in the
     * answer (`[{index, reasons}]`); each rejected item is quarantined in the dead-letter queue.
     */
    batch: z
      .object({
        items: z.string().default('items'),
        rejected: z.string().default('rejected'),
        /** The operation a quarantined item is replayed through (one item, its own idempotency key). */
        replayAs: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type WriteRouteConfig = z.infer<typeof writeRouteSchema>;

export const writesConfigSchema = z
  .object({
    idempotency: z
      .object({
        /** Header carrying the key (required where the contract says so). */
        header: z.string().default('Idempotency-Key'),
        /** How long a key and its stored response are kept. */
        ttlSeconds: z.coerce.number().int().min(1).default(86_400),
        /** A retry arriving while the first request is in flight waits this long for it, then gets 409. */
        inFlightWaitMs: z.coerce.number().int().min(0).default(5_000),
        /** A request in flight longer than this is presumed dead (its instance crashed) and may be taken over. */
        leaseMs: ms.default(60_000),
      })
      .strict()
      .prefault({}),
    outbox: z
      .object({
        /** Run the delivery worker in this instance (several instances may share one PostgreSQL outbox). */
        worker: flag.default(true),
        pollIntervalMs: ms.default(250),
        /** Deliveries in flight at once. */
        concurrency: z.coerce.number().int().min(1).max(256).default(8),
        /** Attempts before a write goes to the dead-letter queue. */
        maxAttempts: z.coerce.number().int().min(1).max(100).default(10),
        /** ... or once it has waited this long since it was accepted. */
        maxAgeSeconds: z.coerce.number().int().min(1).default(86_400),
        /** Exponential backoff with jitter between attempts. */
        initialDelayMs: ms.default(500),
        maxDelayMs: ms.default(60_000),
        /** How long one delivery attempt may hold a write before another worker may take it over. */
        leaseMs: ms.default(30_000),
        /** Problem types of a synchronous call that mean "the legacy system is down or slow": the write is queued instead. */
        queueOn: z.array(z.enum(PROBLEM_TYPES)).default(['circuit-open', 'upstream-unavailable', 'upstream-timeout', 'overloaded']),
        /** On shutdown, how long in-flight deliveries may take before they are handed back to the outbox. */
        graceMs: z.coerce.number().int().min(0).default(5_000),
      })
      .strict()
      .prefault({}),
    /** Routes that write through the outbox (by operationId). */
    routes: z.record(z.string(), writeRouteSchema).default({}),
  })
  .strict();
export type WritesConfig = z.infer<typeof writesConfigSchema>;
