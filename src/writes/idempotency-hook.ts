/**
 * The idempotency hook: wraps every unsafe operation that carries an idempotency key. The first
 * request with a key is served and its answer kept; a retry gets that answer back (marked with
 * `Idempotent-Replayed: true`); the same key with a different request is a 422; a retry while the
 * first is still in flight waits for it, then gets a 409 with Retry-After. Never a second write.
 */
import type { OperationHooks } from '../http/app.ts';
import type { OperationRequest } from '../kinds/kind.ts';
import { PROBLEMS, Problem, StateStoreUnavailable } from '../problem.ts';
import type { Dispatched } from '../routing/dispatch.ts';
import type { Route } from '../routing/route-table.ts';
import { fingerprint } from './canonical-json.ts';
import type { IdempotencyStore } from './idempotency-store.ts';
import { fromDispatched, fromProblem, replay } from './stored-response.ts';
import type { WritesMetrics } from './writes-metrics.ts';

export const REPLAYED_HEADER = 'Idempotent-Replayed';

export interface IdempotencyHookOptions {
  store: IdempotencyStore;
  header: string;
  inFlightWaitMs: number;
  metrics: WritesMetrics;
}

/** The key of an unsafe request, if it has one. */
export function idempotencyKeyOf(route: Route, req: OperationRequest, header: string): string | undefined {
  if (route.operation.safe) return undefined;
  const key = req.headers[header.toLowerCase()];
  return key === undefined || key === '' ? undefined : key;
}

/** What makes two requests "the same": method, path parameters, query and body. */
export function requestFingerprint(req: OperationRequest): string {
  return fingerprint({ m: req.method, p: req.pathParams, q: req.query, b: req.body });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function idempotencyHook(opts: IdempotencyHookOptions): OperationHooks {
  // A call without a key goes straight on (no async step of its own: most calls are reads).
  return {
    around: (route, req, next) => {
      const key = idempotencyKeyOf(route, req, opts.header);
      return key === undefined ? next() : once(route, req, key, next);
    },
  };

  /** Serves the first request with `key` and keeps its answer; a retry gets that answer back. */
  async function once(route: Route, req: OperationRequest, key: string, next: () => Promise<Dispatched>): Promise<Dispatched> {
    const op = route.operationId;
    const fp = requestFingerprint(req);
    const started = Date.now();
    let waitMs = 10;
    for (;;) {
      const begun = await opts.store.begin(op, key, fp);
      if (begun.outcome === 'owner') break;
      if (begun.outcome === 'done') {
        opts.metrics.idempotencyReplays.inc({ operation: op });
        return replay(begun.response, { [REPLAYED_HEADER]: 'true' });
      }
      if (begun.outcome === 'mismatch') {
        opts.metrics.idempotencyConflicts.inc({ operation: op, conflict: 'reused' });
        throw new Problem(PROBLEMS.idempotencyKeyReused, {
          detail: `${opts.header} "${key}" was first used on ${op} with another body or parameters; use a new key for a new request`,
        });
      }
      if (Date.now() - started >= opts.inFlightWaitMs || req.signal.aborted) {
        opts.metrics.idempotencyConflicts.inc({ operation: op, conflict: 'in_flight' });
        throw new Problem(PROBLEMS.idempotencyKeyInFlight, {
          detail: `the first request with ${opts.header} "${key}" has not finished; retry after a moment to get its answer`,
          headers: { 'Retry-After': '1' },
        });
      }
      await sleep(waitMs);
      waitMs = Math.min(100, waitMs * 2);
    }
    let dispatched;
    try {
      dispatched = await next();
    } catch (err) {
      if (err instanceof Problem && err.isClientError) {
        // An answer (422 refused, 404, ...): it is what this request gets, now and on every retry.
        await opts.store.finish(op, key, fromProblem(err));
      } else {
        // Nothing was written (or the outbox did not take it): a retry may try again.
        await opts.store.abandon(op, key).catch(() => undefined);
      }
      throw err;
    }
    // The backend has answered (and may have written): that answer is the caller's even if the
    // state store cannot keep it now. The key stays in flight until its lease runs out.
    if (dispatched.result.status >= 500) await opts.store.abandon(op, key).catch(() => undefined);
    else
      await opts.store.finish(op, key, fromDispatched(dispatched)).catch((err: unknown) => {
        if (!(err instanceof StateStoreUnavailable)) throw err;
      });
    return dispatched;
  }
}
