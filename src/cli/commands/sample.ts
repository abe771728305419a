/**
 * `ficus sample …`: acts on the sample estate's legacy CRM (the SQLite file of the running
 * `npm start`, or --crm-file), as people and scripts around a legacy system do:
 *
 *   ficus sample edit <customerId> [--name …] [--email …] [--vip true|false]   a clerk's edit (stamped: the change feed sends it)
 *   ficus sample drift <customerId>                                           a fix-up script's change that bypasses the stamp:
 *                                                                             flips vip; only reconciliation, shadow and the sweep see it
 */
import type { Command } from 'commander';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ClerkEdit } from '../../../sample/legacy-crm/clerk.ts';

function crmFile(opts: { crmFile?: string; root: string }): string {
  if (opts.crmFile) return resolve(opts.crmFile);
  if (process.env.CRM_DB_FILE) return resolve(process.env.CRM_DB_FILE);
  const base = join(resolve(opts.root), 'var', 'sample');
  const runs = existsSync(base)
    ? readdirSync(base)
        .filter((d) => d.startsWith('run-') && existsSync(join(base, d, 'crm.sqlite')))
        .map((d) => join(base, d, 'crm.sqlite'))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    : [];
  if (runs.length === 0) throw new Error(`no running sample estate under ${base}: start it with npm start, or pass --crm-file`);
  return runs[0];
}

function customerId(text: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new Error(`a customer id is a number, not "${text}"`);
  return Number(text);
}

export function register(program: Command): void {
  const sample = program.command('sample').description("the sample estate's legacy CRM: a clerk's edit, a deliberate drift");
  sample
    .command('edit <customerId>')
    .description('edit a customer as the legacy CRM application does (stamped LAST_UPD: the change feed sends it)')
    .option('--name <name>')
    .option('--email <email>')
    .option('--vip <yes>', 'true or false')
    .option('--crm-file <file>', 'the CRM SQLite file (default: $CRM_DB_FILE, then the newest running sample)')
    .option('-r, --root <dir>', 'project folder', '.')
    .action(async (id: string, o: { name?: string; email?: string; vip?: string; crmFile?: string; root: string }) => {
      const edit: ClerkEdit = { name: o.name, email: o.email, vip: o.vip === undefined ? undefined : o.vip === 'true' };
      if (edit.name === undefined && edit.email === undefined && edit.vip === undefined) edit.name = `Edited ${new Date().toISOString().slice(11, 19)}`;
      const file = crmFile(o);
      const { clerkEdit } = await import('../../../sample/legacy-crm/clerk.ts');
      const n = await clerkEdit({ driver: 'sqlite', file }, customerId(id), edit);
      if (n === 0) throw new Error(`no customer ${id} in ${file}`);
      process.stdout.write(`customer ${id} edited in ${file} (as the legacy application would, stamped now)\n`);
    });
  sample
    .command('drift <customerId>')
    .description("flip a customer's vip flag straight in the database, without its LAST_UPD stamp (reconciliation and shadow show it)")
    .option('--crm-file <file>', 'the CRM SQLite file (default: $CRM_DB_FILE, then the newest running sample)')
    .option('-r, --root <dir>', 'project folder', '.')
    .action(async (id: string, o: { crmFile?: string; root: string }) => {
      const file = crmFile(o);
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(file, { readonly: true });
      const row = db.prepare('SELECT VIP_FLG FROM CUSTMAST WHERE CUST_NO = ?').get(customerId(id)) as { VIP_FLG: string } | undefined;
      db.close();
      if (!row) throw new Error(`no customer ${id} in ${file}`);
      const { unstampedEdit } = await import('../../../sample/legacy-crm/clerk.ts');
      await unstampedEdit({ driver: 'sqlite', file }, customerId(id), { vip: row.VIP_FLG !== 'Y' });
      process.stdout.write(`customer ${id}: vip flipped to ${row.VIP_FLG !== 'Y'} in ${file}, LAST_UPD left as it was\n`);
    });
}
