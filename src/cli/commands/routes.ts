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

export const EXIT = { ok: 0, usage: 2, unreachable: 3, refused: 4, failed: 5 } as const;

interface Common {
  url?: string;
  token?: string;
  json?: boolean;
}

class CliExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Problem {
  title?: string;
  detail?: string;
  status?: number;
  errors?: { field: string; message: string }[];
}

async function call(opts: Common, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = (opts.url ?? process.env.FICUS_ADMIN_URL ?? '').replace(/\/+$/, '');
  const token = opts.token ?? process.env.FICUS_ADMIN_TOKEN;
  if (!base) throw new CliExit(EXIT.usage, 'no admin API URL: set FICUS_ADMIN_URL (e.g. http://127.0.0.1:8090) or pass --url');
  if (!token) throw new CliExit(EXIT.usage, 'no admin token: set FICUS_ADMIN_TOKEN to one of the gateway\'s FICUS_ADMIN_TOKENS, or pass --token');
  let res: Response;
  try {
    res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CliExit(EXIT.unreachable, `cannot reach the admin API at ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    throw new CliExit(EXIT.failed, `the admin API at ${base} answered ${res.status} with something that is not JSON (is --url the admin port?)`);
  }
  if (!res.ok) {
    const p = (parsed ?? {}) as Problem;
    const lines = [`${res.status} ${p.title ?? res.statusText}${p.detail ? `: ${p.detail}` : ''}`];
    for (const e of p.errors ?? []) if (!p.detail?.includes(e.message)) lines.push(`  ${e.field}: ${e.message}`);
    if (opts.json) process.stdout.write(JSON.stringify(parsed, null, 2) + '\n');
    throw new CliExit(res.status >= 500 ? EXIT.failed : EXIT.refused, lines.join('\n') + (res.status < 500 ? '\nnothing was changed' : ''));
  }
  return parsed;
}

function common(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'admin API URL (default: $FICUS_ADMIN_URL)')
    .option('--token <token>', 'admin token (default: $FICUS_ADMIN_TOKEN)')
    .option('--json', 'print the admin API\'s JSON answer, for scripts', false);
}

function run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
      process.exitCode = EXIT.ok;
    } catch (err) {
      if (!(err instanceof CliExit)) throw err;
      process.stderr.write(`ficus routes: ${err.message}\n`);
      process.exitCode = err.code;
    }
  };
}

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
  for (const [name, b] of [['legacy', r.legacy], ['modern', r.modern]] as const) {
    out(`  ${name.padEnd(11)} ${b ? `${backendText(b)}: ${b.figures.calls} calls, errors ${num(b.figures.errorRate5m, '%')} (5 min), p50 ${num(b.figures.p50Ms, ' ms')}` : '-'}`);
  }
  out(`  traffic     modern answered ${num(r.modernShare, '%')} of calls; ${r.fallbacks} fallbacks to legacy`);
  out(`  shadow      ${r.shadow.compared} compared, ${r.shadow.mismatched} mismatched, match rate ${num(r.shadow.matchRate, '%')}`);
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

  common(routes.command('list').description('every route: mode, backends, traffic, shadow match rate')).action(
    run(async (opts: Common) => {
      const [list, overview] = (await Promise.all([call(opts, 'GET', '/routes'), call(opts, 'GET', '/overview')])) as [{ routes: RouteView[] }, { progress: number; modernShare: number | null; byMode: Record<string, number> }];
      if (opts.json) return out(JSON.stringify(list, null, 2));
      const rows = [['OPERATION', 'MODE', 'LEGACY', 'MODERN', 'MODERN SHARE', 'MATCH RATE', 'MISMATCHES', 'GATES']];
      for (const r of list.routes) {
        rows.push([r.operationId, r.state, backendText(r.legacy), backendText(r.modern), num(r.modernShare, '%'), num(r.shadow.matchRate, '%'), String(r.shadow.mismatched), r.gates ? (r.gates.paused ? 'paused' : 'active') : '-']);
      }
      out(table(rows));
      out(`\nmigration ${overview.progress}% done; modern answered ${num(overview.modernShare, '%')} of calls; ${Object.entries(overview.byMode).filter(([, n]) => n > 0).map(([m, n]) => `${n} ${m}`).join(', ')}`);
    }),
  );

  common(routes.command('show').argument('<operationId>').description('one route in detail')).action(
    run(async (operationId: string, opts: Common) => {
      const r = (await call(opts, 'GET', `/routes/${encodeURIComponent(operationId)}`)) as RouteView;
      if (opts.json) return out(JSON.stringify(r, null, 2));
      printRoute(r);
    }),
  );

  common(
    routes
      .command('set')
      .argument('<operationId>')
      .description('switch a route\'s mode (audited with your token\'s name and the reason)')
      .addOption(new Option('--mode <mode>', 'the new mode').choices(['legacy', 'shadow', 'canary', 'fallback', 'modern']).makeOptionMandatory())
      .option('--percent <n>', 'canary: share of calls to modern, 0-100')
      .requiredOption('--reason <text>', 'why (goes into the audit log)'),
  ).action(
    run(async (operationId: string, opts: Common & { mode: string; percent?: string; reason: string }) => {
      const percent = opts.percent === undefined ? undefined : Number(opts.percent);
      if (percent !== undefined && !Number.isFinite(percent)) throw new CliExit(EXIT.usage, `--percent must be a number from 0 to 100, not "${opts.percent}"`);
      const r = (await call(opts, 'PUT', `/routes/${encodeURIComponent(operationId)}/mode`, { mode: opts.mode, ...(percent === undefined ? {} : { percent }), reason: opts.reason })) as { changed: boolean; from: string; to: string };
      if (opts.json) return out(JSON.stringify(r, null, 2));
      out(r.changed ? `${operationId}: ${r.from} → ${r.to}` : `${operationId}: already ${r.to}; nothing changed`);
    }),
  );

  common(routes.command('mismatches').argument('<operationId>').option('--limit <n>', 'how many, newest first', '10').description('a route\'s latest shadow mismatches with their diffs')).action(
    run(async (operationId: string, opts: Common & { limit: string }) => {
      const r = (await call(opts, 'GET', `/routes/${encodeURIComponent(operationId)}/mismatches?limit=${encodeURIComponent(opts.limit)}`)) as {
        mismatches: { at: string; request: string; requestId: string; legacyStatus: number; modernStatus: number; differences: { path: string; legacy: unknown; modern: unknown; kind: string; noisy?: boolean }[] }[];
      };
      if (opts.json) return out(JSON.stringify(r, null, 2));
      if (r.mismatches.length === 0) return out(`${operationId}: no mismatches recorded`);
      for (const m of r.mismatches) {
        out(`${m.at}  ${m.request}  (request ${m.requestId}; legacy ${m.legacyStatus}, modern ${m.modernStatus})`);
        for (const d of m.differences) out(`  ${d.path}: legacy ${JSON.stringify(d.legacy) ?? '(absent)'}, modern ${JSON.stringify(d.modern) ?? '(absent)'}${d.kind === 'changed' ? '' : ` [${d.kind}]`}${d.noisy ? ' [noisy]' : ''}`);
      }
    }),
  );

  common(routes.command('noise').argument('<operationId>').description('paths that differ between two answers of legacy itself (ignore them with: routes ignore --noisy)')).action(
    run(async (operationId: string, opts: Common) => {
      const r = (await call(opts, 'GET', `/routes/${encodeURIComponent(operationId)}/noise`)) as { noisy: { path: string; seen: number }[]; ignore: string[] };
      if (opts.json) return out(JSON.stringify(r, null, 2));
      if (r.noisy.length === 0) out(`${operationId}: no noisy paths seen`);
      for (const n of r.noisy) out(`${n.path}  (seen ${n.seen}×)${r.ignore.includes(n.path) ? '  ignored' : ''}`);
    }),
  );

  common(
    routes
      .command('ignore')
      .argument('<operationId>')
      .argument('[paths...]', 'JSON paths to ignore in comparisons, e.g. \'$.items[*].updatedAt\'')
      .option('--noisy', 'ignore every path found noisy on this route', false)
      .option('--remove <paths...>', 'stop ignoring these paths')
      .requiredOption('--reason <text>', 'why (goes into the audit log)')
      .description('change a route\'s comparison ignore rules'),
  ).action(
    run(async (operationId: string, paths: string[], opts: Common & { noisy: boolean; remove?: string[]; reason: string }) => {
      const r = (await call(opts, 'POST', `/routes/${encodeURIComponent(operationId)}/ignore`, { add: paths, remove: opts.remove ?? [], noisy: opts.noisy, reason: opts.reason })) as RouteView;
      if (opts.json) return out(JSON.stringify(r, null, 2));
      out(`${operationId}: ignoring ${[...r.compare.ignore.config, ...r.compare.ignore.runtime].join(', ') || 'nothing'}`);
    }),
  );

  common(
    routes
      .command('gates')
      .argument('<operationId>')
      .addOption(new Option('--pause', 'stop automatic moves').conflicts('resume'))
      .addOption(new Option('--resume', 'let the gates move the route again'))
      .requiredOption('--reason <text>', 'why (goes into the audit log)')
      .description('pause or resume a route\'s promotion and rollback gates'),
  ).action(
    run(async (operationId: string, opts: Common & { pause?: boolean; resume?: boolean; reason: string }) => {
      if (!opts.pause && !opts.resume) throw new CliExit(EXIT.usage, 'say --pause or --resume');
      const r = (await call(opts, 'PUT', `/routes/${encodeURIComponent(operationId)}/gates`, { paused: opts.pause === true, reason: opts.reason })) as RouteView;
      if (opts.json) return out(JSON.stringify(r, null, 2));
      out(`${operationId}: gates ${r.gates?.paused ? 'paused' : 'active'}`);
    }),
  );

  common(routes.command('audit').argument('[operationId]').option('--limit <n>', 'how many, newest first', '20').description('who switched what, when, from what, to what, and why')).action(
    run(async (operationId: string | undefined, opts: Common & { limit: string }) => {
      const q = new URLSearchParams({ limit: opts.limit, ...(operationId ? { operationId } : {}) });
      const r = (await call(opts, 'GET', `/audit?${q}`)) as { entries: { at: string; actor: string; automatic: boolean; operationId: string; action: string; from: string | null; to: string | null; reason: string }[] };
      if (opts.json) return out(JSON.stringify(r, null, 2));
      if (r.entries.length === 0) return out('no audit entries');
      out(table([['WHEN', 'WHO', 'ROUTE', 'CHANGE', 'WHY'], ...r.entries.map((e) => [e.at, e.automatic ? `${e.actor} (auto)` : e.actor, e.operationId, `${e.action}: ${e.from ?? '-'} → ${e.to ?? '-'}`, e.reason])]));
    }),
  );
}
