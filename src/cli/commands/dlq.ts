/**
 * `ficus dlq …`: the dead-letter queue from a terminal, through the admin API.
 *
 *   ficus dlq list [--operation createOrder] [--reason exhausted] [--older-than 2h] [--error-contains timeout]
 *   ficus dlq show <id>
 *   ficus dlq replay <id>            ficus dlq replay --operation createOrder --error-contains "timed out"
 *   ficus dlq expire <id>            ficus dlq expire --older-than 30d
 *   ficus dlq stats
 *
 * The admin API's URL and token come from FICUS_ADMIN_URL and FICUS_ADMIN_TOKEN, or --url/--token.
 * `--json` prints the API's answer as is. Exit codes: 0 done; 2 bad usage; 3 the admin API cannot be
 * reached; 4 it refused the request (unknown id, bad filter, wrong token), nothing changed; 5 it failed.
 */
import type { Command } from 'commander';
import { CliExit, EXIT, adminOptions, callAdmin, runCommand, type AdminOptions } from '../admin-client.ts';

interface FilterOpts extends AdminOptions {
  operation?: string;
  reason?: string;
  state?: string;
  olderThan?: string;
  errorContains?: string;
  limit?: string;
  all?: boolean;
}

function filters(cmd: Command): Command {
  return cmd
    .option('--operation <operationId>', 'only dead letters of this operation')
    .option('--reason <reason>', 'only this reason: exhausted, rejected or quarantined')
    .option('--older-than <duration>', 'only those dead for at least this long: 90s, 15m, 2h, 3d')
    .option('--error-contains <text>', "only those with an attempt's error containing this text");
}

function filterBody(o: FilterOpts): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  if (o.operation) f.operation = o.operation;
  if (o.reason) f.reason = o.reason;
  if (o.olderThan) f.olderThan = o.olderThan;
  if (o.errorContains) f.errorContains = o.errorContains;
  if (o.all && f.olderThan === undefined) f.olderThan = 0;
  return f;
}

function age(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86_400)}d`;
}

interface Summary {
  id: string;
  operation: string;
  reason: string;
  state: string;
  attempts: number;
  ageSeconds: number;
  lastError?: string;
}

function table(items: Summary[]): string {
  if (items.length === 0) return 'no dead letters match';
  const rows = [
    ['ID', 'OPERATION', 'REASON', 'STATE', 'ATTEMPTS', 'AGE', 'LAST ERROR'],
    ...items.map((d) => [d.id, d.operation, d.reason, d.state, String(d.attempts), age(d.ageSeconds), (d.lastError ?? '').slice(0, 80)]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

const run = (fn: () => Promise<void>): Promise<void> => runCommand('dlq', fn)();
const print = (o: AdminOptions, value: unknown, text: () => string) => process.stdout.write((o.json ? JSON.stringify(value, null, 2) : text()) + '\n');

export function register(program: Command): void {
  const dlq = program.command('dlq').description('the dead-letter queue: writes that could not be delivered, and quarantined batch records');

  filters(adminOptions(dlq.command('list').description('list dead letters (oldest first)')))
    .option('--state <state>', 'dead (default), replayed, expired or all')
    .option('--limit <n>', 'at most this many', '100')
    .action((o: FilterOpts) =>
      run(async () => {
        const q = new URLSearchParams({ ...(filterBody(o) as Record<string, string>), limit: o.limit ?? '100', ...(o.state ? { state: o.state } : {}) });
        const out = (await callAdmin(o, 'GET', `/dlq?${q.toString()}`)) as { items: Summary[] };
        print(o, out, () => table(out.items));
      }),
    );

  adminOptions(dlq.command('show <id>').description("one dead letter: its request and every attempt's error")).action((id: string, o: AdminOptions) =>
    run(async () => {
      const d = (await callAdmin(o, 'GET', `/dlq/${encodeURIComponent(id)}`)) as Summary & {
        acceptedAt: string;
        deadAt: string;
        idempotencyKey?: string;
        consumer?: string;
        request: { body: unknown };
        errors: { attempt: number; at: string; status?: number; error: string }[];
      };
      print(o, d, () =>
        [
          `${d.id}  ${d.operation}  ${d.reason}  ${d.state}`,
          `  accepted ${d.acceptedAt}, dead since ${d.deadAt} (${age(d.ageSeconds)}), ${d.attempts} attempt(s)${d.idempotencyKey ? `, idempotency key ${d.idempotencyKey}` : ''}${d.consumer !== undefined ? `, consumer ${d.consumer}` : ''}`,
          '  attempts:',
          ...d.errors.map((e) => `    #${e.attempt} ${e.at}${e.status ? ` ${e.status}` : ''}  ${e.error}`),
          '  request body:',
          ...JSON.stringify(d.request.body, null, 2)
            .split('\n')
            .map((l) => `    ${l}`),
        ].join('\n'),
      );
    }),
  );

  for (const action of ['replay', 'expire'] as const) {
    filters(
      adminOptions(
        dlq
          .command(`${action} [id]`)
          .description(
            action === 'replay' ? 'put dead letters back into the outbox: one by id, or all matching the filters' : 'give up on dead letters for good: one by id, or all matching the filters',
          ),
      ),
    )
      .option('--all', `${action} every dead letter`, false)
      .action((id: string | undefined, o: FilterOpts) =>
        run(async () => {
          const f = filterBody(o);
          if (id !== undefined && Object.keys(f).length > 0) throw new CliExit(EXIT.usage, `give an id or filters, not both`);
          if (id === undefined && Object.keys(f).length === 0)
            throw new CliExit(EXIT.usage, `say which dead letters: an id, a filter (--operation, --reason, --older-than, --error-contains) or --all`);
          const out = (await callAdmin(o, 'POST', id !== undefined ? `/dlq/${encodeURIComponent(id)}/${action}` : `/dlq/${action}`, id !== undefined ? undefined : f)) as {
            replayed?: string[];
            expired?: string[];
            skipped?: { id: string; why: string }[];
          };
          const done = (action === 'replay' ? out.replayed : out.expired) ?? [];
          print(o, out, () =>
            [
              `${action === 'replay' ? 'replayed' : 'expired'} ${done.length} dead letter(s)${done.length > 0 ? `: ${done.join(', ')}` : ''}`,
              ...(out.skipped ?? []).map((s) => `  skipped ${s.id}: ${s.why}`),
            ].join('\n'),
          );
        }),
      );
  }

  adminOptions(dlq.command('stats').description('depth and age of the dead-letter queue, and of the outbox')).action((o: AdminOptions) =>
    run(async () => {
      const s = (await callAdmin(o, 'GET', '/dlq/stats')) as { depth: number; oldestAgeSeconds: number; outboxPending: number; outboxOldestAgeSeconds: number };
      print(o, s, () => `dead letters: ${s.depth} (oldest ${age(s.oldestAgeSeconds)})\noutbox:       ${s.outboxPending} waiting (oldest ${age(s.outboxOldestAgeSeconds)})`);
    }),
  );
}
