/**
 * The simulated legacy estate that `ficus start --sample` (npm start) runs beside the gateway:
 * every system listens on a free loopback port and hands its address to the adapters through the
 * environment variables their adapter.yaml files read.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { newWebhookSecret } from '../src/changes/sinks/webhook-sink.ts';
import { startModernCustomers } from './modern-customers/server.ts';
import { legacyCrmComponent } from './legacy-crm/component.ts';
import { legacyBillingComponent } from './legacy-billing/component.ts';
import { mainframeComponent } from './mainframe/component.ts';

export interface StartedComponent {
  name: string;
  /** Where a person can reach it, if anywhere. */
  url?: string;
  /** Environment variables the adapters read to reach it. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface EstateComponent {
  name: string;
  start(opts: EstateOptions): Promise<StartedComponent>;
}

export interface EstateOptions {
  /** The project root (where var/sample/ is made for the estate's files). */
  root: string;
  /**
   * This run's own folder for its files (the CRM database, the mainframe's files). `startSampleEstate`
   * makes a fresh one per run, `<root>/var/sample/run-<pid>-<random>`, and removes it on stop, so
   * that two runs in one checkout never touch each other's files.
   */
  dir?: string;
  /**
   * The customers' migration as `npm start` runs it: the modern customers service starts empty and
   * takes the CRM's change events from RabbitMQ (CUSTOMERS_EVENTS_AMQP_URL, CUSTOMERS_EVENTS_EXCHANGE)
   * or at CUSTOMERS_EVENTS_URL (webhooks signed with CUSTOMERS_EVENTS_SECRET); the gateway subscribes
   * it and backfills it (sample/migration.ts).
   * Without it (tests, `--sample-estate` tools) modern holds the sample customers already.
   */
  migration?: boolean;
  /**
   * How the migrating modern service takes the events: from RabbitMQ (127.0.0.1:5672, or
   * SAMPLE_EVENTS_AMQP_URL) when it answers, else webhooks (`auto`, the default; SAMPLE_EVENTS says
   * otherwise), or always one of them.
   */
  migrationEvents?: 'auto' | 'amqp' | 'webhook';
}

/** What `ficus sample` commands read of a running estate: `<run folder>/estate.json`. */
export interface EstateFile {
  pid: number;
  modernCustomersUrl?: string;
  migration: boolean;
  /** The adapters' variables of this run (its own throw-away SFTP password among them: the file is 0600 and goes with the run). */
  env: Record<string, string>;
}

export interface RunningEstate {
  /** This run's folder (removed by `stop`). */
  dir: string;
  components: StartedComponent[];
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Each system of the sample estate. Add a system here to have it started by `npm start`. */
export const ESTATE: EstateComponent[] = [
  legacyCrmComponent,
  legacyBillingComponent,
  mainframeComponent,
  {
    name: 'customers service (modern)',
    async start(opts) {
      if (!opts.migration) {
        const s = await startModernCustomers();
        return { name: 'customers service (modern)', url: s.url, env: { CUSTOMERS_SERVICE_URL: s.url }, stop: s.close };
      }
      const secret = newWebhookSecret();
      const how = opts.migrationEvents ?? (process.env.SAMPLE_EVENTS as EstateOptions['migrationEvents']) ?? 'auto';
      const url = process.env.SAMPLE_EVENTS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
      // An exchange of this run's own (deleted when it stops): two runs never see each other's events.
      const exchange = `ficus.sample.${basename(opts.dir ?? 'run')}`;
      let s: Awaited<ReturnType<typeof startModernCustomers>> | undefined;
      if (how !== 'webhook') {
        try {
          s = await startModernCustomers({ empty: true, eventsSecret: secret, amqp: { url, exchange, deleteExchange: true } });
        } catch (err) {
          if (how === 'amqp') throw err;
        }
      }
      const viaAmqp = s !== undefined;
      s ??= await startModernCustomers({ empty: true, eventsSecret: secret });
      return {
        name: 'customers service (modern)',
        url: s.url,
        env: {
          CUSTOMERS_SERVICE_URL: s.url,
          CUSTOMERS_EVENTS_URL: `${s.url}/events`,
          CUSTOMERS_EVENTS_SECRET: secret,
          ...(viaAmqp ? { CUSTOMERS_EVENTS_AMQP_URL: url, CUSTOMERS_EVENTS_EXCHANGE: exchange } : {}),
        },
        stop: s.close,
      };
    },
  },
];

export async function startSampleEstate(opts: EstateOptions, components: EstateComponent[] = ESTATE): Promise<RunningEstate> {
  const base = join(opts.root, 'var', 'sample');
  mkdirSync(base, { recursive: true });
  removeAbandonedRuns(base);
  const dir = opts.dir ?? mkdtempSync(join(base, `run-${process.pid}-`));
  const started: StartedComponent[] = [];
  const stop = async () => {
    for (const c of [...started].reverse()) await c.stop().catch(() => undefined);
    started.length = 0;
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const c of components) started.push(await c.start({ ...opts, dir }));
  } catch (err) {
    await stop();
    throw err;
  }
  const env = Object.assign({}, ...started.map((c) => c.env)) as Record<string, string>;
  const file: EstateFile = { pid: process.pid, modernCustomersUrl: env.CUSTOMERS_SERVICE_URL, migration: opts.migration ?? false, env };
  writeFileSync(join(dir, 'estate.json'), JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  return { dir, components: started, env, stop };
}

/** The newest run of the sample estate in this checkout whose process is alive (`npm start`), or undefined. */
export function findRunningEstate(root: string): { dir: string; estate: EstateFile } | undefined {
  const base = join(root, 'var', 'sample');
  const runs = existsSync(base) ? readdirSync(base).filter((d) => d.startsWith('run-') && existsSync(join(base, d, 'estate.json'))) : [];
  const found = runs
    .map((d) => ({ dir: join(base, d), estate: JSON.parse(readFileSync(join(base, d, 'estate.json'), 'utf8')) as EstateFile }))
    .filter((r) => alive(r.estate.pid))
    .sort((a, b) => statSync(b.dir).mtimeMs - statSync(a.dir).mtimeMs);
  return found[0];
}

/** Removes the folders of runs whose process is gone (killed before it could clean up). */
function removeAbandonedRuns(base: string): void {
  for (const name of existsSync(base) ? readdirSync(base) : []) {
    const pid = /^run-(\d+)-/.exec(name)?.[1];
    if (pid && !alive(Number(pid))) rmSync(join(base, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
