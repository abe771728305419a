/**
 * The resilience settings of a binding. Each kind has defaults; an adapter and each of its bindings
 * may override any part of them in their `policy` block.
 */
import { z } from 'zod';

export const policySchema = z
  .object({
    /** Per attempt. */
    timeoutMs: z.coerce.number().int().positive(),
    retry: z
      .object({
        /** Retries after the first attempt (0 turns retries off). */
        maxRetries: z.coerce.number().int().min(0).max(10),
        initialDelayMs: z.coerce.number().int().min(1),
        maxDelayMs: z.coerce.number().int().min(1),
        /** Retry unsafe methods (POST, PUT, ...) too. Off by default: only do it for idempotent writes. */
        unsafe: z.boolean(),
        /** Retries allowed as a share of calls, over the last 10 s, plus a floor per second. */
        budget: z.object({ ratio: z.coerce.number().min(0).max(1), minPerSecond: z.coerce.number().min(0) }).strict(),
      })
      .strict(),
    circuitBreaker: z
      .object({
        enabled: z.boolean(),
        /** Opens after this many failures in a row. */
        consecutiveFailures: z.coerce.number().int().min(1),
        /** Then lets one trial call through after this long. */
        halfOpenAfterMs: z.coerce.number().int().min(1),
      })
      .strict(),
    concurrency: z
      .object({
        /** Calls in flight to the backend at once. */
        limit: z.coerce.number().int().min(1),
        /** Calls waiting for a slot; past that, 503. */
        queue: z.coerce.number().int().min(0),
        /**
         * How long a call may wait for a slot, here and in the backend's own pool (browser pages),
         * before it is refused with 503 `overloaded` and Retry-After (default 2000). Waiting is not
         * counted against `timeoutMs` nor by the circuit breaker.
         */
        queueTimeoutMs: z.coerce.number().int().min(0).optional(),
      })
      .strict(),
  })
  .strict();

export type PolicyConfig = z.infer<typeof policySchema>;
export type PolicyOverrides = {
  timeoutMs?: number;
  retry?: Partial<Omit<PolicyConfig['retry'], 'budget'>> & { budget?: Partial<PolicyConfig['retry']['budget']> };
  circuitBreaker?: Partial<PolicyConfig['circuitBreaker']>;
  concurrency?: Partial<PolicyConfig['concurrency']>;
};

/** The same shape, every key optional, for `policy:` blocks in config. */
export const policyOverridesSchema: z.ZodType<PolicyOverrides> = z
  .object({
    timeoutMs: z.coerce.number().int().positive().optional(),
    retry: z
      .object({
        maxRetries: z.coerce.number().int().min(0).max(10).optional(),
        initialDelayMs: z.coerce.number().int().min(1).optional(),
        maxDelayMs: z.coerce.number().int().min(1).optional(),
        unsafe: z.boolean().optional(),
        budget: z
          .object({ ratio: z.coerce.number().min(0).max(1).optional(), minPerSecond: z.coerce.number().min(0).optional() })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    circuitBreaker: z
      .object({
        enabled: z.boolean().optional(),
        consecutiveFailures: z.coerce.number().int().min(1).optional(),
        halfOpenAfterMs: z.coerce.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
    concurrency: z
      .object({ limit: z.coerce.number().int().min(1).optional(), queue: z.coerce.number().int().min(0).optional(), queueTimeoutMs: z.coerce.number().int().min(0).optional() })
      .strict()
      .optional(),
  })
  .strict();

/** How long a call may wait for capacity when its policy does not say (`concurrency.queueTimeoutMs`). */
export const DEFAULT_QUEUE_TIMEOUT_MS = 2_000;

export const BASE_POLICY: PolicyConfig = {
  timeoutMs: 5_000,
  retry: { maxRetries: 2, initialDelayMs: 50, maxDelayMs: 1_000, unsafe: false, budget: { ratio: 0.2, minPerSecond: 5 } },
  circuitBreaker: { enabled: true, consecutiveFailures: 5, halfOpenAfterMs: 10_000 },
  concurrency: { limit: 64, queue: 256 },
};

/** Applies overrides in order, later ones winning, key by key. */
export function mergePolicy(base: PolicyConfig, ...overrides: (PolicyOverrides | undefined)[]): PolicyConfig {
  let out: PolicyConfig = base;
  for (const o of overrides) {
    if (!o) continue;
    out = {
      timeoutMs: o.timeoutMs ?? out.timeoutMs,
      retry: {
        ...out.retry,
        ...stripUndefined(o.retry ?? {}),
        budget: { ...out.retry.budget, ...stripUndefined(o.retry?.budget ?? {}) },
      },
      circuitBreaker: { ...out.circuitBreaker, ...stripUndefined(o.circuitBreaker ?? {}) },
      concurrency: { ...out.concurrency, ...stripUndefined(o.concurrency ?? {}) },
    };
  }
  return out;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'budget')) as Partial<T>;
}
