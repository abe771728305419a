/**
 * The simulated legacy estate that `ficus start --sample` (npm start) runs beside the gateway:
 * every system listens on a free loopback port and hands its address to the adapters through the
 * environment variables their adapter.yaml files read.
 */
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
  /** The project root (where var/ is made for the estate's files). */
  root: string;
}

export interface RunningEstate {
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
  const started: StartedComponent[] = [];
  const stop = async () => {
    for (const c of [...started].reverse()) await c.stop().catch(() => undefined);
  };
  try {
    for (const c of components) started.push(await c.start(opts));
  } catch (err) {
    await stop();
    throw err;
  }
  return { components: started, env: Object.assign({}, ...started.map((c) => c.env)) as Record<string, string>, stop };
}
