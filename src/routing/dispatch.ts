/**
 * How a route's mode picks the backend(s) for one call. Each mode is one strategy; the control plane
 * switches a route's mode at run time and the next call follows it.
 */
import type { ModeName } from '../config/gateway-config.ts';
import type { OperationRequest, OperationResult } from '../kinds/kind.ts';
import { StateStoreUnavailable, problems } from '../problem.ts';
import type { Backend, BoundBinding, Route } from './route-table.ts';

export interface Dispatched {
  result: OperationResult;
  backend: Backend;
  adapter: string;
}

export type ModeStrategy = (route: Route, req: OperationRequest) => Promise<Dispatched>;

/** Which backend an error came from, so that the response and its metrics can say so. */
const failedOn = new WeakMap<object, { backend: Backend; adapter: string }>();

export function backendOfError(err: unknown): { backend: Backend; adapter: string } | undefined {
  return err !== null && typeof err === 'object' ? failedOn.get(err) : undefined;
}

export async function callBackend(route: Route, backend: Backend, req: OperationRequest): Promise<Dispatched> {
  const binding: BoundBinding | undefined = route.binding(backend);
  if (!binding) throw problems.internal(`route ${route.operationId} has no ${backend} binding`);
  const start = performance.now();
  try {
    const result = await binding.call(req);
    route.observer?.called(route, backend, performance.now() - start, undefined);
    return { result, backend, adapter: binding.adapter };
  } catch (err) {
    route.observer?.called(route, backend, performance.now() - start, err);
    // (The state store failing under a kind that keeps state there is not the adapter's failure.)
    if (err !== null && typeof err === 'object' && !failedOn.has(err) && !(err instanceof StateStoreUnavailable)) failedOn.set(err, { backend, adapter: binding.adapter });
    throw err;
  }
}

const strategies: Partial<Record<ModeName, ModeStrategy>> = {
  legacy: (route, req) => callBackend(route, 'legacy', req),
  modern: (route, req) => callBackend(route, 'modern', req),
};

/** Registers the strategy of a mode (shadow, canary and fallback plug in here). */
export function registerMode(mode: ModeName, strategy: ModeStrategy): void {
  strategies[mode] = strategy;
}

export function dispatch(route: Route, req: OperationRequest): Promise<Dispatched> {
  const strategy = strategies[route.state.mode];
  if (!strategy) throw problems.internal(`mode ${route.state.mode} of route ${route.operationId} is not available`);
  return strategy(route, req);
}
