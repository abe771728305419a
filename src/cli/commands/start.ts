/**
 * `ficus start`: loads the config, starts the gateway, prints where everything is, stops on
 * SIGTERM/SIGINT. With `--workers N` (N > 1) this process becomes the cluster's primary
 * (src/cluster/primary.ts) and N worker processes, each this same command, serve the same ports
 * (the public port's connections handed to them by the primary, src/cluster/connection-balancer.ts).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ClusterPrimary } from '../../cluster/primary.ts';
import { WorkerLink, workerSlot } from '../../cluster/worker-link.ts';
import type { DashboardPart } from '../../control/dashboard-view.ts';
import { ConfigError, ConfigErrors } from '../../config/config-error.ts';
import { loadConfig, placeErrors } from '../../config/load-config.ts';
import { Gateway } from '../../gateway.ts';
import type { ScreenConnection } from '../../kinds/screen/screen-kind.ts';
import { createLogger } from '../../observability/logger.ts';
import { ConsumerError } from '../../security/consumer-store.ts';
import type { SecurityApi } from '../../security/security-feature.ts';

const PORT_RANGE = 'a whole number from 0 to 65535 (0: any free port)';

/** `--port`: checked by commander before anything starts. */
function parsePort(value: string): string {
  if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535) throw new InvalidArgumentError(`not a port: use ${PORT_RANGE}`);
  return value.trim();
}

/** PORT and FICUS_ADMIN_PORT (read by ficus.yaml), checked before anything starts, each named. */
function checkPortVariables(env: Record<string, string | undefined>, portFlag: boolean): void {
  const errors: ConfigError[] = [];
  for (const name of portFlag ? ['FICUS_ADMIN_PORT'] : ['PORT', 'FICUS_ADMIN_PORT']) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535) {
      errors.push(new ConfigError('environment', name, `${JSON.stringify(value)} is not a port`, `set ${name} to ${PORT_RANGE}, or unset it`));
    }
  }
  if (errors.length > 0) throw new ConfigErrors(errors);
}

