/**
 * Legacy CRM databases for the db kind's tests: a fresh SQLite file, or a database of its own on
 * the local PostgreSQL / MariaDB (unique name, dropped afterwards), schema loaded and seeded from the
 * sample customers. FICUS_TEST_PG_URL and FICUS_TEST_MYSQL_URL point the tests at other servers
 * (an account that may create and drop databases).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seed, type LegacyEngine } from '../../sample/legacy-crm/seed.ts';
import type { LegacyCustomerRow } from '../../sample/legacy-crm/legacy-rows.ts';

export const PG_ADMIN_URL = process.env.FICUS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_ADMIN_URL = process.env.FICUS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';

export interface LegacyDatabase {
  engine: LegacyEngine;
  /** The env the crm-db adapter reads to reach it. */
  env: Record<string, string>;
  /** Where it is: a file or a URL. */
  target: string;
  drop(): Promise<void>;
}

function withDatabase(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createLegacyDatabase(engine: LegacyEngine, rows?: LegacyCustomerRow[]): Promise<LegacyDatabase> {
  const name = `ficus_crm_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-crm-'));
    const file = join(dir, 'crm.sqlite');
    await seed('sqlite', file, rows);
    return { engine, target: file, env: { CRM_DB_DRIVER: 'sqlite', CRM_DB_FILE: file }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (engine === 'postgres') {
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = withDatabase(PG_ADMIN_URL, name);
    await seed('postgres', url, rows);
    return {
      engine,
      target: url,
      env: { CRM_DB_DRIVER: 'postgres', CRM_DB_URL: url },
      drop: async () => {
        const c = new pg.Client({ connectionString: PG_ADMIN_URL });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  }
  const { default: mysql } = await import('mysql2/promise');
  const admin = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(MYSQL_ADMIN_URL, name);
  await seed('mysql', url, rows);
  return {
    engine,
    target: url,
    env: { CRM_DB_DRIVER: 'mysql', CRM_DB_URL: url },
    drop: async () => {
      const c = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.end();
    },
  };
}
