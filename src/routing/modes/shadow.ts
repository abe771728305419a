/**
 * `shadow` mode: legacy serves the caller; its answer (or its problem) is handed to the route's
 * observer, which calls modern off the caller's path and compares the two (see
 * src/control/shadow-runner.ts). Nothing modern does can reach the caller: not its latency, not its
 * errors, not its answer.
 */
import type { OperationRequest, OperationResult } from '../../kinds/kind.ts';
import { Problem } from '../../problem.ts';
import { callBackend, type Dispatched } from '../dispatch.ts';
import type { Route } from '../route-table.ts';

function notify(route: Route, req: OperationRequest, legacy: OperationResult): void {
  try {
    route.observer?.shadow(route, req, legacy);
  } catch {
    // the observer must never fail the caller's call
  }
}

export async function shadowMode(route: Route, req: OperationRequest): Promise<Dispatched> {
  let dispatched: Dispatched;
  try {
    dispatched = await callBackend(route, 'legacy', req);
  } catch (err) {
    if (err instanceof Problem) notify(route, req, { status: err.status, body: err.toBody() });
    throw err;
  }
  notify(route, req, dispatched.result);
  return dispatched;
}
