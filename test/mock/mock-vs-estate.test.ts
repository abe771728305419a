/**
 * The virtual legacy stands in for the real one: replaying the sample's recording against `ficus mock`
 * and against the real sample estate (through the project's gateway, legacy backends) gives the same
 * report, exchange by exchange.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSampleEstate, type RunningEstate } from '../../sample/estate.ts';
import { startMock, type RunningMock } from '../../src/mock/start-mock.ts';
import type { ReplayRun } from '../../src/replay/replay-engine.ts';
import { InProcessGatewayTarget } from '../../src/replay/replay-target.ts';
import { runReplay } from '../../src/replay/run-replay.ts';
import { memoryLogger, PROJECT_ROOT, SCREEN_PATIENCE } from '../helpers/gateway.ts';

const out = mkdtempSync(join(tmpdir(), 'ficus-mock-estate-'));
let estate: RunningEstate;
let gateway: InProcessGatewayTarget;
let mock: RunningMock;

beforeAll(async () => {
  estate = await startSampleEstate({ root: out });
  gateway = await InProcessGatewayTarget.start({ root: PROJECT_ROOT, env: { ...estate.env, ...SCREEN_PATIENCE }, logger: memoryLogger('silent').logger, connections: 8 });
  mock = await startMock({ root: PROJECT_ROOT, env: { CUSTOMERS_SERVICE_URL: 'http://127.0.0.1:9' }, logger: memoryLogger('silent').logger });
}, 240_000);
afterAll(async () => {
  await mock?.close();
  await gateway?.close();
  await estate?.stop();
  rmSync(out, { recursive: true, force: true });
});

/** The report without what is each run's own (target, times). */
const report = (run: ReplayRun) => ({
  byOperation: run.byOperation,
  bad: run.bad,
  results: run.results.map((r) => ({ at: `${r.item.file}:${r.item.line}`, outcome: r.outcome, differences: r.differences, status: r.actual?.status })),
});

it('replaying the sample recording against ficus mock and against the real sample estate gives the same report', async () => {
  const real = await runReplay({ against: 'legacy', root: PROJECT_ROOT, env: estate.env, gateway });
  const virtual = await runReplay({ against: mock.url, root: PROJECT_ROOT, env: {} });
  // Every exchange answered by the real estate as recorded (on failure: which ones, and how).
  const unlike = real.run.results
    .filter((r) => r.outcome === 'fail' || r.outcome === 'error')
    .map((r) => ({ at: `${r.item.file}:${r.item.line}`, outcome: r.outcome, reason: r.reason, differences: r.differences, status: r.actual?.status }));
  expect(unlike).toEqual([]);
  expect(real.exitCode).toBe(0);
  expect(report(virtual.run)).toEqual(report(real.run));
  expect(virtual.run.results).toHaveLength(80);
}, 180_000);