/** `--workers`: a whole number from 1, checked by commander before anything starts. */
function parseWorkers(value: string): number {
  if (!/^\d{1,3}$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('not a number of workers: use a whole number from 1 (1: one process, no cluster)');
  return Number(value);
}

interface StartOptions {
  config: string;
  root: string;
  port?: string;
  host?: string;
  sample: boolean;
  grace: string;
  workers?: number;
}

/** What `--sample` starts beside the gateway (once, in the primary when there are workers). */
interface SampleParts {
  estate?: { stop(): Promise<void>; components: { name: string; url?: string }[] };
  issuer?: { jwksUrl: string; token: string; stop(): Promise<void> };
  adminToken?: string;
  stop(): Promise<void>;
}

/** With --sample: the simulated legacy estate, its token issuer and a fresh admin token, their settings put into `env`. */
async function startSample(opts: StartOptions, root: string, env: Record<string, string | undefined>): Promise<SampleParts> {
  const parts: SampleParts = {
    stop: async () => {
      await parts.estate?.stop();
      await parts.issuer?.stop();
    },
  };
  if (!opts.sample) return parts;
  const { startSampleEstate } = await import('../../../sample/estate.ts');
  // The customers' migration too: the modern customers service starts empty and is fed by the CRM's change feed.
  const running = await startSampleEstate({ root, migration: true });
  parts.estate = running;
  for (const [k, v] of Object.entries(running.env)) if (env[k] === undefined) env[k] = v;
  // The sample's token issuer (a JWKS on loopback) for the contract's bearer scheme.
  if (env.FICUS_JWKS_URL === undefined) {
    try {
      const { startSampleIssuer } = await import('../../../sample/sample-issuer.ts');
      parts.issuer = await startSampleIssuer();
    } catch (err) {
      await parts.stop();
      throw err;
    }
    env.FICUS_JWKS_URL = parts.issuer.jwksUrl;
    env.FICUS_SAMPLE_BEARER_TOKEN = parts.issuer.token;
  }
  // The sample gets an admin token of its own (fresh each start) so the dashboard and CLI work at once.
  if (!env.FICUS_ADMIN_TOKENS) {
    parts.adminToken = randomBytes(16).toString('hex');
    env.FICUS_ADMIN_TOKENS = `sample:${parts.adminToken}`;
    env.FICUS_SAMPLE_ADMIN_TOKEN = parts.adminToken;
  }
  return parts;
}

export function register(program: Command): void {
  program
    .command('start')
    .description('start the gateway (with --sample, the bundled simulated legacy estate too)')
    .option('-c, --config <file>', 'gateway config file', 'ficus.yaml')
    .option('-r, --root <dir>', 'project folder (openapi.yaml, adapters/)', '.')
    .option('-p, --port <port>', 'port to listen on (default: $PORT, then server.port, then 8080)', parsePort)
    .option('--host <host>', 'address to listen on')
    .option('--sample', 'also start the sample legacy estate and point the adapters at it', false)
    .option('--grace <ms>', 'how long shutdown waits for in-flight requests', '10000')
    .option('-w, --workers <n>', 'processes serving the same ports (node:cluster); default: the number of cores with NODE_ENV=production (not with --sample), else 1', parseWorkers)
    .action(async (opts: StartOptions) => {
      const root = resolve(opts.root);
      const env: Record<string, string | undefined> = { ...process.env };
      const slot = workerSlot();
      if (slot) {
        // A worker of a cluster: the primary checked everything and started the sample; this process serves.
        const link = new WorkerLink(slot);
        try {
          await serve(opts, root, env, { stop: async () => undefined, adminToken: env.FICUS_SAMPLE_ADMIN_TOKEN }, link);
        } catch (err) {
          link.close(); // so that the process ends once the error is reported (the primary sees the exit)
          throw err;
        }
        return;
      }
      checkPortVariables(env, opts.port !== undefined);
      const sample = await startSample(opts, root, env);
      let plan: { workers: number; logLevel: string };
      try {
        plan = await planWorkers(opts, root, env);
      } catch (err) {
        await sample.stop();
        throw err;
      }
      const workers = plan.workers;
      if (workers <= 1) {
        await serve(opts, root, env, sample, undefined);
        return;
      }
      const logger = createLogger({ level: plan.logLevel });
      const primary = new ClusterPrimary({
        workers,
        graceMs: Number(opts.grace),
        env,
        logger: logger.child({ component: 'cluster' }),
        out: (line) => {
          const lines = [line];
          if (sample.estate) lines.push('', '  Sample estate:', ...sample.estate.components.map((c) => `    ${c.name.padEnd(34)} ${c.url ?? ''}`));
          process.stdout.write(lines.join('\n') + '\n\n');
        },
      });
      // Run by an npm script (npm start): stop when npm goes, also when it could pass no signal on (killed).
      if (process.env.npm_lifecycle_event) {
        const parent = process.ppid;
        setInterval(() => {
          if (process.ppid !== parent) void primary.stop('parent process exited');
        }, 1_000).unref();
      }
      const code = await primary.run();
      await sample.stop();
      logger.flush();
      process.exit(code);
    });
}

/**
 * How many workers to fork, with the config checked first (once, here, rather than by every worker):
 * `--workers`, else the number of cores in production (NODE_ENV=production, as ops/ficus.env sets it;
 * not with --sample), else 1 (development and tests: one process). More than one needs a state store every
 * worker shares (not `:memory:`), and screen adapters whose `pool.size` gives each worker a page
 * at least (the pages are divided among the workers); by default the workers are capped at the
 * smallest such pool.
 */
async function planWorkers(opts: StartOptions, root: string, env: Record<string, string | undefined>): Promise<{ workers: number; logLevel: string }> {
  const asked = opts.workers ?? (env.NODE_ENV === 'production' && !opts.sample ? availableParallelism() : 1);
  if (asked <= 1) return { workers: 1, logLevel: 'info' };
  const config = await loadConfig({ root, file: opts.config, env });
  const errors: ConfigError[] = [];
  const state = config.gateway.state;
  if (state.driver === 'sqlite' && state.file === ':memory:')
    errors.push(
      new ConfigError(
        config.file,
        'state.file',
        `":memory:" is private to each process: ${asked} workers would not share their state (idempotency keys, outbox, route modes)`,
        'set state.file to a file (e.g. var/state.db), use PostgreSQL, or start with --workers 1',
      ),
    );
  const pools = config.adapters.filter((a) => a.kind.name === 'screen').map((a) => ({ file: a.file, size: (a.connection as ScreenConnection).pool.size }));
  let workers = asked;
  const smallest = Math.min(...pools.map((p) => p.size));
  if (opts.workers === undefined && smallest < workers) workers = smallest;
  for (const p of pools)
    if (p.size < workers)
      errors.push(
        new ConfigError(
          p.file,
          'connection.pool.size',
          `${p.size} pages cannot be shared by ${workers} workers (the pool is divided among the workers, and each needs one page at least)`,
          `set connection.pool.size to ${workers} or more, or start with --workers ${p.size}`,
        ),
      );
  if (errors.length > 0) throw new ConfigErrors(placeErrors(errors));
  return { workers, logLevel: config.gateway.log.level };
}

/** One gateway in this process: alone, or as a worker of a cluster (`link`). */
async function serve(opts: StartOptions, root: string, env: Record<string, string | undefined>, sample: SampleParts, link: WorkerLink | undefined): Promise<void> {
  const slot = link?.slot;
  // The primary may ask for a shutdown while this worker still starts: it is done once it can be.
  const shutdown: { stop?: (signal: string) => Promise<void>; asked?: string } = {};
  link?.onShutdown(() => (shutdown.stop ? void shutdown.stop('shutdown asked by the primary') : (shutdown.asked = 'shutdown asked by the primary')));
  let gateway: Gateway;
  try {
    gateway = await Gateway.create({
      root,
      file: opts.config,
      env,
      singletons: slot ? { lease: true, label: `w${slot.index}` } : undefined,
      startsAlone: slot ? slot.first : true,
    });
  } catch (err) {
    await sample.stop();
    throw err;
  }
  if (link) {
    const gw = gateway;
    link.serve(gw.metrics.registry);
    gw.metrics.exposition = () => link.metrics();
    link.serveDashboard(() => gw.control.dashboardPart());
    gw.control.workerParts = async () => (await link.dashboardParts()) as DashboardPart[];
    link.onWorkerExited((pid) => void gw.singletons.processEnded(pid));
  }
  // A port in use (or any listen error): say which address and what to do, stop everything started, fail.
  let url: string;
  try {
    // A worker of a cluster: the primary listens on the public port for every worker and hands each its share of the connections.
    url = await gateway.listen(opts.port !== undefined ? Number(opts.port) : undefined, opts.host, link);
    if (gateway.config.gateway.admin.enabled) await gateway.control.listen();
  } catch (err) {
    await gateway.close(0);
    await sample.stop();
    throw err;
  }
  if (!slot || slot.first) {
    const lines = [await gateway.banner(url)];
    if (slot)
      lines.push(
        '',
        `  Workers: ${slot.count} processes share these ports (node:cluster; the public port's connections go to the worker with the fewest open); one runs the singletons under a lease in the state store`,
      );
    if (sample.estate) lines.push('', '  Sample estate:', ...sample.estate.components.map((c) => `    ${c.name.padEnd(34)} ${c.url ?? ''}`));
    if (sample.adminToken && gateway.config.gateway.admin.enabled) {
      lines.push('', `  Admin token for this run (name "sample"): ${sample.adminToken}`, `    export FICUS_ADMIN_URL=${gateway.control.adminUrl ?? ''} FICUS_ADMIN_TOKEN=${sample.adminToken}`);
    }
    if (opts.sample) lines.push(...(await sampleCredentials(gateway, url, sample.issuer?.token ?? env.FICUS_SAMPLE_BEARER_TOKEN)));
    if (opts.sample) {
      const { startSampleMigration } = await import('../../../sample/migration.ts');
      lines.push(...(await startSampleMigration(gateway, env)));
    }
    process.stdout.write(lines.join('\n') + '\n\n');
  }
  let stopping = false;
  const gw = gateway;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    gw.logger.info({ signal }, 'shutting down');
    await gw.close(Number(opts.grace));
    await sample.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  shutdown.stop = stop;
  link?.ready();
  if (shutdown.asked) void stop(shutdown.asked);
  // Run by an npm script (npm start): stop when npm goes, also when it could pass no signal on (killed).
  // (A cluster's workers end with their primary, which watches npm.)
  if (process.env.npm_lifecycle_event && !slot) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) void stop('parent process exited');
    }, 1_000).unref();
  }
}

