/** The recorded kind's own behaviour beyond the conformance suite: recorded latency, and a call abandoned while it waits. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Contract } from '../../src/contract/contract.ts';
import type { OperationHandler } from '../../src/kinds/kind.ts';
import { recordedKind } from '../../src/kinds/recorded/recorded-kind.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { GatewayMetrics } from '../../src/observability/metrics.ts';
import { FORMAT_VERSION, formatExchange } from '../../src/recording/exchange-format.ts';
import { openStore } from '../../src/state/sql-store.ts';
import { CONFORMANCE_CONTRACT } from './conformance.ts';

const root = mkdtempSync(join(tmpdir(), 'ficus-recorded-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'recordings', 'getThing'), { recursive: true });
writeFileSync(
  join(root, 'recordings', 'getThing', 'a.jsonl'),
  formatExchange({
    v: FORMAT_VERSION,
    operationId: 'getThing',
    time: '2026-11-01T00:00:00.000Z',
    count: 1,
    backend: 'legacy',
    adapter: 'x',
    latencyMs: 300,
    gateway: 'test',
    key: '',
    request: { method: 'GET', path: '/things/1', query: {}, headers: {}, body: null },
    response: { status: 200, headers: {}, body: { id: 1, name: 'one' } },
    redacted: [],
    findings: [],
  }) + '\n',
);

async function handler(connection: Record<string, unknown>): Promise<OperationHandler> {
  const contract = Contract.load(CONFORMANCE_CONTRACT);
  const kind = recordedKind;
  const adapter = await kind.create({
    name: 'r',
    dir: root,
    file: 'adapters/r/adapter.yaml',
    connection: kind.connectionSchema.parse(connection),
    logger: createLogger({ level: 'silent' }),
    metrics: new GatewayMetrics({ defaultMetrics: false }),
    contract,
    root,
    store: await openStore({ driver: 'sqlite', file: ':memory:' }),
    env: {},
  });
  const h = await adapter.bind({
    operation: contract.operation('getThing'),
    binding: {},
    key: 'operations.getThing',
    fail: () => {
      throw new Error('bind failed');
    },
  });
  await adapter.start?.();
  return h;
}

const call = (h: OperationHandler, signal: AbortSignal) => h({ operationId: 'getThing', method: 'GET', pathParams: { thingId: 1 }, query: {}, headers: {}, body: undefined, requestId: 'r1', signal });

describe('the recorded kind', () => {
  it('answers after the recorded latency with latency: recorded, at once with none', async () => {
    const slow = await handler({ dir: 'recordings', latency: 'recorded' });
    let t = performance.now();
    expect((await call(slow, new AbortController().signal)).body).toEqual({ id: 1, name: 'one' });
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    const fast = await handler({ dir: 'recordings' });
    t = performance.now();
    await call(fast, new AbortController().signal);
    expect(performance.now() - t).toBeLessThan(250);
  });

  it('a call abandoned while it waits settles at once', async () => {
    const slow = await handler({ dir: 'recordings', latency: 'fixed', fixedLatency: '20s' });
    const caller = new AbortController();
    const pending = call(slow, caller.signal).then(
      () => 'answered',
      () => 'rejected',
    );
    const t = performance.now();
    caller.abort(new Error('gone'));
    expect(await pending).toBe('rejected');
    expect(performance.now() - t).toBeLessThan(1_000);
  });
});
