/** `ficus start`: loads the config, starts the gateway, prints where everything is, stops on SIGTERM/SIGINT. */
import { InvalidArgumentError, type Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { ConfigError, ConfigErrors } from '../../config/config-error.ts';
import { Gateway } from '../../gateway.ts';
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
    .action(async (opts: { config: string; root: string; port?: string; host?: string; sample: boolean; grace: string }) => {
      const root = resolve(opts.root);
      const env: Record<string, string | undefined> = { ...process.env };
      checkPortVariables(env, opts.port !== undefined);
      let estate: { stop(): Promise<void>; components: { name: string; url?: string }[] } | undefined;
      if (opts.sample) {
        const { startSampleEstate } = await import('../../../sample/estate.ts');
        // The customers' migration too: the modern customers service starts empty and is fed by the CRM's change feed.
        const running = await startSampleEstate({ root, migration: true });
        estate = running;
        for (const [k, v] of Object.entries(running.env)) if (env[k] === undefined) env[k] = v;
      }
      // The sample's token issuer (a JWKS on loopback) for the contract's bearer scheme.
      let issuer: { jwksUrl: string; token: string; stop(): Promise<void> } | undefined;
      if (opts.sample && env.FICUS_JWKS_URL === undefined) {
        const { startSampleIssuer } = await import('../../../sample/sample-issuer.ts');
        issuer = await startSampleIssuer();
        env.FICUS_JWKS_URL = issuer.jwksUrl;
      }
      // The sample gets an admin token of its own (fresh each start) so the dashboard and CLI work at once.
      let sampleToken: string | undefined;
      if (opts.sample && !env.FICUS_ADMIN_TOKENS) {
        sampleToken = randomBytes(16).toString('hex');
        env.FICUS_ADMIN_TOKENS = `sample:${sampleToken}`;
      }
      let gateway: Gateway;
      try {
        gateway = await Gateway.create({ root, file: opts.config, env });
      } catch (err) {
        await estate?.stop();
        await issuer?.stop();
        throw err;
      }
      // A port in use (or any listen error): say which address and what to do, stop everything started, fail.
      let url: string;
      try {
        url = await gateway.listen(opts.port !== undefined ? Number(opts.port) : undefined, opts.host);
        if (gateway.config.gateway.admin.enabled) await gateway.control.listen();
      } catch (err) {
        await gateway.close(0);
        await estate?.stop();
        await issuer?.stop();
        throw err;
      }
      const lines = [await gateway.banner(url)];
      if (estate) lines.push('', '  Sample estate:', ...estate.components.map((c) => `    ${c.name.padEnd(34)} ${c.url ?? ''}`));
      if (sampleToken && gateway.config.gateway.admin.enabled) {
        lines.push('', `  Admin token for this run (name "sample"): ${sampleToken}`, `    export FICUS_ADMIN_URL=${gateway.control.adminUrl ?? ''} FICUS_ADMIN_TOKEN=${sampleToken}`);
      }
      if (opts.sample) lines.push(...(await sampleCredentials(gateway, url, issuer?.token)));
      if (opts.sample) {
        const { startSampleMigration } = await import('../../../sample/migration.ts');
        lines.push(...(await startSampleMigration(gateway, env)));
      }
      process.stdout.write(lines.join('\n') + '\n\n');
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        gateway.logger.info({ signal }, 'shutting down');
        await gateway.close(Number(opts.grace));
        await estate?.stop();
        await issuer?.stop();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
      // Run by an npm script (npm start): stop when npm goes, also when it could pass no signal on (killed).
      if (process.env.npm_lifecycle_event) {
        const parent = process.ppid;
        setInterval(() => {
          if (process.ppid !== parent) void stop('parent process exited');
        }, 1_000).unref();
      }
    });
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