/** The sample's consumer and a fresh API key (the last one retired), and how to call with it and with the sample token. */
async function sampleCredentials(gateway: Gateway, url: string, token: string | undefined): Promise<string[]> {
  const security = gateway.feature<SecurityApi>('security');
  if (!security) return [];
  try {
    await security.consumers.addConsumer('sample-client', "the sample estate's consumer (npm start)");
  } catch (err) {
    if (!(err instanceof ConsumerError && err.reason === 'exists')) throw err;
  }
  const { key } = await security.consumers.rotate('sample-client', 0);
  const base = url.replace('0.0.0.0', '127.0.0.1');
  const body = `-H 'Content-Type: application/json' -d '{"line1":"12 Quay Street","city":"Bergen","postalCode":"5003"}'`;
  const out = [
    '',
    '  Sample API key (consumer "sample-client"; a new one each start):',
    `    export FICUS_SAMPLE_KEY=${key}`,
    `    curl -s -X PUT ${base}/accounts/A000002/billing-address -H "X-API-Key: $FICUS_SAMPLE_KEY" ${body}`,
  ];
  if (token)
    out.push(
      '  Sample bearer token (sub "sample-partner", scope billing:write, 12 h):',
      `    export FICUS_SAMPLE_TOKEN=${token}`,
      `    curl -s -X PUT ${base}/accounts/A000002/billing-address -H "Authorization: Bearer $FICUS_SAMPLE_TOKEN" ${body}`,
    );
  return out;
}
