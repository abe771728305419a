/**
 * `canary` mode: `percent` of calls go to modern, chosen by the route's sticky key (see
 * stable-hash.ts), the rest to legacy. With `canary.fallbackToLegacy`, a failed modern call is
 * answered by legacy (see fallback.ts).
 */
import type { OperationRequest } from '../../kinds/kind.ts';
import { callBackend, type Dispatched } from '../dispatch.ts';
import type { Route } from '../route-table.ts';
import { modernWithFallback } from './fallback.ts';
import { bucketGoesModern, bucketOf } from './stable-hash.ts';
import { stickyKeyOf } from './sticky-key.ts';

/** Which backend a key gets on this route at this percentage. */
export function canaryBackend(operationId: string, key: string, percent: number): 'legacy' | 'modern' {
  if (percent <= 0) return 'legacy';
  if (percent >= 100) return 'modern';
  return bucketGoesModern(bucketOf(operationId, key), percent) ? 'modern' : 'legacy';
}

export function canaryMode(route: Route, req: OperationRequest): Promise<Dispatched> {
  const backend = route.modern ? canaryBackend(route.operationId, stickyKeyOf(route.options.canaryKey, req), route.state.percent) : 'legacy';
  if (backend === 'legacy') return callBackend(route, 'legacy', req);
  return route.options.fallbackToLegacy ? modernWithFallback(route, req) : callBackend(route, 'modern', req);
}
