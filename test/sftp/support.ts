/**
 * Test support for the sftp kind: a throw-away project (the shipped adapters/mainframe-files
 * adapter and a contract cut down to its operations) and the sample mainframe's parts (batch job,
 * export) running against either a real OpenSSH server or the in-process SFTP server.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { PROJECT_ROOT } from '../helpers/gateway.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { startBatchJob, type BatchJob } from '../../sample/mainframe/batch-job.ts';
import { sampleCatalogue, type CatalogueProduct } from '../../sample/mainframe/catalogue.ts';
import { startSftpServer, type RunningSftpServer } from '../../sample/mainframe/sftp-server.ts';

export const SFTP_OPERATIONS = ['/orders', '/orders/batch', '/orders/{orderId}', '/products', '/products/{sku}'];

/** A project folder with ficus.yaml, a contract of the sftp operations and the shipped mainframe adapter. */
export function makeProject(opts: { auth: 'password' | 'key'; adapterEdits?: (yamlText: string) => string }): { root: string; dispose(): void } {
  const root = mkdtempSync(join(tmpdir(), 'ficus-sftp-project-'));
  const contract = parse(readFileSync(join(PROJECT_ROOT, 'openapi.yaml'), 'utf8')) as { paths: Record<string, unknown> };
  contract.paths = Object.fromEntries(Object.entries(contract.paths).filter(([p]) => SFTP_OPERATIONS.includes(p)));
  writeFileSync(join(root, 'openapi.yaml'), stringify(contract));
  writeFileSync(join(root, 'ficus.yaml'), stringify({ server: { port: 0, host: '127.0.0.1' }, log: { level: 'silent' }, state: { driver: 'sqlite', file: 'var/state.db' } }));
  mkdirSync(join(root, 'adapters'));
  cpSync(join(PROJECT_ROOT, 'adapters', 'mainframe-files'), join(root, 'adapters', 'mainframe-files'), { recursive: true });
  const adapterFile = join(root, 'adapters', 'mainframe-files', 'adapter.yaml');
  let text = readFileSync(adapterFile, 'utf8');
  if (opts.auth === 'key') text = text.replace('password: ${env:MAINFRAME_SFTP_PASSWORD}', 'privateKey: ${env:MAINFRAME_SFTP_PRIVATE_KEY}');
  if (opts.adapterEdits) text = opts.adapterEdits(text);
  writeFileSync(adapterFile, text);
  return { root, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

export interface Mainframe {
  kind: 'openssh' | 'in-process';
  /** The folder the SFTP server serves (the batch job and export work in it directly). */
  root: string;
  env: Record<string, string>;
  job: BatchJob;
  catalogue: CatalogueProduct[];
  sshd?: Sshd;
  server?: RunningSftpServer;
  /** Cuts every SFTP session (the server keeps listening). */
  drop(): Promise<void>;
  stop(): Promise<void>;
}

/** The mainframe's file drop on a real OpenSSH server or the in-process one, with the batch job watching it. */
export async function startMainframe(kind: 'openssh' | 'in-process', opts: { replyDelayMs?: number; rejectRate?: number } = {}): Promise<Mainframe> {
  const catalogue = sampleCatalogue();
  if (kind === 'openssh') {
    const sshd = await startSshd();
    const job = startBatchJob({ root: sshd.root, catalogue, replyDelayMs: opts.replyDelayMs ?? 50, rejectRate: opts.rejectRate ?? 0, pollMs: 20 });
    return {
      kind,
      root: sshd.root,
      sshd,
      job,
      catalogue,
      env: {
        MAINFRAME_SFTP_HOST: sshd.host,
        MAINFRAME_SFTP_PORT: String(sshd.port),
        MAINFRAME_SFTP_USER: sshd.username,
        MAINFRAME_SFTP_PRIVATE_KEY: sshd.privateKey,
        MAINFRAME_SFTP_KNOWN_HOSTS: sshd.knownHostsFile,
        MAINFRAME_POLL_INTERVAL_MS: '25',
        MAINFRAME_REPLY_TIMEOUT_MS: '1000',
      },
      drop: () => sshd.dropSessions(),
      async stop() {
        await job.stop();
        await sshd.dispose();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'ficus-mainframe-'));
  const root = join(dir, 'files');
  const password = 'test-password-1';
  const server = await startSftpServer({ root, username: 'ficus', password });
  writeFileSync(join(dir, 'known_hosts'), server.hostKeyLine + '\n');
  const job = startBatchJob({ root, catalogue, replyDelayMs: opts.replyDelayMs ?? 50, rejectRate: opts.rejectRate ?? 0, pollMs: 20 });
  return {
    kind,
    root,
    server,
    job,
    catalogue,
    env: {
      MAINFRAME_SFTP_HOST: server.host,
      MAINFRAME_SFTP_PORT: String(server.port),
      MAINFRAME_SFTP_USER: 'ficus',
      MAINFRAME_SFTP_PASSWORD: password,
      MAINFRAME_SFTP_KNOWN_HOSTS: join(dir, 'known_hosts'),
      MAINFRAME_POLL_INTERVAL_MS: '25',
      MAINFRAME_REPLY_TIMEOUT_MS: '1000',
    },
    async drop() {
      server.dropConnections();
    },
    async stop() {
      await job.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
