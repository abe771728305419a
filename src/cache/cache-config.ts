/**
 * The `cache:` section of ficus.yaml: which safe operations are cached and how (ttl, stale windows,
 * what the key varies by, bounds), which writes make which cached reads stale (`invalidates`), and
 * where entries are shared between instances (Redis), which change feeds make which cached reads stale
 * (`invalidatedBy`). Identical reads in flight of a listed route share one call (`coalesce`; `cluster`:
 * across the instances sharing Redis).
 */
import { z } from 'zod';
import { durationMs, sizeBytes } from '../config/units.ts';

/** What a cached answer varies by besides the normalised request: `consumer`, `header.<name>`, `query.<name>`. */
export const varyItemSchema = z.string().regex(/^(consumer|header\.[A-Za-z0-9-]+|query\.[A-Za-z0-9_.-]+)$/, 'consumer, header.<name> or query.<name>');

/** `getAccount: path.accountId` (drop the entries whose path.accountId is the write's), or `listAccounts` (drop every entry). */
export const invalidationSchema = z.union([
  z.string().regex(/^[A-Za-z0-9_]+$/, 'an operationId'),
  z
    .record(z.string(), z.string().regex(/^(path|query|body)\.[A-Za-z0-9_.-]+$/, 'path.<name>, query.<name> or body.<field> of the write'))
    .refine((r) => Object.keys(r).length === 1, 'one operationId and one value: getAccount: path.accountId'),
]);

/** `{ feed: customers, key: path.customerId }`: an event of feed `customers` drops the entries whose customerId is the event's subject (no key: every entry). */
export const invalidatedBySchema = z
  .object({
    /** A change feed (`changes:` of an adapter file). */
    feed: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a feed name'),
    /** The read's parameter the event's value names (`path.<name>` or `query.<name>`); without it every entry of the route is dropped. */
    key: z
      .string()
      .regex(/^(path|query)\.[A-Za-z0-9_.-]+$/, 'path.<name> or query.<name> of the read')
      .optional(),
    /** Where the event's value is: its `subject` (the row's key, default) or `data.<field>` of the resource. */
    from: z
      .string()
      .regex(/^(subject|data\.[A-Za-z0-9_.-]+)$/, 'subject or data.<field>')
      .default('subject'),
  })
  .strict();
export type InvalidatedBy = z.infer<typeof invalidatedBySchema>;

/** `true`: identical reads in flight share one call in this instance; `cluster`: in every instance sharing Redis (a short lock in Redis). */
export const coalesceSchema = z.union([z.boolean(), z.literal('cluster')]);

export const cacheRouteSchema = z
  .object({
    /** How long an answer is fresh; without it the route is not cached (coalescing and invalidations still apply). */
    ttl: durationMs.optional(),
    /** After ttl: served at once while one call refreshes it in the background. */
    staleWhileRevalidate: durationMs.prefault(0),
    /** After ttl: served (with Warning and Age) when the backend fails. */
    staleIfError: durationMs.prefault(0),
    /** How long a 404 answer is kept; 404s are not cached without it. */
    negativeTtl: durationMs.optional(),
    /** What the key varies by besides the normalised request (default: the consumer). */
    vary: z.array(varyItemSchema).default(['consumer']),
    /** The answer is the same for every consumer: `vary` may leave consumer out. */
    shared: z.boolean().default(false),
    /** Entries kept in memory (least recently used dropped first). */
    maxEntries: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
    /** Bytes kept in memory for the route; a single answer larger than this is served, not cached. */
    maxBytes: sizeBytes.prefault('64MiB'),
    /** A client's `Cache-Control: no-cache` goes to the backend (`pass`, default) or is ignored (`ignore`). */
    clientNoCache: z.enum(['pass', 'ignore']).default('pass'),
    /** Identical reads in flight share one backend call (default true; `cluster`: across the instances sharing Redis). */
    coalesce: coalesceSchema.default(true),
    /** On a write route: the cached reads its successful calls make stale. */
    invalidates: z.array(invalidationSchema).default([]),
    /** On a read route: the change feeds whose events make its entries stale. */
    invalidatedBy: z.array(invalidatedBySchema).default([]),
  })
  .strict();
export type CacheRouteConfig = z.infer<typeof cacheRouteSchema>;

export const cacheConfigSchema = z
  .object({
    /** Shared entries and invalidations across instances; memory only when absent. */
    redis: z
      .object({
        url: z.string().default('redis://127.0.0.1:6379'),
        /** Prefix of every key and channel (one per deployment). */
        keyPrefix: z.string().default('ficus:cache:'),
        /** How long a Redis command may take before the cache carries on without it. */
        commandTimeout: durationMs.prefault('250ms'),
        /**
         * Coalescing across instances (`coalesce: cluster`): how long the lock of the instance that calls
         * the backend lasts; the others wait for its answer at most this long, then call themselves.
         */
        lockTtl: durationMs.prefault('10s'),
      })
      .strict()
      .optional(),
    /** How long after serving stale (backend failing) a route still reports it in /readyz and the dashboard. */
    staleReportFor: durationMs.prefault('1m'),
    routes: z.record(z.string(), cacheRouteSchema).default({}),
  })
  .strict();
export type CacheConfig = z.infer<typeof cacheConfigSchema>;

/** One invalidation, resolved: the read operation and the write's value naming its entries (none: every entry). */
export interface Invalidation {
  operationId: string;
  /** Where the write's value is: `path.accountId`. */
  from?: string;
}

export function invalidationsOf(rc: CacheRouteConfig): Invalidation[] {
  return rc.invalidates.map((i) => {
    if (typeof i === 'string') return { operationId: i };
    const [operationId, from] = Object.entries(i)[0];
    return { operationId, from };
  });
}
