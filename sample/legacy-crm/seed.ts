/**
 * Creates the legacy CRM database and fills it with the sample customers, on SQLite, PostgreSQL or
 * MySQL/MariaDB (the schema files are in schema/). Used by the sample estate (SQLite under
 * var/sample/), by the tests and the benchmarks, and by hand:
 *
 *   node --import tsx sample/legacy-crm/seed.ts sqlite var/sample/crm.sqlite
 *   node --import tsx sample/legacy-crm/seed.ts postgres postgres://postgres@127.0.0.1:5432/crm
 *   node --import tsx sample/legacy-crm/seed.ts mysql mysql://root@127.0.0.1:3306/crm
 *
 * The target database must exist (and be empty) for PostgreSQL and MySQL; a SQLite file is replaced.
 */
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODE_ROWS, CUSTMAST_COLUMNS, legacyCustomerRows, type LegacyCustomerRow } from './legacy-rows.ts';

export type LegacyEngine = 'sqlite' | 'postgres' | 'mysql';

/** The schema's statements for an engine, comments removed. */
export function schemaStatements(engine: LegacyEngine): string[] {
  const text = readFileSync(fileURLToPath(new URL(`./schema/${engine}.sql`, import.meta.url)), 'utf8');
  return text
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function batches<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

const rowValues = (r: LegacyCustomerRow) => CUSTMAST_COLUMNS.map((c) => r[c]);

/** Replaces `file` with a fresh legacy CRM database of `count` customers (default: all 3,000). */
export function seedSqlite(file: string, rows: LegacyCustomerRow[] = legacyCustomerRows()): void {
  mkdirSync(dirname(file), { recursive: true });
  rmSync(file, { force: true });
  rmSync(`${file}-journal`, { force: true });
  const db = new Database(file);
  try {
    for (const s of schemaStatements('sqlite')) db.exec(s);
    const code = db.prepare('INSERT INTO CODETBL (CD_TYP, CD_VAL, CD_DESC) VALUES (?, ?, ?)');
    const cust = db.prepare(`INSERT INTO CUSTMAST (${CUSTMAST_COLUMNS.join(', ')}) VALUES (${CUSTMAST_COLUMNS.map(() => '?').join(', ')})`);
    db.transaction(() => {
      for (const r of CODE_ROWS) code.run(r.CD_TYP, r.CD_VAL, r.CD_DESC);
      for (const r of rows) cust.run(...rowValues(r));
    })();
  } finally {
    db.close();
  }
}

/** Creates the tables in an existing, empty PostgreSQL database and fills them. */
export async function seedPostgres(url: string, rows: LegacyCustomerRow[] = legacyCustomerRows()): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const s of schemaStatements('postgres')) await client.query(s);
    for (const r of CODE_ROWS) await client.query('INSERT INTO CODETBL (CD_TYP, CD_VAL, CD_DESC) VALUES ($1, $2, $3)', [r.CD_TYP, r.CD_VAL, r.CD_DESC]);
    const n = CUSTMAST_COLUMNS.length;
    for (const batch of batches(rows, 500)) {
      const tuples = batch.map((_r, i) => `(${CUSTMAST_COLUMNS.map((_c, j) => `$${i * n + j + 1}`).join(', ')})`);
      await client.query(`INSERT INTO CUSTMAST (${CUSTMAST_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, batch.flatMap(rowValues));
    }
    await client.query('COMMIT');
    await client.query('ANALYZE CUSTMAST');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}

/** Creates the tables in an existing, empty MySQL or MariaDB database and fills them. */
export async function seedMysql(url: string, rows: LegacyCustomerRow[] = legacyCustomerRows()): Promise<void> {
  const { default: mysql } = await import('mysql2/promise');
  const conn = await mysql.createConnection({ uri: url });
  try {
    for (const s of schemaStatements('mysql')) await conn.query(s);
    await conn.beginTransaction();
    for (const r of CODE_ROWS) await conn.execute('INSERT INTO CODETBL (CD_TYP, CD_VAL, CD_DESC) VALUES (?, ?, ?)', [r.CD_TYP, r.CD_VAL, r.CD_DESC]);
    for (const batch of batches(rows, 500)) {
      const tuples = batch.map(() => `(${CUSTMAST_COLUMNS.map(() => '?').join(', ')})`);
      await conn.execute(`INSERT INTO CUSTMAST (${CUSTMAST_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, batch.flatMap(rowValues));
    }
    await conn.commit();
  } finally {
    await conn.end();
  }
}

export async function seed(engine: LegacyEngine, target: string, rows?: LegacyCustomerRow[]): Promise<void> {
  if (engine === 'sqlite') seedSqlite(target, rows);
  else if (engine === 'postgres') await seedPostgres(target, rows);
  else await seedMysql(target, rows);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [engine, target] = process.argv.slice(2);
  if (!['sqlite', 'postgres', 'mysql'].includes(engine) || !target) {
    process.stderr.write('usage: seed.ts sqlite <file> | postgres <url> | mysql <url>\n');
    process.exit(2);
  }
  await seed(engine as LegacyEngine, target);
  process.stdout.write(`seeded the legacy CRM (${engine}) at ${target}\n`);
}
