/**
 * `ficus routes …`: the migration from a terminal, through the admin API (never the state store
 * directly, so that every change is authenticated and audited like the dashboard's).
 *
 *   ficus routes list
 *   ficus routes set getCustomer --mode canary --percent 10 --reason "match rate 99.8% over a day"
 *   ficus routes mismatches getCustomer
 *
 * The admin API's URL and token come from FICUS_ADMIN_URL and FICUS_ADMIN_TOKEN, or --url/--token.
 * `--json` prints the API's answer as is, for scripts. Exit codes: 0 done; 2 bad usage (no URL or
 * token); 3 the admin API cannot be reached; 4 it refused the request (4xx: unknown route, bad
 * value, no modern binding, wrong token), nothing changed; 5 it failed (5xx).
 */
import { Option, type Command } from 'commander';
import { CliExit, EXIT, adminOptions, callAdmin, runCommand, type AdminOptions } from '../admin-client.ts';

const out = (s: string): void => void process.stdout.write(s + '\n');
const num = (x: number | null | undefined, unit = '') => (x === null || x === undefined ? '-' : `${x}${unit}`);

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

interface BackendView {
  adapter: string;
  up: boolean | null;
  circuit: string;
  figures: { calls: number; errorRate5m: number | null; p50Ms: number | null };
}
interface RouteView {
  operationId: string;
  method: string;
  path: string;
  state: string;
  legacy: BackendView | null;
  modern: BackendView | null;
  modernShare: number | null;
  fallbacks: number;
  shadow: { compared: number; mismatched: number; matchRate: number | null; noisy: { path: string; seen: number }[] };
  compare: { ignore: { config: string[]; runtime: string[] } };
  reconciliation?: { parity: number; keys: number; equal: number; finishedAt: string } | null;
  gates: { paused: boolean; steps: string[]; rollback: string | null; waitingFor: string | null } | null;
  changedAt: string;
  changedBy: string;
}

function backendText(b: BackendView | null): string {
  if (!b) return '-';
  return `${b.adapter}${b.up === false ? ' (DOWN)' : ''}${b.circuit === 'open' ? ' (circuit open)' : ''}`;
}

function printRoute(r: RouteView): void {
  out(`${r.operationId}  ${r.method} ${r.path}`);
  out(`  mode        ${r.state}  (since ${r.changedAt}, by ${r.changedBy})`);
  for (const [name, b] of [
    ['legacy', r.legacy],
    ['modern', r.modern],
  ] as const) {
    out(`  ${name.padEnd(11)} ${b ? `${backendText(b)}: ${b.figures.calls} calls, errors ${num(b.figures.errorRate5m, '%')} (5 min), p50 ${num(b.figures.p50Ms, ' ms')}` : '-'}`);
  }
  if (!r.modern) {
    out('  traffic     legacy only: no modern backend (nothing to split or compare)');
  } else {
    out(`  traffic     modern answered ${num(r.modernShare, '%')} of calls since start; ${r.fallbacks} fallbacks to legacy`);
    out(`  shadow      ${r.shadow.compared} compared, ${r.shadow.mismatched} mismatched, match rate ${num(r.shadow.matchRate, '%')}`);
  }
  const rec = r.reconciliation;
  out(`  reconciled  ${rec ? `parity ${rec.parity}% (${rec.keys - rec.equal} of ${rec.keys} keys not equal), ${rec.finishedAt}` : 'never (ficus reconcile)'}`);
  const ignore = [...r.compare.ignore.config, ...r.compare.ignore.runtime];
  if (ignore.length) out(`  ignoring    ${ignore.join(', ')}`);
  if (r.shadow.noisy.length) out(`  noisy       ${r.shadow.noisy.map((n) => n.path).join(', ')}  (ficus routes ignore ${r.operationId} --noisy --reason "…")`);
  if (r.gates) {
    out(`  gates       ${r.gates.paused ? 'PAUSED' : 'active'}`);
    for (const s of r.gates.steps) out(`              ${s}`);
    if (r.gates.rollback) out(`              rollback ${r.gates.rollback}`);
    if (r.gates.waitingFor) out(`              next: ${r.gates.waitingFor}`);
  }
}

