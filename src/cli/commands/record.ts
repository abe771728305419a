/**
 * `ficus record …`: recording of exchanges for replay.
 *
 *   ficus record start getCustomer --sample 0.1 --for 1h    through the admin API of a running gateway
 *   ficus record stop getCustomer
 *   ficus record status
 *   ficus record capture recordings/sample-traffic.txt --sample-estate
 *        starts the project's gateway here, records every operation the traffic file calls, sends
 *        the file's requests through it, and writes the recording (how recordings/ was made)
 *
 * The admin API's URL and token come from FICUS_ADMIN_URL and FICUS_ADMIN_TOKEN, or --url/--token.
 * Exit codes: 0 done; 2 bad usage; 3 the admin API cannot be reached; 4 it refused; 5 it failed.
 */
import type { Command } from 'commander';
import { CliExit, EXIT, adminOptions, callAdmin, runCommand, type AdminOptions } from '../admin-client.ts';
import { resolve } from 'node:path';
import { Gateway } from '../../gateway.ts';
import type { RecorderStatus, RouteRecordingStatus } from '../../recording/recorder.ts';
import { readTrafficFile } from '../../recording/traffic-file.ts';
import { registerInterchange } from '../record-interchange.ts';

const out = (s: string): void => void process.stdout.write(s + '\n');

function routeLine(r: RouteRecordingStatus): string {
  const state = r.sample > 0 ? `on, ${Math.round(r.sample * 1000) / 10}% of calls${r.until ? ` until ${new Date(r.until).toISOString()}` : ''}` : 'off';
  return `${r.operationId.padEnd(24)} ${state.padEnd(40)} ${r.recorded} recorded, ${r.collapsed} duplicates collapsed, ${r.dropped} dropped`;
}

export function printStatus(s: RecorderStatus): void {
  if (s.routes.length === 0) out('no route is being recorded');
  for (const r of s.routes) out(routeLine(r));
  out(`queue ${s.queued}/${s.queueLimit}; ${s.dropped} dropped in all${s.failedWrites ? `; ${s.failedWrites} failed writes` : ''}`);
  for (const f of s.findings) out(`found ${f.kind} in unmarked field ${f.operationId} ${f.path} (${f.count}×; hashed) — mark it x-ficus-sensitive or add it to recording.redact`);
}

export function register(program: Command): void {
  const record = program.command('record').description('record exchanges for replay (admin API: FICUS_ADMIN_URL, FICUS_ADMIN_TOKEN)');
  registerInterchange(record);

  adminOptions(
    record
      .command('start')
      .argument('<operationId>')
      .option('--sample <rate>', 'share of calls recorded, above 0 up to 1', '1')
      .option('--for <duration>', 'stop by itself after this long, e.g. 30m, 1h')
      .description('start recording an operation on a running gateway'),
  ).action(
    runCommand('record', async (operationId: string, opts: AdminOptions & { sample: string; for?: string }) => {
      const sample = Number(opts.sample);
      if (!(sample > 0 && sample <= 1)) throw new CliExit(EXIT.usage, `--sample must be above 0 and at most 1 (0.1 records one call in ten), not "${opts.sample}"`);
      const r = (await callAdmin(opts, 'POST', `/recording/${encodeURIComponent(operationId)}/start`, { sample, ...(opts.for ? { for: opts.for } : {}) })) as RouteRecordingStatus;
      if (opts.json) return out(JSON.stringify(r, null, 2));
      out(routeLine(r));
    }),
  );

  adminOptions(record.command('stop').argument('<operationId>').description('stop recording an operation')).action(
    runCommand('record', async (operationId: string, opts: AdminOptions) => {
      const r = (await callAdmin(opts, 'POST', `/recording/${encodeURIComponent(operationId)}/stop`)) as { stopped: boolean };
      if (opts.json) return out(JSON.stringify(r, null, 2));
      out(r.stopped ? `${operationId}: recording stopped` : `${operationId}: was not being recorded`);
    }),
  );

  adminOptions(record.command('status').description('what is being recorded, counts, drops and findings')).action(
    runCommand('record', async (opts: AdminOptions) => {
      const s = (await callAdmin(opts, 'GET', '/recording')) as RecorderStatus;
      if (opts.json) return out(JSON.stringify(s, null, 2));
      printStatus(s);
    }),
  );

  record
    .command('capture')
    .argument('<traffic-file>', 'requests to send, one a line: METHOD /path [JSON body]')
    .option('-c, --config <file>', 'gateway config file', 'ficus.yaml')
    .option('-r, --root <dir>', 'project folder', '.')
    .option('--sample-estate', 'start the bundled sample estate and point the adapters at it', false)
    .description("record a traffic file's requests through the project's gateway, started here")
    .action(
      runCommand('record', async (trafficFile: string, opts: { config: string; root: string; sampleEstate: boolean }) => {
        let requests;
        try {
          requests = readTrafficFile(trafficFile);
        } catch (err) {
          throw new CliExit(EXIT.usage, (err as Error).message);
        }
        const root = resolve(opts.root);
        const env: Record<string, string | undefined> = { ...process.env };
        let estate: { stop(): Promise<void> } | undefined;
        if (opts.sampleEstate) {
          const { startSampleEstate } = await import('../../../sample/estate.ts');
          const running = await startSampleEstate({ root });
          estate = running;
          for (const [k, v] of Object.entries(running.env)) if (env[k] === undefined) env[k] = v;
        }
        try {
          const gateway = await Gateway.create({ root, file: opts.config, env, processMetrics: false });
          try {
            const base = await gateway.listen(0, '127.0.0.1');
            const find = (r: { method: string; path: string }) =>
              gateway.routes.all().find((x) => x.operation.method === r.method.toLowerCase() && new RegExp(`^${x.operation.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(r.path.split('?')[0]));
            for (const r of requests) {
              const route = find(r);
              if (!route) throw new CliExit(EXIT.usage, `${trafficFile}:${r.line}: no operation of the contract answers ${r.method} ${r.path}`);
              if (!gateway.recorder.isRecording(route.operationId)) gateway.recorder.start(route.operationId, 1);
            }
            const statuses = new Map<number, number>();
            for (const r of requests) {
              const res = await fetch(base + r.path, {
                method: r.method,
                headers: { accept: 'application/json', ...(r.body === undefined ? {} : { 'content-type': 'application/json' }) },
                body: r.body === undefined ? undefined : JSON.stringify(r.body),
              });
              await res.arrayBuffer();
              statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            }
            await gateway.recorder.flush();
            const status = gateway.recorder.status();
            out(`sent ${requests.length} requests (${[...statuses].map(([s, n]) => `${n}× ${s}`).join(', ')})`);
            printStatus(status);
          } finally {
            await gateway.close(1_000);
          }
        } finally {
          await estate?.stop();
        }
      }),
    );
}
