/**
 * `ficus sample …`: acts on the running sample estate (`npm start`) as people and scripts around a
 * migration do:
 *
 *   ficus sample clerk-edit <customerId> [--name …] [--email …] [--vip true|false]
 *       a clerk's edit in the legacy CRM (CUSTMAST, stamped as the CRM application does): the change
 *       feed sends it, and the modern customers service has it within seconds
 *   ficus sample drift <customerId>
 *       flips the customer's vip flag in the modern customers service only: a difference that
 *       reconciliation and shadow show
 *   ficus sample drift <customerId> --legacy
 *       flips it in CUSTMAST without the LAST_UPD stamp (a fix-up script): polls miss it; the sweep,
 *       reconciliation and shadow see it
 *
 * The CRM file is the running sample's (or $CRM_DB_FILE, or --crm-file); the modern service's address
 * the running sample's (or --modern-url).
 */
import type { Command } from 'commander';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ClerkEdit } from '../../../sample/legacy-crm/clerk.ts';

async function modernUrl(opts: { modernUrl?: string; root: string }): Promise<string> {
  if (opts.modernUrl) return opts.modernUrl.replace(/\/$/, '');
  const { findRunningEstate } = await import('../../../sample/estate.ts');
  const run = findRunningEstate(resolve(opts.root));
  if (!run?.estate.modernCustomersUrl) throw new Error('no running sample estate with a modern customers service: start it with npm start, or pass --modern-url');
  return run.estate.modernCustomersUrl;
}

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
  const sample = program.command('sample').description("the running sample estate: a clerk's edit in the legacy CRM, a deliberate drift in modern");
  sample
    .command('clerk-edit <customerId>')
    .alias('edit')
    .description('edit a customer as the legacy CRM application does (stamped LAST_UPD: the change feed sends it to modern)')
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
    .description("flip a customer's vip flag in the modern customers service only (--legacy: in CUSTMAST, without its LAST_UPD stamp); reconciliation and shadow show it")
    .option('--legacy', 'drift legacy instead: CUSTMAST changed behind the CRM application (only the sweep, reconciliation and shadow see it)', false)
    .option('--modern-url <url>', "the modern customers service (default: the running sample's)")
    .option('--crm-file <file>', 'with --legacy: the CRM SQLite file (default: $CRM_DB_FILE, then the newest running sample)')
    .option('-r, --root <dir>', 'project folder', '.')
    .action(async (id: string, o: { legacy: boolean; modernUrl?: string; crmFile?: string; root: string }) => {
      if (!o.legacy) {
        const base = await modernUrl(o);
        const res = await fetch(`${base}/_sample/drift/${customerId(id)}`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
        if (res.status === 404) throw new Error(`no customer ${id} in the modern customers service at ${base} (not backfilled yet?)`);
        if (!res.ok) throw new Error(`the modern customers service at ${base} answered ${res.status}`);
        const c = (await res.json()) as { vip: boolean };
        process.stdout.write(`customer ${id}: vip flipped to ${c.vip} in the modern customers service only (${base}); legacy is unchanged\n`);
        return;
      }
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
