/**
 * `ficus explore <adapter>`: a read-only first look. A db adapter lists its tables with their row
 * counts (SQLite, PostgreSQL, MariaDB); an sftp adapter lists the files of the drop (a real OpenSSH
 * server) and which layout each fits; a screen adapter signs on with its login flow and lists the
 * pages behind it (the sample legacy billing app).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { describeLook, explore } from '../../src/cli/commands/explore.ts';
import { seed, type LegacyEngine } from '../../sample/legacy-crm/seed.ts';
import { CODE_ROWS, legacyCustomerRows } from '../../sample/legacy-crm/legacy-rows.ts';
import { startLegacyBilling, SAMPLE_PASSWORD, SAMPLE_USER, type RunningLegacyBilling } from '../../sample/legacy-billing/server.ts';
import { sampleCatalogue } from '../../sample/mainframe/catalogue.ts';
import { writeProductExport } from '../../sample/mainframe/product-export.ts';
import { createTempDatabase } from '../helpers/databases.ts';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { startTdsServer, type TdsAnswer } from '../helpers/tds-server.ts';
import { makeProject } from '../sftp/support.ts';

const FICUS = join(PROJECT_ROOT, 'bin', 'ficus.js');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A project with one db adapter, crm, reading the database from CRM_DB_* variables. */
function dbProject(): string {
  const root = tempDir('ficus-explore-db-');
  mkdirSync(join(root, 'adapters', 'crm'), { recursive: true });
  writeFileSync(
    join(root, 'adapters', 'crm', 'adapter.yaml'),
    stringify({
      kind: 'db',
      role: 'legacy',
      connection: { driver: '${env:CRM_DB_DRIVER}', file: '${env:CRM_DB_FILE:-}', url: '${env:CRM_DB_URL:-}', encrypt: '${env:CRM_DB_ENCRYPT:-true}' },
      operations: {},
    }),
  );
  return root;
}

const ROWS = legacyCustomerRows().slice(0, 37);

describe.each(['sqlite', 'postgres', 'mysql'] as const)('ficus explore, a db adapter on %s', (engine: LegacyEngine) => {
  let env: Record<string, string>;
  let drop: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    if (engine === 'sqlite') {
      const file = join(tempDir('ficus-explore-sqlite-'), 'crm.sqlite');
      await seed('sqlite', file, ROWS);
      env = { CRM_DB_DRIVER: 'sqlite', CRM_DB_FILE: file };
    } else {
      const db = await createTempDatabase(engine, 'h21cs_explore');
      drop = db.drop;
      await seed(engine, db.url, ROWS);
      env = { CRM_DB_DRIVER: engine, CRM_DB_URL: db.url };
    }
  }, 60_000);
  afterAll(() => drop());

  it('lists the tables of the database with their row counts', async () => {
    const look = await explore(dbProject(), 'crm', env);
    if (look.kind !== 'db') throw new Error('not a db look');
    expect(look.db.tables.map((t) => ({ name: t.name.toUpperCase(), rows: t.rows }))).toEqual([
      { name: 'CODETBL', rows: CODE_ROWS.length },
      { name: 'CUSTMAST', rows: ROWS.length },
    ]);
    if (engine === 'postgres') expect(look.db.tables.every((t) => t.schema === 'public')).toBe(true);
    expect(describeLook(look)).toMatch(new RegExp(`^crm \\(db, ${engine}\\) at .*: 2 tables\\n {2}(public\\.)?codetbl +${CODE_ROWS.length} rows\\n {2}(public\\.)?custmast +37 rows$`, 'i'));
  });
});

describe('ficus explore, a db adapter on SQL Server (the TDS test server)', () => {
  it('reads INFORMATION_SCHEMA.TABLES and counts each table, schema-qualified and bracket-quoted', async () => {
    const tds = await startTdsServer({
      onQuery: (q): TdsAnswer => {
        if (/^SELECT 1/.test(q.sql)) return { columns: [{ name: 'ok', type: 'int' }], rows: [[1]] };
        if (q.sql.includes("FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_TYPE = 'BASE TABLE'"))
          return {
            columns: [
              { name: 'tschema', type: 'nvarchar' },
              { name: 'tname', type: 'nvarchar' },
            ],
            rows: [
              ['dbo', 'CODETBL'],
              ['dbo', 'CUSTMAST'],
            ],
          };
        const count = /^SELECT COUNT\(\*\) AS n FROM \[dbo\]\.\[(CODETBL|CUSTMAST)\]$/.exec(q.sql);
        if (count) return { columns: [{ name: 'n', type: 'int' }], rows: [[count[1] === 'CUSTMAST' ? ROWS.length : CODE_ROWS.length]] };
        return { error: { number: 102, message: `Incorrect syntax (unexpected statement): ${q.sql}` } };
      },
    });
    try {
      const env = { CRM_DB_DRIVER: 'mssql', CRM_DB_URL: `mssql://sa:Secret-123@127.0.0.1:${tds.port}/CRM`, CRM_DB_ENCRYPT: 'false' };
      const look = await explore(dbProject(), 'crm', env);
      if (look.kind !== 'db') throw new Error('not a db look');
      expect(look.db.tables).toEqual([
        { schema: 'dbo', name: 'CODETBL', rows: CODE_ROWS.length },
        { schema: 'dbo', name: 'CUSTMAST', rows: ROWS.length },
      ]);
      expect(tds.logins.every((l) => l.readOnlyIntent)).toBe(true);
    } finally {
      await tds.close();
    }
  }, 60_000);
});

