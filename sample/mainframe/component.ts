/**
 * The sample estate's mainframe: an in-process SFTP server over `mainframe/` in the run's folder, the
 * order entry batch job answering order files, and the nightly product export (written at start and
 * then every MAINFRAME_EXPORT_INTERVAL_MS, default one hour, with stock figures that move).
 * Tunables from the environment: MAINFRAME_REPLY_DELAY_MS (default 300), MAINFRAME_REJECT_RATE
 * (default 0.1). The adapter reads MAINFRAME_SFTP_HOST/PORT/USER/PASSWORD/KNOWN_HOSTS.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EstateComponent, StartedComponent } from '../estate.ts';
import { startBatchJob } from './batch-job.ts';
import { sampleCatalogue } from './catalogue.ts';
import { writeProductExport } from './product-export.ts';
import { startSftpServer } from './sftp-server.ts';

export interface MainframeOptions {
  dir: string;
  replyDelayMs?: number;
  rejectRate?: number;
  exportIntervalMs?: number;
  password?: string;
}

export async function startMainframe(opts: MainframeOptions) {
  const root = join(opts.dir, 'files');
  mkdirSync(root, { recursive: true });
  const catalogue = sampleCatalogue();
  writeProductExport(root, catalogue);
  let tick = 0;
  const exporter = setInterval(() => {
    tick++;
    writeProductExport(
      root,
      catalogue.map((p, i) => ({ ...p, stockQuantity: Math.max(0, p.stockQuantity + ((i + tick) % 5) - 2) })),
    );
  }, opts.exportIntervalMs ?? 3_600_000);
  exporter.unref();
  const job = startBatchJob({ root, catalogue, replyDelayMs: opts.replyDelayMs ?? 300, rejectRate: opts.rejectRate ?? 0.1 });
  const password = opts.password ?? randomBytes(12).toString('base64url');
  const server = await startSftpServer({ root, username: 'ficus', password });
  const knownHosts = join(opts.dir, 'known_hosts');
  writeFileSync(knownHosts, server.hostKeyLine + '\n');
  return {
    root,
    server,
    job,
    catalogue,
    env: {
      MAINFRAME_SFTP_HOST: server.host,
      MAINFRAME_SFTP_PORT: String(server.port),
      MAINFRAME_SFTP_USER: 'ficus',
      MAINFRAME_SFTP_PASSWORD: password,
      MAINFRAME_SFTP_KNOWN_HOSTS: knownHosts,
    },
    async stop() {
      clearInterval(exporter);
      await job.stop();
      await server.close();
    },
  };
}

export const mainframeComponent: EstateComponent = {
  name: 'mainframe (SFTP + batch job)',
  async start(opts): Promise<StartedComponent> {
    const env = process.env;
    const m = await startMainframe({
      dir: join(opts.dir ?? join(opts.root, 'var', 'sample'), 'mainframe'),
      replyDelayMs: env.MAINFRAME_REPLY_DELAY_MS ? Number(env.MAINFRAME_REPLY_DELAY_MS) : undefined,
      rejectRate: env.MAINFRAME_REJECT_RATE ? Number(env.MAINFRAME_REJECT_RATE) : undefined,
      exportIntervalMs: env.MAINFRAME_EXPORT_INTERVAL_MS ? Number(env.MAINFRAME_EXPORT_INTERVAL_MS) : undefined,
    });
    return { name: 'mainframe (SFTP + batch job)', url: `sftp://ficus@${m.server.host}:${m.server.port}`, env: m.env, stop: m.stop };
  },
};
