/**
 * `ficus events …` and `ficus backfill`: change feeds' events from a terminal, through the admin API.
 *
 *   ficus events list                                   subscriptions (webhooks, RabbitMQ)
 *   ficus events subscribe <name> <url> [--type customer.updated]...   a signed webhook; prints its secret once
 *   ficus events unsubscribe <name>
 *   ficus events feeds                                  each feed: rows read, events queued, quarantined, polls held back, watermark
 *   ficus events poll <feed>  |  ficus events sweep <feed>
 *   ficus events stats                                  deliveries by state
 *   ficus events dead [--limit n]                       deliveries out of attempts
 *   ficus events replay [--subscription name]          dead deliveries due again
 *   ficus events quarantine [--feed name]               rows the mapping could not read
 *   ficus backfill <feed> [--to <subscription>] [--rate n] [--restart]   every current row as events (resumable)
 *
 * URL and token from FICUS_ADMIN_URL / FICUS_ADMIN_TOKEN or --url/--token; --json prints the answer.
 * Exit codes as `ficus dlq`: 0 done; 2 bad usage; 3 admin API unreachable; 4 refused; 5 failed.
 */
import type { Command } from 'commander';
import { CliExit, EXIT, adminOptions, callAdmin, runCommand, type AdminOptions } from '../admin-client.ts';

const run = (fn: () => Promise<void>): Promise<void> => runCommand('events', fn)();
const print = (o: AdminOptions, value: unknown, text: () => string) => process.stdout.write((o.json ? JSON.stringify(value, null, 2) : text()) + '\n');

