/**
 * What a flow file exports, and how the kind loads it. A flow is a TypeScript module in the
 * adapter's folder (the binding names it: `flow: flows/get-account.ts`) whose default export is
 * `defineFlow({ input, output, run })`: the input it takes (a zod schema, with the screen's own
 * limits), what it returns (a zod schema the binding maps onto the contract) and the steps. The
 * adapter's login is `defineLogin({ isLoginScreen, run })`. Flow files import from here.
 */
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { Screen } from './screen.ts';

export { z };
export { selectors, byLabel, type Selector } from './selectors.ts';
export type { Screen, Row } from './screen.ts';

const FLOW = Symbol.for('ficus.screen.flow');
const LOGIN = Symbol.for('ficus.screen.login');

export interface Flow<I, O> {
  readonly [FLOW]: true;
  description?: string;
  input: z.ZodType<I>;
  output: z.ZodType<O>;
  run(screen: Screen, input: I): Promise<O>;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface LoginFlow {
  readonly [LOGIN]: true;
  /** Whether the page shows the login screen: the pool's sign that the legacy session is gone. */
  isLoginScreen(screen: Screen): boolean | Promise<boolean>;
  /** Signs on; calls `screen.loginRefused(words)` when the legacy app refuses the credentials. */
  run(screen: Screen, credentials: Credentials): Promise<void>;
}

export function defineFlow<IS extends z.ZodType, OS extends z.ZodType>(flow: {
  description?: string;
  input: IS;
  output: OS;
  run(screen: Screen, input: z.output<IS>): Promise<z.input<OS>>;
}): Flow<z.output<IS>, z.output<OS>> {
  return { ...flow, [FLOW]: true } as unknown as Flow<z.output<IS>, z.output<OS>>;
}

export function defineLogin(login: Omit<LoginFlow, typeof LOGIN>): LoginFlow {
  return { ...login, [LOGIN]: true };
}

export type AnyFlow = Flow<unknown, unknown>;

/** Loads a flow or login module by path relative to the adapter's folder; throws a plain message on a mistake. */
export async function loadModule(dir: string, file: string, what: 'flow' | 'login'): Promise<AnyFlow | LoginFlow> {
  const path = resolve(dir, file);
  if (!path.startsWith(resolve(dir))) throw new Error(`${file} is outside the adapter's folder`);
  if (!existsSync(path)) throw new Error(`${file} does not exist in ${dir}`);
  let mod: { default?: unknown };
  try {
    // The real path, so that the flow's own relative imports resolve where the file really is.
    mod = (await import(pathToFileURL(realpathSync(path)).href)) as { default?: unknown };
  } catch (err) {
    throw new Error(`${file} could not be loaded: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const value = mod.default as Record<symbol, unknown> | undefined;
  const marker = what === 'flow' ? FLOW : LOGIN;
  if (!value || typeof value !== 'object' || value[marker] !== true) {
    throw new Error(`${file} has no default export made with ${what === 'flow' ? 'defineFlow' : 'defineLogin'}(...)`);
  }
  return value as unknown as AnyFlow | LoginFlow;
}
