/**
 * Temporary databases for tests: a database of its own on the local PostgreSQL or MariaDB, with a
 * random name, empty, and dropped by `drop()`. The one implementation every test and bench uses.
 * FICUS_TEST_PG_URL and FICUS_TEST_MYSQL_URL point the tests at other servers (an account that may
 * create and drop databases).
 */
import { randomUUID } from 'node:crypto';

export const PG_ADMIN_URL = process.env.FICUS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_ADMIN_URL = process.env.FICUS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';

export type DatabaseEngine = 'postgres' | 'mysql';

export interface TempDatabase {
  engine: DatabaseEngine;
  name: string;
  /** The URL of the new database (the admin URL with its name as the path). */
  url: string;
  /** Drops it (forcing out any sessions left on PostgreSQL); safe to call twice. */
  drop(): Promise<void>;
}

/** The admin URL with `name` as its database. */
export function databaseUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A random database name: `<prefix>_<pid>_<12 hex>` (lower case, valid unquoted on both engines). */
export function randomDatabaseName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

async function pgAdmin(sql: string): Promise<void> {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function mysqlAdmin(sql: string): Promise<void> {
  const { default: mysql } = await import('mysql2/promise');
  const c = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Creates an empty database with a random name on the local PostgreSQL (default) or MariaDB. */
export async function createTempDatabase(engine: DatabaseEngine = 'postgres', prefix = 'ficus_test'): Promise<TempDatabase> {
  const name = randomDatabaseName(prefix);
  const run = engine === 'postgres' ? pgAdmin : mysqlAdmin;
  await run(`CREATE DATABASE ${name}`);
  return {
    engine,
    name,
    url: databaseUrl(engine === 'postgres' ? PG_ADMIN_URL : MYSQL_ADMIN_URL, name),
    drop: () => run(engine === 'postgres' ? `DROP DATABASE IF EXISTS ${name} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${name}`),
  };
}
