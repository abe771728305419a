/**
 * `ficus explore <adapter> [--project dir] [--json]`: a read-only first look at what an adapter
 * sees. db: the tables and their row counts; sftp: the files in each folder of the drop, their
 * sizes and the layouts they fit; screen: the pages reachable after signing on (title, URL,
 * forms). Exit 0; 78 when the adapter file has a mistake; 1 when the system cannot be reached.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { resolve } from 'node:path';
import type { DbLook } from '../../explore/db-explore.ts';
import type { ScreenConnectionForExplore, ScreenLook } from '../../explore/screen-explore.ts';
import type { SftpConnectionForExplore, SftpLook } from '../../explore/sftp-explore.ts';
import type { DbConnection } from '../../kinds/db/db-config.ts';

export type Look = { kind: 'db'; adapter: string; db: DbLook } | { kind: 'sftp'; adapter: string; sftp: SftpLook } | { kind: 'screen'; adapter: string; screen: ScreenLook };

export async function explore(root: string, name: string, env: Readonly<Record<string, string | undefined>>, opts: { maxPages?: number } = {}): Promise<Look> {
  // The drivers, SSH and the browser are loaded for the kind asked only: other commands start without them.
  const { readAdapter } = await import('../../explore/adapter-file.ts');
  const adapter = await readAdapter(root, name, env);
  switch (adapter.kind) {
    case 'db':
      return { kind: 'db', adapter: name, db: await (await import('../../explore/db-explore.ts')).exploreDb(adapter.connection as DbConnection, name, root) };
    case 'sftp':
      return { kind: 'sftp', adapter: name, sftp: await (await import('../../explore/sftp-explore.ts')).exploreSftp(adapter.connection as SftpConnectionForExplore, adapter) };
    case 'screen':
      return { kind: 'screen', adapter: name, screen: await (await import('../../explore/screen-explore.ts')).exploreScreen(adapter.connection as ScreenConnectionForExplore, adapter, env, opts) };
    default:
      throw new Error(`${adapter.file}: explore knows db, sftp and screen adapters, and ${name} is of kind ${adapter.kind}`);
  }
}

function bytes(n: number): string {
  return n < 10_000 ? `${n} B` : n < 10_000_000 ? `${Math.round(n / 1000)} kB` : `${Math.round(n / 1_000_000)} MB`;
}

export function describeLook(look: Look): string {
  const out: string[] = [];
  if (look.kind === 'db') {
    out.push(`${look.adapter} (db, ${look.db.driver}) at ${look.db.where}: ${look.db.tables.length} table${look.db.tables.length === 1 ? '' : 's'}`);
    const width = Math.max(0, ...look.db.tables.map((t) => (t.schema ? t.schema.length + 1 : 0) + t.name.length));
    for (const t of look.db.tables) out.push(`  ${(t.schema ? `${t.schema}.${t.name}` : t.name).padEnd(width)}  ${t.rows !== undefined ? `${t.rows} rows` : `rows unknown: ${t.error}`}`);
    if (look.db.more) out.push(`  … and ${look.db.more} more tables, not counted`);
  } else if (look.kind === 'sftp') {
    out.push(`${look.adapter} (sftp) at ${look.sftp.where}`);
    out.push('  layouts:');
    for (const l of look.sftp.layouts) out.push(`    ${l.path}: ${l.error ? `does not load: ${l.error}` : `${l.recordLength}-byte records, delimiter ${l.delimiter}`}`);
    for (const f of look.sftp.folders) {
      if (f.error) {
        out.push(`  ${f.role} (${f.path}): ${f.error}`);
        continue;
      }
      out.push(`  ${f.role} (${f.path}): ${f.files!.length} file${f.files!.length === 1 ? '' : 's'}`);
      for (const file of f.files!) out.push(`    ${file.name}  ${bytes(file.size)}  ${file.modified}  ${file.layouts.length ? `fits ${file.layouts.join(', ')}` : 'fits no layout'}`);
    }
  } else {
    const s = look.screen;
    out.push(`${look.adapter} (screen) at ${s.baseUrl}${s.signedOn ? ', signed on with its login flow' : ''}: ${s.pages.length} page${s.pages.length === 1 ? '' : 's'}`);
    for (const p of s.pages) {
      out.push(`  ${p.title || '(no title)'}  ${p.url}`);
      for (const f of p.forms)
        out.push(`    form ${f.name} (${f.method.toUpperCase()} ${f.action || '(this page)'}): ${f.fields.map((x) => `${x.name || '?'}${x.label ? ` "${x.label}"` : ''}`).join(', ') || 'no fields'}`);
      for (const t of p.tables) out.push(`    table ${t.name}: ${t.headers.join(' | ') || '(no header row)'}`);
    }
    if (s.notFollowed > 0) out.push(`  (${s.notFollowed} more links not followed; --max-pages to see more)`);
  }
  return out.join('\n');
}

export function register(program: Command): void {
  program
    .command('explore')
    .description('a read-only first look at what an adapter sees: tables and row counts (db), files and the layouts they fit (sftp), pages behind the login (screen)')
    .argument('<adapter>', 'the adapter (its folder name under adapters/)')
    .option('--project <dir>', 'the project folder', '.')
    .option('--json', 'print JSON', false)
    .option(
      '--max-pages <n>',
      'screen: at most this many pages',
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number, 1 or more');
        return n;
      },
      20,
    )
    .action(async (name: string, opts: { project: string; json: boolean; maxPages: number }) => {
      const look = await explore(resolve(opts.project), name, process.env, { maxPages: opts.maxPages });
      process.stdout.write((opts.json ? JSON.stringify(look, null, 2) : describeLook(look)) + '\n');
    });
}
