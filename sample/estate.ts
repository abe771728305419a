/**
 * The simulated legacy estate that `ficus start --sample` (npm start) runs beside the gateway:
 * every system listens on a free loopback port and hands its address to the adapters through the
 * environment variables their adapter.yaml files read.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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
    async start() {
      const s = await startModernCustomers();
      return { name: 'customers service (modern)', url: s.url, env: { CUSTOMERS_SERVICE_URL: s.url }, stop: s.close };
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
  return { dir, components: started, env: Object.assign({}, ...started.map((c) => c.env)) as Record<string, string>, stop };
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
