import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../src/observability/metrics.ts';
import { StateStoreUnavailable, UpstreamError, type Problem } from '../../src/problem.ts';
import { BindingPolicy } from '../../src/resilience/binding-policy.ts';
import { BASE_POLICY, mergePolicy } from '../../src/resilience/policy-config.ts';
import { RetryBudget } from '../../src/resilience/retry-budget.ts';

describe('retry budget', () => {
  it('allows retries up to the ratio of calls plus the floor, then refuses', () => {
    const now = 0;
    const budget = new RetryBudget(0.1, 0, 10_000, () => now);
    for (let i = 0; i < 100; i++) budget.recordCall();
    const granted = Array.from({ length: 20 }, () => budget.tryRetry()).filter(Boolean).length;
    expect(granted).toBe(10);
  });

  it('refills as the window slides past old retries', () => {
    let now = 0;
    const budget = new RetryBudget(0, 1, 10_000, () => now); // floor: 1 retry a second = 10 per window
    const first = Array.from({ length: 15 }, () => budget.tryRetry()).filter(Boolean).length;
    expect(first).toBe(10);
    now += 11_000;
    expect(budget.tryRetry()).toBe(true);
  });
});

describe('policy merging', () => {
  it('applies kind, gateway, adapter and binding overrides in order, key by key', () => {
    const p = mergePolicy(BASE_POLICY, { timeoutMs: 3000, retry: { maxRetries: 1 } }, { retry: { budget: { ratio: 0.5 } } }, { concurrency: { limit: 2 } });
    expect(p.timeoutMs).toBe(3000);
    expect(p.retry).toEqual({ ...BASE_POLICY.retry, maxRetries: 1, budget: { ratio: 0.5, minPerSecond: BASE_POLICY.retry.budget.minPerSecond } });
    expect(p.concurrency).toEqual({ limit: 2, queue: BASE_POLICY.concurrency.queue });
    expect(p.circuitBreaker).toEqual(BASE_POLICY.circuitBreaker);
  });
});

describe('503 answers and the state store under a binding policy', () => {
  const policyOf = (consecutiveFailures: number) =>
    new BindingPolicy(mergePolicy(BASE_POLICY, { retry: { maxRetries: 2 }, circuitBreaker: { consecutiveFailures } }), {
      adapter: 'mainframe-files',
      operation: 'createOrder',
      retryable: true,
      metrics: new GatewayMetrics(),
    });
  const signal = new AbortController().signal;

  it('a backend that is unavailable (before any circuit opens) is answered 503 with Retry-After', async () => {
    const policy = policyOf(50);
    const err = (await policy.execute(async () => Promise.reject(new UpstreamError('connection refused', { status: 503 })), signal).catch((e: unknown) => e)) as Problem;
    expect(err.status).toBe(503);
    expect(err.typeName).toBe('upstream-unavailable');
    expect(err.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
  });

  it('the state store failing under a kind is a 503 state-store-unavailable: not retried, not counted by the breaker', async () => {
    const policy = policyOf(2);
    let calls = 0;
    for (let i = 0; i < 5; i++) {
      const err = (await policy
        .execute(async () => {
          calls++;
          throw new StateStoreUnavailable('the state store (postgres://127.0.0.1/state) did not answer: ECONNRESET');
        }, signal)
        .catch((e: unknown) => e)) as Problem;
      expect(err.status).toBe(503);
      expect(err.typeName).toBe('state-store-unavailable');
      expect(err.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
      expect(err.detail).not.toContain('mainframe-files');
    }
    expect(calls).toBe(5);
    expect(policy.circuitState).toBe('closed');
  });
});
