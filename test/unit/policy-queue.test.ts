/**
 * Waiting for capacity under a binding's policy: bounded in time as well as in length (503
 * `overloaded` with Retry-After), never taken for a failing backend (the breaker stays closed,
 * nothing is retried), and not run down from the attempt's timeout when the wait is in the
 * backend's own pool (`waitInQueue`).
 */
import { describe, expect, it } from 'vitest';
import { BindingPolicy, waitInQueue } from '../../src/resilience/binding-policy.ts';
import { BASE_POLICY, mergePolicy, type PolicyOverrides } from '../../src/resilience/policy-config.ts';
import { GatewayMetrics } from '../../src/observability/metrics.ts';
import { PROBLEMS, Problem } from '../../src/problem.ts';

const policy = (o: PolicyOverrides) =>
  new BindingPolicy(mergePolicy(BASE_POLICY, { circuitBreaker: { consecutiveFailures: 2 } }, o), { adapter: 'a', operation: 'op', retryable: true, metrics: new GatewayMetrics() });

const never = new AbortController().signal;

async function outcome(p: Promise<unknown>): Promise<{ status: number; type?: string; retryAfter?: string } | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (!(err instanceof Problem)) throw err;
    return { status: err.status, type: err.typeName, retryAfter: err.headers['Retry-After'] };
  }
}

describe('waiting for capacity', () => {
  it('a call that finds every slot busy waits at most queueTimeoutMs, then gets 503 overloaded with Retry-After; the circuit stays closed', async () => {
    const p = policy({ concurrency: { limit: 1, queue: 100, queueTimeoutMs: 50 } });
    let release!: () => void;
    const held = p.execute(() => new Promise<string>((r) => (release = () => r('held'))), never);
    let calls = 0;
    const waiting = Array.from({ length: 3 }, () =>
      outcome(
        p.execute(async () => {
          calls++;
          return 'x';
        }, never),
      ),
    );
    const answers = await Promise.all(waiting);
    expect(answers).toEqual(Array.from({ length: 3 }, () => ({ status: 503, type: 'overloaded', retryAfter: '1' })));
    expect(calls).toBe(0);
    expect(p.circuitState).toBe('closed');
    release();
    expect(await held).toBe('held');
    // The slot is free again.
    expect(await p.execute(async () => 'next', never)).toBe('next');
  });

  it('time waiting in the backend’s own pool is not the backend being slow: neither the attempt timeout nor the breaker sees it', async () => {
    const p = policy({ timeoutMs: 100, concurrency: { queueTimeoutMs: 5_000 } });
    const pool = (signal: AbortSignal) => waitInQueue(signal, 0, (maxWaitMs) => new Promise<number>((r) => setTimeout(() => r(maxWaitMs), 300)));
    const got = await p.execute(async (signal) => {
      const bound = await pool(signal);
      expect(bound).toBeGreaterThan(1_000);
      return 'served';
    }, never);
    expect(got).toBe('served');
  });

  it('an overloaded answer from the backend’s own pool is neither retried nor counted by the breaker', async () => {
    const p = policy({ retry: { maxRetries: 2 } });
    let calls = 0;
    const overloaded = () =>
      p.execute(async () => {
        calls++;
        throw new Problem(PROBLEMS.overloaded, { headers: { 'Retry-After': '1' } });
      }, never);
    for (let i = 0; i < 4; i++) expect(await outcome(overloaded())).toMatchObject({ status: 503, type: 'overloaded' });
    expect(calls).toBe(4);
    expect(p.circuitState).toBe('closed');
  });
});
