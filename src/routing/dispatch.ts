/**
 * How a route's mode picks the backend(s) for one call. Each mode is one strategy; the control plane
 * switches a route's mode at run time and the next call follows it.
 */
import type { ModeName } from '../config/gateway-config.ts';
import type { OperationRequest, OperationResult } from '../kinds/kind.ts';
import { problems } from '../problem.ts';
import type { Backend, BoundBinding, Route } from './route-table.ts';

export interface Dispatched {
  result: OperationResult;
  backend: Backend;
  adapter: string;
}

export type ModeStrategy = (route: Route, req: OperationRequest) => Promise<Dispatched>;

export async function callBackend(route: Route, backend: Backend, req: OperationRequest): Promise<Dispatched> {
  const binding: BoundBinding | undefined = route.binding(backend);
  if (!binding) throw problems.internal(`route ${route.operationId} has no ${backend} binding`);
  const result = await binding.call(req);
  return { result, backend, adapter: binding.adapter };
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
