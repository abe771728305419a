/**
 * `fallback` mode: modern serves the call; when modern fails (an error, a timeout, its circuit open)
 * legacy answers instead, and the fallback is counted. Answers such as 404 or 422 are modern's
 * answer, not a failure. An unsafe call (POST, PUT, ...) falls back only when modern certainly did
 * not act on it (its circuit was open, it was overloaded or refused the connection: a 503), so that
 * a write is never done twice.
 */
import type { OperationRequest } from '../../kinds/kind.ts';
import { Problem } from '../../problem.ts';
import { isBackendFailure } from '../../resilience/binding-policy.ts';
import { callBackend, type Dispatched } from '../dispatch.ts';
import type { Route } from '../route-table.ts';

export const FALLBACK_HEADER = 'Ficus-Fallback';

function mayFallBack(route: Route, err: unknown): boolean {
  if (!isBackendFailure(err)) return false;
  if (route.operation.safe) return true;
  return err instanceof Problem && err.status === 503;
}

/** Calls modern; on a failure, legacy (when the route has one). */
export async function modernWithFallback(route: Route, req: OperationRequest): Promise<Dispatched> {
  try {
    return await callBackend(route, 'modern', req);
  } catch (err) {
    if (!route.legacy || req.signal.aborted || !mayFallBack(route, err)) throw err;
    const reason = err instanceof Problem ? `${err.status} ${err.typeName}` : err instanceof Error ? err.message : String(err);
    route.observer?.fellBack(route, reason);
    const d = await callBackend(route, 'legacy', req);
    return { ...d, result: { ...d.result, headers: { ...d.result.headers, [FALLBACK_HEADER]: `modern failed: ${reason}` } } };
  }
}

export function fallbackMode(route: Route, req: OperationRequest): Promise<Dispatched> {
  return modernWithFallback(route, req);
}
