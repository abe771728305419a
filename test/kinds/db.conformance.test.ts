/**
 * The db kind runs the conformance suite on each of its four drivers: a SQLite file, a database of
 * its own on the local PostgreSQL and MariaDB (random name, dropped afterwards), and SQL Server
 * through the TDS test server (SQL Server cannot be installed here).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTdsServer, type RunningTdsServer, type TdsAnswer, type TdsQuery } from '../helpers/tds-server.ts';
import { MYSQL_ADMIN_URL, PG_ADMIN_URL } from '../db/legacy-databases.ts';
import { THINGS, kindConformance, type AdapterPlan, type KindConformanceSetup } from './conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'ficus-db-conformance-'));
mkdirSync(join(dir, 'sql'));
writeFileSync(join(dir, 'sql', 'get-thing.sql'), 'SELECT id, name FROM things WHERE id = :thingId\n');
writeFileSync(join(dir, 'sql', 'list-things.sql'), 'SELECT id, name FROM things\n');
const MAP = { id: { column: 'id', as: 'integer' }, name: { column: 'name' } };
const BINDINGS = {
  getThing: { sql: 'sql/get-thing.sql', params: { thingId: 'path.thingId' }, map: MAP, notFound: 'no thing {thingId}' },
  listThings: { sql: 'sql/list-things.sql', result: 'page', map: MAP, page: { orderBy: ['id'] } },
};
const common = {
  badBinding: { operation: 'getThing', binding: { sql: 'sql/get-thing.sql', params: {}, map: MAP }, subKey: 'params.thingId' },
  supports: { getThing: true, listThings: true, createThing: 'the db kind only reads (its bindings are SELECTs)' },
  policy: { timeoutMs: 10_000 },
} satisfies Partial<KindConformanceSetup>;
const connection = (c: Record<string, unknown>) => ({ connectTimeoutMs: 2_000, statementTimeoutMs: 5_000, pool: { max: 1 }, ...c });
const plan = (c: Record<string, unknown>): AdapterPlan => ({ connection: connection(c), bindings: BINDINGS, dir });
const INSERTS = `INSERT INTO things (id, name) VALUES ${THINGS.map((t) => `(${t.id}, '${t.name}')`).join(', ')}`;
const dbName = () => `ficus_kinds_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;

function withDatabase(adminUrl: string, name: string, port?: number, user?: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  if (port !== undefined) u.port = String(port);
  if (user !== undefined) {
    u.username = user;
    u.password = 'not-the-password';
  }
  return u.toString();
}

// SQLite: a file; no network, so the network cases are the drivers' below.
const sqliteFile = join(dir, 'things.sqlite');
kindConformance({
  ...common,
  kind: 'db',
  title: 'db (sqlite)',
  async before() {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(sqliteFile);
    db.exec(`CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL); ${INSERTS};`);
    db.close();
  },
  after: async () => rmSync(dir, { recursive: true, force: true }),
  live: () => plan({ driver: 'sqlite', file: sqliteFile }),
  down: () => plan({ driver: 'sqlite', file: join(dir, 'no-such-folder', 'things.sqlite') }),
  skip: {
    'nothing connects before start': 'SQLite opens a file, not a connection (the file is opened on first use)',
    'health against a blackhole': 'SQLite has no network',
    'credentials refused': 'SQLite has no credentials',
    'aborted call': 'a SQLite statement runs in-process (bounded by statementTimeoutMs), there is no connection to stall',
  },
});

// PostgreSQL: 127.0.0.1:5432, trust authentication.
const pgName = dbName();
const pgPort = Number(new URL(PG_ADMIN_URL).port || 5432);
kindConformance({
  ...common,
  kind: 'db',
  title: 'db (postgres)',
  async before() {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pgName}`);
    await admin.end();
    const c = new pg.Client({ connectionString: withDatabase(PG_ADMIN_URL, pgName) });
    await c.connect();
    await c.query(`CREATE TABLE things (id integer PRIMARY KEY, name varchar(40) NOT NULL); ${INSERTS}`);
    await c.end();
  },
  async after() {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`);
    await admin.end();
  },
  live: () => plan({ driver: 'postgres', url: withDatabase(PG_ADMIN_URL, pgName) }),
  at: (port) => plan({ driver: 'postgres', url: withDatabase(PG_ADMIN_URL, pgName, port) }),
  livePort: () => pgPort,
  // Trust authentication takes any password: a role that does not exist is refused (28000).
  refusingCredentials: () => plan({ driver: 'postgres', url: withDatabase(PG_ADMIN_URL, pgName, undefined, 'ficus_no_such_role') }),
});

// MariaDB: 127.0.0.1:3306, root without a password.
const myName = dbName();
const myPort = Number(new URL(MYSQL_ADMIN_URL).port || 3306);
kindConformance({
  ...common,
  kind: 'db',
  title: 'db (mysql/mariadb)',
  async before() {
    const { default: mysql } = await import('mysql2/promise');
    const admin = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, multipleStatements: true });
    await admin.query(`CREATE DATABASE ${myName}; USE ${myName}; CREATE TABLE things (id int PRIMARY KEY, name varchar(40) NOT NULL); ${INSERTS};`);
    await admin.end();
  },
  async after() {
    const { default: mysql } = await import('mysql2/promise');
    const admin = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
    await admin.query(`DROP DATABASE IF EXISTS ${myName}`);
    await admin.end();
  },
  live: () => plan({ driver: 'mysql', url: withDatabase(MYSQL_ADMIN_URL, myName) }),
  at: (port) => plan({ driver: 'mysql', url: withDatabase(MYSQL_ADMIN_URL, myName, port) }),
  livePort: () => myPort,
  refusingCredentials: () => plan({ driver: 'mysql', url: withDatabase(MYSQL_ADMIN_URL, myName, undefined, 'ficus_no_such_user') }),
});

// SQL Server: the TDS test server answering the kind's statements from THINGS.
function things(q: TdsQuery): TdsAnswer {
  const columns = [
    { name: 'id', type: 'int' as const },
    { name: 'name', type: 'nvarchar' as const },
  ];
  if (/^SELECT 1\b/.test(q.sql)) return { columns: [{ name: 'ok', type: 'int' }], rows: [[1]] };
  const rows = THINGS.map((t) => [t.id, t.name]);
  if (q.sql.includes('ficus_page')) {
    const limit = Math.max(...Object.values(q.params).map(Number).filter(Number.isFinite));
    return { columns, rows: rows.slice(0, limit) };
  }
  if (/WHERE id = @p1\s*$/.test(q.sql)) return { columns, rows: rows.filter((r) => r[0] === Number(q.params.p1)) };
  return { error: { number: 102, message: `Incorrect syntax (unexpected statement): ${q.sql}` } };
}
let tds: RunningTdsServer;
const mssql = (port: number, password = 'Secret-123') => plan({ driver: 'mssql', url: `mssql://sa:${encodeURIComponent(password)}@127.0.0.1:${port}/THINGS`, encrypt: 'false' });
kindConformance({
  ...common,
  kind: 'db',
  title: 'db (mssql, TDS test server)',
  async before() {
    tds = await startTdsServer({ onQuery: things });
  },
  after: () => tds.close(),
  live: () => mssql(tds.port),
  at: (port) => mssql(port),
  livePort: () => tds.port,
  refusingCredentials: () => mssql(tds.port, 'wrong-password'),
});