export function register(program: Command): void {
  const routes = program.command('routes').description('see and switch route modes through the admin API (FICUS_ADMIN_URL, FICUS_ADMIN_TOKEN)');

  adminOptions(routes.command('list').description('every route: mode, backends, traffic, shadow match rate')).action(
    runCommand('routes', async (opts: AdminOptions) => {
      const [list, overview] = (await Promise.all([callAdmin(opts, 'GET', '/routes'), callAdmin(opts, 'GET', '/overview')])) as [
        { routes: RouteView[] },
        { progress: number; modernShare: number | null; byMode: Record<string, number> },
      ];
      if (opts.json) return out(JSON.stringify(list, null, 2));
      const rows = [['OPERATION', 'MODE', 'LEGACY', 'MODERN', 'MODERN SHARE', 'MATCH RATE', 'MISMATCHES', 'GATES']];
      for (const r of list.routes) {
        rows.push([
          r.operationId,
          r.state,
          backendText(r.legacy),
          backendText(r.modern),
          r.modern ? num(r.modernShare, '%') : 'no modern',
          r.modern ? num(r.shadow.matchRate, '%') : '-',
          r.modern ? String(r.shadow.mismatched) : '-',
          r.gates ? (r.gates.paused ? 'paused' : 'active') : '-',
        ]);
      }
      out(table(rows));
      out(
        `\nmigration ${overview.progress}% done; modern answered ${num(overview.modernShare, '%')} of calls; ${Object.entries(overview.byMode)
          .filter(([, n]) => n > 0)
          .map(([m, n]) => `${n} ${m}`)
          .join(', ')}`,
      );
    }),
  );

  adminOptions(routes.command('show').argument('<operationId>').description('one route in detail')).action(
    runCommand('routes', async (operationId: string, opts: AdminOptions) => {
      const r = (await callAdmin(opts, 'GET', `/routes/${encodeURIComponent(operationId)}`)) as RouteView;
      if (opts.json) return out(JSON.stringify(r, null, 2));
      printRoute(r);
    }),
  );

  adminOptions(
    routes
      .command('set')
      .argument('<operationId>')
      .description("switch a route's mode (audited with your token's name and the reason)")
      .addOption(new Option('--mode <mode>', 'the new mode').choices(['legacy', 'shadow', 'canary', 'fallback', 'modern']).makeOptionMandatory())
      .option('--percent <n>', 'canary: share of calls to modern, 0-100')
      .requiredOption('--reason <text>', 'why (goes into the audit log)'),
  ).action(
    runCommand('routes', async (operationId: string, opts: AdminOptions & { mode: string; percent?: string; reason: string }) => {
      const percent = opts.percent === undefined ? undefined : Number(opts.percent);
      if (percent !== undefined && !Number.isFinite(percent)) throw new CliExit(EXIT.usage, `--percent must be a number from 0 to 100, not "${opts.percent}"`);
      const r = (await callAdmin(opts, 'PUT', `/routes/${encodeURIComponent(operationId)}/mode`, { mode: opts.mode, ...(percent === undefined ? {} : { percent }), reason: opts.reason })) as {
        changed: boolean;
        from: string;
        to: string;
      };
      if (opts.json) return out(JSON.stringify(r, null, 2));
      out(r.changed ? `${operationId}: ${r.from} → ${r.to}` : `${operationId}: already ${r.to}; nothing changed`);
    }),
  );

  adminOptions(routes.command('mismatches').argument('<operationId>').option('--limit <n>', 'how many, newest first', '10').description("a route's latest shadow mismatches with their diffs")).action(
    runCommand('routes', async (operationId: string, opts: AdminOptions & { limit: string }) => {
      const r = (await callAdmin(opts, 'GET', `/routes/${encodeURIComponent(operationId)}/mismatches?limit=${encodeURIComponent(opts.limit)}`)) as {
        mismatches: {
          at: string;
          request: string;
          requestId: string;
          legacyStatus: number;
          modernStatus: number;
          consumer?: string;
          differences: { path: string; legacy: unknown; modern: unknown; kind: string; noisy?: boolean }[];
        }[];
      };
      if (opts.json) return out(JSON.stringify(r, null, 2));
      if (r.mismatches.length === 0) return out(`${operationId}: no mismatches recorded`);
      for (const m of r.mismatches) {
        out(`${m.at}  ${m.request}  (request ${m.requestId}${m.consumer !== undefined ? `; consumer ${m.consumer}` : ''}; legacy ${m.legacyStatus}, modern ${m.modernStatus})`);
        for (const d of m.differences)
          out(
            `  ${d.path}: legacy ${JSON.stringify(d.legacy) ?? '(absent)'}, modern ${JSON.stringify(d.modern) ?? '(absent)'}${d.kind === 'changed' ? '' : ` [${d.kind}]`}${d.noisy ? ' [noisy]' : ''}`,
          );
      }
    }),
  );

  adminOptions(routes.command('noise').argument('<operationId>').description('paths that differ between two answers of legacy itself (ignore them with: routes ignore --noisy)')).action(
    runCommand('routes', async (operationId: string, opts: AdminOptions) => {
      const r = (await callAdmin(opts, 'GET', `/routes/${encodeURIComponent(operationId)}/noise`)) as { noisy: { path: string; seen: number }[]; ignore: string[] };
      if (opts.json) return out(JSON.stringify(r, null, 2));
      if (r.noisy.length === 0) out(`${operationId}: no noisy paths seen`);
      for (const n of r.noisy) out(`${n.path}  (seen ${n.seen}×)${r.ignore.includes(n.path) ? '  ignored' : ''}`);
    }),
  );

  adminOptions(
    routes
      .command('ignore')
      .argument('<operationId>')
      .argument('[paths...]', "JSON paths to ignore in comparisons, e.g. '$.items[*].updatedAt'")
      .option('--noisy', 'ignore every path found noisy on this route', false)
      .option('--remove <paths...>', 'stop ignoring these paths')
      .requiredOption('--reason <text>', 'why (goes into the audit log)')
      .description("change a route's comparison ignore rules"),
  ).action(
    runCommand('routes', async (operationId: string, paths: string[], opts: AdminOptions & { noisy: boolean; remove?: string[]; reason: string }) => {
      const r = (await callAdmin(opts, 'POST', `/routes/${encodeURIComponent(operationId)}/ignore`, { add: paths, remove: opts.remove ?? [], noisy: opts.noisy, reason: opts.reason })) as RouteView;
      if (opts.json) return out(JSON.stringify(r, null, 2));
      out(`${operationId}: ignoring ${[...r.compare.ignore.config, ...r.compare.ignore.runtime].join(', ') || 'nothing'}`);
    }),
  );

  adminOptions(
    routes
      .command('gates')
      .argument('<operationId>')
      .addOption(new Option('--pause', 'stop automatic moves').conflicts('resume'))
      .addOption(new Option('--resume', 'let the gates move the route again'))
      .requiredOption('--reason <text>', 'why (goes into the audit log)')
      .description("pause or resume a route's promotion and rollback gates"),
  ).action(
    runCommand('routes', async (operationId: string, opts: AdminOptions & { pause?: boolean; resume?: boolean; reason: string }) => {
      if (!opts.pause && !opts.resume) throw new CliExit(EXIT.usage, 'say --pause or --resume');
      const r = (await callAdmin(opts, 'PUT', `/routes/${encodeURIComponent(operationId)}/gates`, { paused: opts.pause === true, reason: opts.reason })) as RouteView;
      if (opts.json) return out(JSON.stringify(r, null, 2));
      out(`${operationId}: gates ${r.gates?.paused ? 'paused' : 'active'}`);
    }),
  );

  adminOptions(routes.command('audit').argument('[operationId]').option('--limit <n>', 'how many, newest first', '20').description('who switched what, when, from what, to what, and why')).action(
    runCommand('routes', async (operationId: string | undefined, opts: AdminOptions & { limit: string }) => {
      const q = new URLSearchParams({ limit: opts.limit, ...(operationId ? { operationId } : {}) });
      const r = (await callAdmin(opts, 'GET', `/audit?${q}`)) as {
        entries: { at: string; actor: string; automatic: boolean; operationId: string; action: string; from: string | null; to: string | null; reason: string }[];
      };
      if (opts.json) return out(JSON.stringify(r, null, 2));
      if (r.entries.length === 0) return out('no audit entries');
      out(
        table([
          ['WHEN', 'WHO', 'ROUTE', 'CHANGE', 'WHY'],
          ...r.entries.map((e) => [e.at, e.automatic ? `${e.actor} (auto)` : e.actor, e.operationId, `${e.action}: ${e.from ?? '-'} → ${e.to ?? '-'}`, e.reason]),
        ]),
      );
    }),
  );
}
