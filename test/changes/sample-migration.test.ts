/**
 * The sample as a real migration (what `npm start` does, on the project's own crm-db and
 * customers-service adapters): the modern customers service starts empty with its own store, is
 * subscribed to the CRM's change feed (as a signed webhook, and through RabbitMQ) and backfilled; a clerk's edit in CUSTMAST (`ficus sample
 * clerk-edit`) reaches it within seconds; reconciliation reports 100%; a deliberate drift in modern
 * (`ficus sample drift`) shows in reconciliation and in shadow.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESTATE, startSampleEstate, type RunningEstate } from '../../sample/estate.ts';
import { legacyCrmComponent } from '../../sample/legacy-crm/component.ts';
import { MODERN_SUBSCRIPTION, startSampleMigration } from '../../sample/migration.ts';
import type { Changes } from '../../src/changes/install.ts';
import { runReconcile } from '../../src/reconcile/run-reconcile.ts';
import { ficus } from '../fixtures/ficus-cli.ts';
import { memoryLogger, PROJECT_ROOT, startGateway, type StartedGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';
import { admin, ADMIN_TOKEN } from './changes-helpers.ts';

describe.each(['webhook', 'amqp'] as const)('the sample as a migration: modern fed by the change feed (%s)', (how) => {
  let dir: string;
  let file: string;
  let estate: RunningEstate;
  let gw: StartedGateway;
  let env: Record<string, string>;
  let modernUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ficus-sample-feed-'));
    // The legacy CRM and the modern customers service of the sample estate, the migration way.
    estate = await startSampleEstate(
      { root: dir, migration: true, migrationEvents: how },
      ESTATE.filter((c) => c === legacyCrmComponent || c.name.startsWith('customers service')),
    );
    modernUrl = estate.env.CUSTOMERS_SERVICE_URL;
    // The project's customer operations and their two adapters (as shipped), with state of this test's own.
    const contract = parse(readFileSync(join(PROJECT_ROOT, 'openapi.yaml'), 'utf8')) as { paths: Record<string, unknown> };
    contract.paths = { '/customers': contract.paths['/customers'], '/customers/{customerId}': contract.paths['/customers/{customerId}'] };
    writeFileSync(join(dir, 'openapi.yaml'), stringify(contract));
    mkdirSync(join(dir, 'adapters'));
    for (const a of ['crm-db', 'customers-service']) symlinkSync(join(PROJECT_ROOT, 'adapters', a), join(dir, 'adapters', a));
    file = join(dir, 'ficus.yaml');
    writeFileSync(
      file,
      stringify({
        server: { port: 0, host: '127.0.0.1' },
        log: { level: 'silent' },
        state: { driver: 'sqlite', file: join(dir, 'state.sqlite') },
        admin: { port: 0 },
        routes: { getCustomer: { mode: 'shadow' }, listCustomers: { mode: 'legacy' } },
        events: { delivery: { pollInterval: '100ms' } },
      }),
    );
    env = { ...estate.env, CRM_FEED_POLL_INTERVAL: '200ms', FICUS_ADMIN_TOKENS: `ops:${ADMIN_TOKEN}` };
    gw = await startGateway(dir, env, { file, adminServer: true, level: 'silent' });
    // The feed's baseline (start: now) comes first: the backfill sends the customers, the feed their changes.
    await eventually(() => gw.gateway.feature<Changes>('changes')!.events.watermark('customers'), undefined, 'the baseline');
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await estate?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const modern = async (id: number) => {
    const res = await fetch(`${modernUrl}/customers/${id}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const reconcile = (o: { keys?: string[]; keysFrom?: string }) =>
    runReconcile({ operation: 'getCustomer', ...o, against: 'modern', root: dir, config: file, env, ratePerSecond: 5_000, concurrency: 16, logger: memoryLogger('warn').logger });

  it('starts modern empty, subscribes it and backfills every CRM customer through the change feed', async () => {
    expect((await modern(1001)).status).toBe(404);
    const lines = await startSampleMigration(gw.gateway, env);
    expect(lines.join('\n')).toContain('ficus sample clerk-edit');
    const events = gw.gateway.feature<Changes>('changes')!.events;
    expect((await events.subscriptions()).map((s) => ({ name: s.name, kind: s.kind }))).toEqual([{ name: MODERN_SUBSCRIPTION, kind: how }]);
    await eventually(async () => (await modern(4000)).status === 200 && (await events.counts()).delivered >= 3000 && !(await events.counts()).pending, 60_000, 'the backfill');
    const legacy = (await (await fetch(`${gw.url}/customers/1042`)).json()) as Record<string, unknown>;
    expect((await modern(1042)).body).toEqual(legacy);
  }, 150_000);

  it("a clerk's edit in CUSTMAST (ficus sample clerk-edit) reaches modern within seconds", async () => {
    const r = await ficus('sample', 'clerk-edit', '1042', '--name', 'Renamed By A Clerk', '--crm-file', env.CRM_DB_FILE);
    expect(r.code).toBe(0);
    await eventually(async () => (await modern(1042)).body.name === 'Renamed By A Clerk', undefined, 'the edit in modern');
  });

  // Once is enough for what follows: it does not depend on how modern takes its events.
  it.runIf(how === 'webhook')(
    'reconciliation reports 100%; a drift in modern (ficus sample drift) shows in reconciliation and in shadow',
    async () => {
      const clean = await reconcile({ keysFrom: 'listCustomers' });
      expect(clean.report.counts).toMatchObject({ keys: 3000, equal: 3000, different: 0, 'missing-modern': 0, 'missing-legacy': 0, error: 0 });
      expect(clean.exitCode).toBe(0);

      const d = await ficus('sample', 'drift', '1043', '--modern-url', modernUrl);
      expect(d.code).toBe(0);
      expect(d.stdout).toContain('in the modern customers service only');
      const drifted = await reconcile({ keys: ['1042', '1043', '1044'] });
      expect(drifted.report.counts).toMatchObject({ keys: 3, equal: 2, different: 1 });
      expect(drifted.report.results).toEqual([expect.objectContaining({ key: '1043', outcome: 'different', differences: [expect.objectContaining({ path: '$.vip', kind: 'changed' })] })]);
      expect((await admin(gw.adminUrl, '/reconciliations')).body.latest).toEqual([expect.objectContaining({ operation: 'getCustomer', keys: 3, different: 1 })]);

      // Shadow (getCustomer's mode here) compares every call: 1043 differs in vip, 1044 does not.
      for (const id of [1043, 1044]) expect((await fetch(`${gw.url}/customers/${id}`)).status).toBe(200);
      await gw.gateway.control.shadow.drain();
      const mm = (await admin(gw.adminUrl, '/routes/getCustomer/mismatches')).body.mismatches;
      expect(mm.map((m: { request: string }) => m.request)).toEqual(['GET /customers/1043']);
      expect(mm[0].differences).toEqual([expect.objectContaining({ path: '$.vip', kind: 'changed' })]);
    },
    90_000,
  );
});
