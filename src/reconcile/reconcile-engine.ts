/**
 * Reconciliation: every key of a resource read through legacy and through modern (the route's two
 * bindings, as the gateway calls them) and compared with the shadow comparator under the route's
 * ignore rules (problem answers by status and type). Keys come from a list operation walked page by
 * page on both sides (so a key only one side has is found), or are given. The pace is bounded (a
 * rate and a concurrency), so the legacy system is not flooded.
 */
import { randomUUID } from 'node:crypto';
import { Comparator, type Difference } from '../compare/comparator.ts';
import type { Contract } from '../contract/contract.ts';
import type { OperationRequest } from '../kinds/kind.ts';
import { Problem } from '../problem.ts';
import { PROBLEM_NOISE } from '../replay/replay-engine.ts';
import { RateLimiter } from '../replay/rate-limiter.ts';
import { callBackend } from '../routing/dispatch.ts';
import type { Backend, Route, RouteTable } from '../routing/route-table.ts';

export type ParityOutcome = 'equal' | 'different' | 'missing-modern' | 'missing-legacy' | 'error';

export interface KeyResult {
  key: string;
  outcome: ParityOutcome;
  differences: Difference[];
  legacy?: { status: number; body: unknown };
  modern?: { status: number; body: unknown };
  reason?: string;
}

export interface ParityReport {
  operation: string;
  against: 'modern';
  startedAt: string;
  durationMs: number;
  counts: Record<ParityOutcome, number> & { keys: number };
  /** Every key that is not equal (equal keys are only counted). */
  results: KeyResult[];
}

export interface ReconcileOptions {
  routes: RouteTable;
  contract: Contract;
  operation: string;
  /** The list operation whose items give the keys (walked on both sides). */
  keysFrom?: string;
  /** Keys given directly. */
  keys?: string[];
  /** The item field holding the key (default: the get's path parameter name if items have it, else id). */
  keyField?: string;
  ratePerSecond?: number;
  concurrency?: number;
  ignore?: readonly string[];
  onProgress?: (done: number, total: number) => void;
}

async function answer(route: Route, backend: Backend, req: Omit<OperationRequest, 'signal' | 'requestId'>): Promise<{ status: number; body: unknown }> {
  try {
    const d = await callBackend(route, backend, { ...req, requestId: randomUUID(), signal: AbortSignal.timeout(30_000) });
    return { status: d.result.status, body: d.result.body };
  } catch (err) {
    if (err instanceof Problem && err.status < 500) return { status: err.status, body: { type: err.typeName } };
    throw err;
  }
}

/** Every key a list operation gives on one side, following its cursor. */
async function listKeys(route: Route, backend: Backend, o: { keyField: string; pathParam: string }): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1_000_000; page++) {
    const query: Record<string, unknown> = { limit: 100, ...(cursor ? { cursor } : {}) };
    const r = await answer(route, backend, { operationId: route.operationId, method: 'get', pathParams: {}, query, headers: {}, body: undefined });
    if (r.status !== 200) throw new Error(`${route.operationId} on ${backend} answered ${r.status} on page ${page + 1}`);
    const body = r.body as { items?: Record<string, unknown>[]; nextCursor?: string | null };
    for (const item of body.items ?? []) {
      const v = item[o.keyField] ?? item[o.pathParam];
      if (v !== undefined && v !== null) keys.push(String(v));
    }
    if (!body.nextCursor) return keys;
    cursor = body.nextCursor;
  }
  return keys;
}

export async function reconcile(o: ReconcileOptions): Promise<ParityReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const route = o.routes.get(o.operation);
  if (!route) throw new Error(`the gateway does not serve ${o.operation}`);
  for (const b of ['legacy', 'modern'] as const) if (!route.binding(b)) throw new Error(`no ${b} adapter serves ${o.operation}: reconciliation needs both`);
  const op = o.contract.operation(o.operation);
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  if (pathParams.length !== 1) throw new Error(`${o.operation} must take exactly one path parameter (the key); it takes ${pathParams.length}`);
  const pathParam = pathParams[0].name;
  const keyField = o.keyField ?? 'id';

  let keys: string[] = [...(o.keys ?? [])];
  if (o.keysFrom) {
    const list = o.routes.get(o.keysFrom);
    if (!list) throw new Error(`the gateway does not serve ${o.keysFrom}`);
    const [l, m] = await Promise.all([listKeys(list, 'legacy', { keyField, pathParam }), list.binding('modern') ? listKeys(list, 'modern', { keyField, pathParam }) : Promise.resolve([])]);
    keys.push(...l, ...m);
  }
  keys = [...new Set(keys)];
  const comparator = new Comparator(o.contract);
  const limiter = new RateLimiter(o.ratePerSecond);
  const counts = { keys: keys.length, equal: 0, different: 0, 'missing-modern': 0, 'missing-legacy': 0, error: 0 };
  const results: KeyResult[] = [];
  let next = 0;
  let done = 0;
  const work = async () => {
    while (next < keys.length) {
      const key = keys[next++];
      await limiter.take();
      const req = { operationId: o.operation, method: op.method, pathParams: { [pathParam]: /^\d+$/.test(key) ? Number(key) : key }, query: {}, headers: {}, body: undefined };
      let r: KeyResult;
      try {
        const [legacy, modern] = await Promise.all([answer(route, 'legacy', req), answer(route, 'modern', req)]);
        if (legacy.status === 404 && modern.status !== 404) r = { key, outcome: 'missing-legacy', differences: [], legacy, modern };
        else if (modern.status === 404 && legacy.status !== 404) r = { key, outcome: 'missing-modern', differences: [], legacy, modern };
        else {
          const ignore = [...(o.ignore ?? []), ...(legacy.status >= 400 || modern.status >= 400 ? PROBLEM_NOISE : [])];
          const cmp = comparator.compare(o.operation, legacy, modern, { ignore });
          r = { key, outcome: cmp.equal ? 'equal' : 'different', differences: cmp.differences, legacy, modern };
        }
      } catch (err) {
        r = { key, outcome: 'error', differences: [], reason: (err as Error).message };
      }
      counts[r.outcome]++;
      if (r.outcome !== 'equal') results.push(r);
      o.onProgress?.(++done, keys.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 8, keys.length)) }, work));
  results.sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
  return { operation: o.operation, against: 'modern', startedAt, durationMs: performance.now() - started, counts, results };
}

/** 0: legacy and modern hold the same; 1: some key differs or is missing on one side; 3: no drift, but some keys could not be compared. */
export function parityExitCode(r: ParityReport): number {
  if (r.counts.different + r.counts['missing-modern'] + r.counts['missing-legacy'] > 0) return 1;
  if (r.counts.error > 0) return 3;
  return 0;
}