function table(rows: string[][]): string {
  if (rows.length <= 1) return '(none)';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

interface Sub {
  id: string;
  name: string;
  kind: string;
  url: string;
  exchange?: string;
  types?: string[];
  origin: string;
}

export function register(program: Command): void {
  const events = program.command('events').description("change feeds' events: subscriptions, deliveries, dead ones, quarantined rows");

  adminOptions(events.command('list').description('subscriptions: where events go')).action((o: AdminOptions) =>
    run(async () => {
      const out = (await callAdmin(o, 'GET', '/events/subscriptions')) as { items: Sub[] };
      print(o, out, () =>
        table([['NAME', 'KIND', 'WHERE', 'TYPES', 'FROM'], ...out.items.map((s) => [s.name, s.kind, s.exchange ? `${s.url} → ${s.exchange}` : s.url, s.types?.join(',') ?? 'all', s.origin])]),
      );
    }),
  );

  adminOptions(events.command('subscribe <name> <url>').description('subscribe a webhook (Standard Webhooks signatures); prints the secret to verify them with'))
    .option('--type <type>', 'only this event type (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action((name: string, url: string, o: AdminOptions & { type: string[] }) =>
      run(async () => {
        const out = (await callAdmin(o, 'POST', '/events/subscriptions', { name, url, ...(o.type.length > 0 ? { types: o.type } : {}) })) as Sub & { secret: string };
        print(o, out, () => `subscribed ${out.name} → ${out.url}\nsecret (verify webhook-signature with it; shown once): ${out.secret}`);
      }),
    );

  adminOptions(events.command('unsubscribe <name>').description('remove a subscription (its undelivered events are dropped)')).action((name: string, o: AdminOptions) =>
    run(async () => {
      await callAdmin(o, 'DELETE', `/events/subscriptions/${encodeURIComponent(name)}`);
      print(o, { unsubscribed: name }, () => `unsubscribed ${name}`);
    }),
  );

  adminOptions(events.command('feeds').description('change feeds: rows read, events queued, rows quarantined, polls held back by maxBacklog, watermark')).action((o: AdminOptions) =>
    run(async () => {
      const out = (await callAdmin(o, 'GET', '/events/feeds')) as { items: { name: string; rows: number; events: number; quarantined: number; heldBack: number; watermark?: string }[] };
      print(o, out, () =>
        table([
          ['FEED', 'ROWS READ', 'EVENTS', 'QUARANTINED', 'HELD BACK', 'WATERMARK'],
          ...out.items.map((f) => [f.name, String(f.rows), String(f.events), String(f.quarantined), String(f.heldBack), f.watermark ?? '(none yet)']),
        ]),
      );
    }),
  );

  for (const action of ['poll', 'sweep'] as const) {
    adminOptions(events.command(`${action} <feed>`).description(action === 'poll' ? 'read the changes of a feed now' : 'read every row of a feed now: deletes and changes the version missed')).action(
      (feed: string, o: AdminOptions) =>
        run(async () => {
          const out = (await callAdmin(o, 'POST', `/events/feeds/${encodeURIComponent(feed)}/${action}`)) as { queued: number };
          print(o, out, () => `${feed}: ${out.queued} event(s) queued`);
        }),
    );
  }

  adminOptions(events.command('stats').description('deliveries by state')).action((o: AdminOptions) =>
    run(async () => {
      const out = (await callAdmin(o, 'GET', '/events/stats')) as { deliveries: Record<string, number> };
      print(o, out, () => ['pending', 'delivering', 'delivered', 'dead'].map((s) => `${s.padEnd(11)} ${out.deliveries[s] ?? 0}`).join('\n'));
    }),
  );

  adminOptions(events.command('dead').description('deliveries that ran out of attempts'))
    .option('--limit <n>', 'at most this many', '100')
    .action((o: AdminOptions & { limit: string }) =>
      run(async () => {
        const out = (await callAdmin(o, 'GET', `/events/deliveries?state=dead&limit=${encodeURIComponent(o.limit)}`)) as {
          items: { id: string; subscription: string; key: string; type: string; attempts: number; lastError?: string }[];
        };
        print(o, out, () => table([['EVENT', 'KEY', 'TYPE', 'ATTEMPTS', 'LAST ERROR'], ...out.items.map((d) => [d.id, d.key, d.type, String(d.attempts), (d.lastError ?? '').slice(0, 80)])]));
      }),
    );

  adminOptions(events.command('replay').description('dead deliveries due again, with fresh attempts'))
    .option('--subscription <id>', 'only those of this subscription (its id)')
    .action((o: AdminOptions & { subscription?: string }) =>
      run(async () => {
        const out = (await callAdmin(o, 'POST', '/events/dead/replay', o.subscription ? { subscription: o.subscription } : {})) as { replayed: number };
        print(o, out, () => `replayed ${out.replayed} dead deliver${out.replayed === 1 ? 'y' : 'ies'}`);
      }),
    );

  adminOptions(events.command('quarantine').description('legacy rows the mapping could not read, with the reason'))
    .option('--feed <name>', 'only this feed')
    .action((o: AdminOptions & { feed?: string }) =>
      run(async () => {
        const out = (await callAdmin(o, 'GET', `/events/quarantine${o.feed ? `?feed=${encodeURIComponent(o.feed)}` : ''}`)) as {
          items: { feed: string; key: string; version: string; reason: string }[];
        };
        print(o, out, () => table([['FEED', 'KEY', 'VERSION', 'REASON'], ...out.items.map((q) => [q.feed, q.key, q.version, q.reason])]));
      }),
    );

  adminOptions(program.command('backfill <feed>').description('send every current row of a change feed as events (resumable: it goes on where it stopped)'))
    .option('--to <subscription>', 'only to this subscription (default: all)')
    .option('--rate <n>', 'at most this many rows a second (spare the legacy system)')
    .option('--restart', 'start again from the first row', false)
    .action((feed: string, o: AdminOptions & { to?: string; rate?: string; restart: boolean }) =>
      run(async () => {
        const perSecond = o.rate === undefined ? undefined : Number(o.rate);
        if (perSecond !== undefined && !(perSecond > 0)) throw new CliExit(EXIT.usage, `--rate must be a number above 0, not "${o.rate}"`);
        const out = (await callAdmin(o, 'POST', `/events/feeds/${encodeURIComponent(feed)}/backfill`, { ...(o.to ? { to: o.to } : {}), ...(perSecond ? { perSecond } : {}), restart: o.restart })) as {
          queued: number;
        };
        print(o, out, () => `${feed}: ${out.queued} event(s) queued${o.to ? ` for ${o.to}` : ''}`);
      }),
    );
}
