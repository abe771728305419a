import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModernCustomers, type RunningService } from '../../sample/modern-customers/server.ts';
import { runReplay } from '../../src/replay/run-replay.ts';
import { FIXTURES, memoryLogger, PROJECT_ROOT } from '../helpers/gateway.ts';

const ROOT = join(FIXTURES, 'replay-sample');
const RECORDED = join(PROJECT_ROOT, 'recordings', 'getCustomer');
let svc: RunningService;
const dir = mkdtempSync(join(tmpdir(), 'ficus-run-replay-'));
beforeAll(async () => {
  svc = await startModernCustomers();
});
afterAll(async () => {
  await svc.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ficus replay, set up from a project', () => {
  it('refuses a target that is neither a backend nor a URL', async () => {
    await expect(runReplay({ against: 'staging', root: ROOT, env: {}, paths: [RECORDED] })).rejects.toThrow(/--against must be legacy, modern or a base URL.*"staging"/);
  });

  it('reports a recording path that does not exist, and replays the others', async () => {
    const r = await runReplay({ against: 'modern', root: ROOT, env: { CUSTOMERS_SERVICE_URL: svc.url }, paths: [join(dir, 'nope'), RECORDED], logger: memoryLogger('silent').logger });
    expect(r.run.bad).toEqual([{ file: join(dir, 'nope'), line: 0, reason: 'no such file or folder' }]);
    expect(r.run.byOperation.getCustomer.pass).toBeGreaterThan(50);
    expect(r.exitCode).toBe(3);
  });

  it('says when the recording was redacted with another key', async () => {
    const r = await runReplay({
      against: 'modern',
      root: ROOT,
      env: { CUSTOMERS_SERVICE_URL: svc.url, FICUS_RECORDING_KEY: 'a-different-key-for-this-test' },
      paths: [RECORDED],
      logger: memoryLogger('silent').logger,
    });
    expect(r.run.bad.map((b) => b.reason).join('\n')).toMatch(/redacted with key \w+ and this replay uses \w+.*set FICUS_RECORDING_KEY/);
    expect(r.run.results.filter((x) => x.outcome === 'fail').every((x) => x.differences.every((d) => d.path === '$.email'))).toBe(true);
    expect(r.exitCode).toBe(1);
  });

  it('runs a baseline against the recorded backend in a gateway started here, and finds no noise in a steady service', async () => {
    const file = join(dir, 'modern.jsonl');
    // The committed recording was served by legacy; say these lines were served by modern, the backend this fixture has.
    const text = readdirSync(RECORDED)
      .map((f) => readFileSync(join(RECORDED, f), 'utf8'))
      .join('')
      .replace(/"backend":"legacy","adapter":"crm-db"/g, '"backend":"modern","adapter":"customers-service"');
    writeFileSync(file, text);
    const r = await runReplay({ against: 'modern', root: ROOT, env: { CUSTOMERS_SERVICE_URL: svc.url }, paths: [file], baseline: true, logger: memoryLogger('silent').logger });
    expect(r.run.baseline).toBe(true);
    expect(r.run.noise).toEqual({});
    expect(r.run.byOperation.getCustomer).toMatchObject({ fail: 0, error: 0 });
    expect(r.summary).toContain('(after a noise baseline)');
    expect(r.exitCode).toBe(0);
  });
});
