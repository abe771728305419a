/**
 * The `limits:` section of ficus.yaml: request rates and quotas per consumer and per operation, the
 * store that instances share them through, and the ceiling of calls each legacy adapter takes.
 */
import { z } from 'zod';
import { durationMs } from '../config/units.ts';

export const rateSchema = z
  .object({
    /** Requests allowed per window. */
    limit: z.coerce.number().int().min(1),
    /** The window (a sliding window of this length). */
    window: durationMs.prefault('1s'),
  })
  .strict();

export const quotaSchema = z
  .object({
    limit: z.coerce.number().int().min(1),
    per: z.enum(['day', 'month']),
  })
  .strict();

export const limitRuleSchema = z
  .object({
    rate: rateSchema.optional(),
    quota: quotaSchema.optional(),
  })
  .strict();
export type LimitRule = z.infer<typeof limitRuleSchema>;

export const protectSchema = z
  .object({
    /** Calls per second the legacy system takes, across every gateway instance. */
    ratePerSecond: z.coerce.number().int().min(1),
    /** Extra calls allowed at once above the rate (queued briefly instead of refused). */
    burst: z.coerce.number().int().min(0).default(0),
    /** How long a call may wait for its turn before it is answered 503. */
    maxWait: durationMs.prefault('500ms'),
  })
  .strict();
export type ProtectConfig = z.infer<typeof protectSchema>;

export const limitsConfigSchema = z
  .object({
    /** memory: this instance alone; redis: every instance sharing the URL counts together. */
    store: z
      .discriminatedUnion('driver', [
        z.object({ driver: z.literal('memory') }).strict(),
        z
          .object({
            driver: z.literal('redis'),
            url: z.string().default('redis://127.0.0.1:6379'),
            /** Prefix of every key, so several gateways (or tests) can share one Redis. */
            keyPrefix: z.string().default('ficus'),
          })
          .strict(),
      ])
      .default({ driver: 'memory' }),
    /** Applies to every consumer (each its own count), unless `consumers` says otherwise. */
    default: limitRuleSchema.optional(),
    /** Per consumer by name (`anonymous` for callers the door admitted without credentials). */
    consumers: z.record(z.string(), limitRuleSchema).default({}),
    /** Per operation (each consumer its own count). */
    operations: z.record(z.string(), limitRuleSchema).default({}),
    /** Calls per second to each legacy adapter, by adapter name, shared by every instance. */
    protect: z.record(z.string(), protectSchema).default({}),
  })
  .strict();
export type LimitsConfig = z.infer<typeof limitsConfigSchema>;
