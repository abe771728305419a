/**
 * `ficus scaffold screen --url <page> [--out adapters/x/flows] [--follow]`: lists the page's forms,
 * fields, tables and buttons and writes a typed flow skeleton per page (docs/scaffolds.md). Exit 0;
 * 2 on bad usage, no browser, a page that does not open, or --follow without a display.
 */
import type { Command } from 'commander';
import { relative } from 'node:path';
import { ScaffoldError } from './scaffold-error.ts';
import type { PageSurvey } from './page-survey.ts';

interface Options {
  url: string;
  out: string;
  follow: boolean;
  force: boolean;
}

/** The survey of one page, as the command prints it. */
export function describeSurvey(p: PageSurvey): string {
  const lines = [`${p.title || '(no title)'}  ${p.url}`];
  for (const f of p.forms) {
    lines.push(`  form ${f.name} (${f.method.toUpperCase()} ${f.action || '(this page)'})  ${f.selector}`);
    for (const x of f.fields)
      lines.push(
        `    field ${x.name || '(no name)'}: ${x.type}${x.label ? ` "${x.label}"` : ''}${x.required ? ', required' : ''}${x.maxLength >= 0 ? `, maxlength ${x.maxLength}` : ''}  ${x.selector}`,
      );
    for (const b of f.buttons) lines.push(`    button "${b.text}"  ${b.selector}`);
  }
  for (const t of p.tables) lines.push(`  table ${t.name}: ${t.headers.join(' | ') || '(no header row)'}  ${t.selector}`);
  for (const b of p.buttons) lines.push(`  button "${b.text}"  ${b.selector}`);
  return lines.join('\n');
}

export async function runScreenScaffold(opts: Options, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  try {
    if (opts.follow) io.stdout.write('recording the pages you open; close the browser window to finish\n');
    const { scaffoldScreen } = await import('./screen-scaffold.ts');
    const r = await scaffoldScreen({ url: opts.url, out: opts.out, follow: opts.follow, force: opts.force, onPage: (p) => io.stdout.write(`visited ${p.url}\n`) });
    for (const p of r.pages) io.stdout.write(describeSurvey(p) + '\n');
    for (const f of r.files) io.stdout.write(`wrote ${relative(process.cwd(), f.path) || f.path} (${f.skeleton.kind === 'login' ? 'defineLogin' : 'defineFlow'}; complete its TODOs)\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ScaffoldError)) throw err;
    io.stderr.write(`ficus scaffold screen: ${err.message}\n  fix: ${err.fix}\n`);
    return 2;
  }
}

export function registerScreenScaffold(scaffold: Command): void {
  scaffold
    .command('screen')
    .description("a typed flow skeleton from a legacy web page: its forms, fields, tables and buttons, with selectors (in the system's Chromium)")
    .requiredOption('--url <url>', 'the page to start from, e.g. the login page')
    .option('--out <dir>', 'where the flow files go', 'flows')
    .option('--follow', 'open a browser window and record every page you visit until you close it (needs a display)', false)
    .option('--force', 'write over flow files of the same names', false)
    .action(async (opts: Options) => {
      process.exitCode = await runScreenScaffold(opts, { stdout: process.stdout, stderr: process.stderr });
    });
}