describe('ficus explore, the command', () => {
  it('prints the look as text or JSON; an unknown adapter is a configuration mistake (78)', async () => {
    const file = join(tempDir('ficus-explore-cli-'), 'crm.sqlite');
    await seed('sqlite', file, ROWS);
    const root = dbProject();
    const env = { ...process.env, CRM_DB_DRIVER: 'sqlite', CRM_DB_FILE: file };
    const text = spawnSync(process.execPath, [FICUS, 'explore', 'crm', '--project', root], { encoding: 'utf8', env, timeout: 60_000 });
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/CUSTMAST +37 rows/);
    const json = spawnSync(process.execPath, [FICUS, 'explore', 'crm', '--project', root, '--json'], { encoding: 'utf8', env, timeout: 60_000 });
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'db', adapter: 'crm', db: { driver: 'sqlite', tables: [{ name: 'CODETBL' }, { name: 'CUSTMAST', rows: 37 }] } });
    const unknown = spawnSync(process.execPath, [FICUS, 'explore', 'nope', '--project', root], { encoding: 'utf8', env, timeout: 60_000 });
    expect(unknown.status).toBe(78);
    expect(unknown.stderr).toContain('no adapter nope');
    const unset = spawnSync(process.execPath, [FICUS, 'explore', 'crm', '--project', root], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 60_000 });
    expect(unset.status).toBe(78);
    expect(unset.stderr).toContain('environment variable CRM_DB_DRIVER is not set');
  }, 120_000);
});

describe('ficus explore, an sftp adapter (OpenSSH)', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  }, 60_000);
  afterAll(() => sshd?.dispose());

  it('lists the files of each folder with their sizes and the layouts they fit, by record length and first record', async () => {
    const name = writeProductExport(sshd.root, sampleCatalogue(12), { at: new Date('2026-11-27T03:00:00Z') });
    mkdirSync(join(sshd.root, 'inbound'), { recursive: true });
    mkdirSync(join(sshd.root, 'outbound'), { recursive: true });
    mkdirSync(join(sshd.root, 'archive'), { recursive: true });
    writeFileSync(join(sshd.root, 'exports', 'NOTES.TXT'), 'not a record file\n');
    const project = makeProject({ auth: 'key' });
    dirs.push(project.root);
    const env = {
      MAINFRAME_SFTP_HOST: sshd.host,
      MAINFRAME_SFTP_PORT: String(sshd.port),
      MAINFRAME_SFTP_USER: sshd.username,
      MAINFRAME_SFTP_PRIVATE_KEY: sshd.privateKey,
      MAINFRAME_SFTP_KNOWN_HOSTS: sshd.knownHostsFile,
    };
    const look = await explore(project.root, 'mainframe-files', env);
    if (look.kind !== 'sftp') throw new Error('not an sftp look');
    expect(look.sftp.layouts.map((l) => [l.path, l.recordLength])).toEqual([
      ['layouts/products.yaml', 80],
      ['layouts/orders.yaml', 255],
      ['layouts/replies.yaml', 80],
    ]);
    const exports = look.sftp.folders.find((f) => f.role === 'exports')!;
    expect(exports.files).toEqual([
      { name: 'NOTES.TXT', size: 18, modified: expect.any(String), layouts: [] },
      { name, size: 80 * 14, modified: expect.any(String), layouts: ['layouts/products.yaml'] },
    ]);
    expect(look.sftp.folders.find((f) => f.role === 'inbound')).toEqual({ role: 'inbound', path: 'inbound', files: [] });
    expect(look.sftp.folders.find((f) => f.role === 'quarantine')?.error).toMatch(/list quarantine/);
    expect(describeLook(look)).toContain(`${name}  1120 B  `);
  }, 60_000);
});

describe('ficus explore, a screen adapter (the sample legacy billing app)', () => {
  let app: RunningLegacyBilling;
  beforeAll(async () => {
    app = await startLegacyBilling({ port: 0 });
  });
  afterAll(() => app?.close());

  it('signs on with the adapter’s login flow and lists the pages behind it, their titles and forms, without signing off', async () => {
    // The sample project itself: explore reads its adapter file and changes nothing.
    const look = await explore(PROJECT_ROOT, 'billing-ui', { LEGACY_BILLING_URL: app.url, BILLING_UI_USER: SAMPLE_USER, BILLING_UI_PASSWORD: SAMPLE_PASSWORD }, { maxPages: 10 });
    if (look.kind !== 'screen') throw new Error('not a screen look');
    expect(look.screen.signedOn).toBe(true);
    const byPath = new Map(look.screen.pages.map((p) => [new URL(p.url).pathname, p]));
    expect([...byPath.keys()]).toEqual(['/menu', '/account', '/search']);
    expect(byPath.get('/menu')!.title).toBe('BILLING/2000 - Main menu');
    expect(byPath.get('/search')!.forms).toEqual([{ name: 'search', method: 'get', action: '/search', fields: [{ name: 'name', type: 'text', label: 'Account holder' }] }]);
    expect(byPath.get('/account')!.forms[0]).toMatchObject({ name: 'inquiry', fields: [{ name: 'no', label: 'Account no.' }] });
    expect(app.stats.hits.get('GET /logout') ?? 0).toBe(0);
    expect(app.stats.logins).toBe(1);
    expect(describeLook(look)).toContain('form search (GET /search): name "Account holder"');
  }, 120_000);
});
