/**
 * The idempotency hook when the state store fails after the backend has answered: the caller gets
 * the backend's answer (the write happened), not a 503 that would invite a second write.
 */
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../src/observability/metrics.ts';
import { StateStoreUnavailable } from '../../src/problem.ts';
import type { Route } from '../../src/routing/route-table.ts';
import type { OperationRequest } from '../../src/kinds/kind.ts';
import { idempotencyHook } from '../../src/writes/idempotency-hook.ts';
import type { IdempotencyStore } from '../../src/writes/idempotency-store.ts';
import { WritesMetrics } from '../../src/writes/writes-metrics.ts';

describe('idempotency hook, state store failing after the write', () => {
  it('answers with what the backend answered', async () => {
    const down = () => Promise.reject(new StateStoreUnavailable('the state store did not answer: ECONNRESET'));
    const store = { begin: async () => ({ outcome: 'owner' }), finish: down, abandon: down } as unknown as IdempotencyStore;
    const hook = idempotencyHook({
      store,
      header: 'Idempotency-Key',
      inFlightWaitMs: 1_000,
      metrics: new WritesMetrics(new GatewayMetrics(), async () => ({ outboxPending: 0, outboxOldestPendingSeconds: 0, dlqDepth: 0, dlqOldestSeconds: 0 })),
    });
    const route = { operationId: 'createOrder', operation: { safe: false } } as unknown as Route;
    const req = {
      operationId: 'createOrder',
      method: 'POST',
      pathParams: {},
      query: {},
      headers: { 'idempotency-key': 'k-1' },
      body: { a: 1 },
      requestId: 'r',
      signal: new AbortController().signal,
    } as OperationRequest;
    const written = { result: { status: 201, body: { orderId: 'o-1' } }, backend: 'legacy' as const, adapter: 'orders' };
    await expect(hook.around!(route, req, async () => written)).resolves.toBe(written);
  });
});
