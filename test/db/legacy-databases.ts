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
import { createTempDatabase } from '../helpers/databases.ts';

export { MYSQL_ADMIN_URL, PG_ADMIN_URL } from '../helpers/databases.ts';

export interface LegacyDatabase {
  engine: LegacyEngine;
  /** The env the crm-db adapter reads to reach it. */
  env: Record<string, string>;
  /** Where it is: a file or a URL. */
  target: string;
  drop(): Promise<void>;
}

export async function createLegacyDatabase(engine: LegacyEngine, rows?: LegacyCustomerRow[]): Promise<LegacyDatabase> {
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'ficus-crm-'));
    const file = join(dir, 'crm.sqlite');
    await seed('sqlite', file, rows);
    return { engine, target: file, env: { CRM_DB_DRIVER: 'sqlite', CRM_DB_FILE: file }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const db = await createTempDatabase(engine, 'ficus_crm');
  try {
    await seed(engine, db.url, rows);
  } catch (err) {
    await db.drop();
    throw err;
  }
  return { engine, target: db.url, env: { CRM_DB_DRIVER: engine, CRM_DB_URL: db.url }, drop: db.drop };
}
