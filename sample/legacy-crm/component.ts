/**
 * The legacy CRM database as a part of the sample estate: a SQLite file in the run's own folder
 * (<root>/var/sample/run-…/), made afresh at each start from the sample customers, handed to adapters/crm-db through
 * CRM_DB_DRIVER and CRM_DB_FILE.
 */
import { join } from 'node:path';
import type { EstateComponent } from '../estate.ts';
import { seedSqlite } from './seed.ts';

export const LEGACY_CRM_NAME = 'CRM database (legacy, SQLite)';

export const legacyCrmComponent: EstateComponent = {
  name: LEGACY_CRM_NAME,
  async start(opts) {
    const file = join(opts.dir ?? join(opts.root, 'var', 'sample'), 'crm.sqlite');
    seedSqlite(file);
    return { name: LEGACY_CRM_NAME, url: file, env: { CRM_DB_DRIVER: 'sqlite', CRM_DB_FILE: file }, stop: async () => undefined };
  },
};
