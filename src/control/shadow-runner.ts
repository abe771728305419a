/**
 * Shadow mode's second half: given legacy's answer, call modern off the caller's path (after the
 * caller's answer is on its way, with its own abort signal and the binding's own policy), compare
 * the two with the comparator under the route's ignore rules, count the outcome and keep the
 * mismatch with its diff. On a mismatch of a safe call, legacy is asked a second time (at most once a
 * second per route): the paths that differ between legacy's two answers are noise, reported so that
 * they can be ignored with one command. Mismatches are written to the state store in batches (every
 * 250 ms, one transaction, at most the latest `mismatchesKept` per route), never on a caller's path,
 * and redacted first as recordings are (src/recording/redactor.ts). A mismatch names the caller's
 * consumer (as the front door knew it), never its credential.
 *
 * Problem answers (4xx) are compared by status, type and the fields the contract declares for them
 * (the comparator's rule): their title and detail are diagnostic text, not data. Response headers
 * are compared where the route's `compare.headers` names them. When either
 * side fails (5xx: an error, a timeout, an open circuit), nothing is compared: the failure is counted
 * (`modernFailed`, `legacyFailed`) and never held against modern's match rate.
 */
import type { Comparator, CompareInput } from '../compare/comparator.ts';
import { noisyPaths } from '../compare/comparator.ts';
import { generalisePath } from '../compare/json-path.ts';
import type { OperationRequest, OperationResult } from '../kinds/kind.ts';
import type { Logger } from '../observability/logger.ts';
import { Problem } from '../problem.ts';
import type { Redactor } from '../recording/redactor.ts';
import { isBackendFailure } from '../resilience/binding-policy.ts';
import { activeTracer } from '../observability/tracing/current.ts';
import type { BoundBinding, Route } from '../routing/route-table.ts';
import type { ControlStore, MismatchRecord } from './control-store.ts';
import type { ShadowStats } from './shadow-stats.ts';
import type { TrafficStats } from './traffic-stats.ts';

export interface ShadowRunnerDeps {
  comparator: Comparator;
  shadow: ShadowStats;
  traffic: TrafficStats;
  store: ControlStore;
  logger: Logger;
  mismatchesKept: number;
  concurrency: number;
  ignoreOf(operationId: string): readonly string[];
  /** The response headers compared for an operation (`compare.headers`, `compare.ignoreHeaders`). */
  headersOf?(operationId: string): { headers: readonly string[]; ignoreHeaders: readonly string[] };
  /** Redacts what a mismatch keeps (request line, both answers, the differences' values) as recordings are. */
  redactor: Redactor;
  /** Counts each comparison's outcome (metrics). */
  outcome(operationId: string, outcome: 'match' | 'mismatch' | 'modern_failed' | 'legacy_failed' | 'dropped' | 'skipped_unsafe'): void;
}

/** `GET /customers/1001?limit=5`: from a path and query already redacted. */
export function requestLine(method: string, path: string, query: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.append(k, typeof v === 'string' ? v : JSON.stringify(v));
  const qs = q.toString();
  return `${method.toUpperCase()} ${path}${qs ? `?${qs}` : ''}`;
}

function asInput(r: OperationResult): CompareInput {
  return { status: r.status, body: r.body, headers: r.headers };
}

export class ShadowRunner {
  private readonly inFlight = new Map<string, number>();
  private readonly lastProbe = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();
  private batch: Omit<MismatchRecord, 'id'>[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ShadowRunnerDeps) {}

  /** Called by shadow mode with legacy's answer; returns at once. */
  shadow(route: Route, req: OperationRequest, legacy: OperationResult): void {
    const op = route.operationId;
    const modern = route.modern;
    if (!modern) return;
    if (!route.operation.safe && !route.options.sideEffectFree) {
      this.deps.shadow.skippedUnsafe(op);
      this.deps.outcome(op, 'skipped_unsafe');
      return;
    }
    // Legacy failed (5xx: an error, a timeout, an open circuit, a full queue; on a busy machine too):
    // there is no answer to hold modern's against, so it is not a comparison, and it is not a
    // mismatch that would hold a route back at its gate. Counted apart, like modern's failures.
    if (legacy.status >= 500) {
      this.deps.shadow.legacyFailed(op);
      this.deps.outcome(op, 'legacy_failed');
      return;
    }
    const sample = route.options.shadowSample ?? 100;
    if (sample < 100 && Math.random() * 100 >= sample) {
      this.deps.shadow.sampledOut(op);
      return;
    }
    const n = this.inFlight.get(op) ?? 0;
    if (n >= this.deps.concurrency) {
      this.deps.shadow.dropped(op);
      this.deps.outcome(op, 'dropped');
      return;
    }
    this.inFlight.set(op, n + 1);
    const p = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.compare(route, modern, req, legacy))
      .catch((err: unknown) => this.deps.logger.error({ err, operation: op, requestId: req.requestId }, 'shadow comparison failed'))
      .finally(() => {
        this.inFlight.set(op, (this.inFlight.get(op) ?? 1) - 1);
        this.pending.delete(p);
      });
    this.pending.add(p);
  }

  /** Waits for the shadow calls in flight and writes their mismatches (on shutdown, and in tests). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.flush();
  }

  private keep(m: Omit<MismatchRecord, 'id'>): void {
    this.batch.push(m);
    // Only the latest `mismatchesKept` of a route are kept anyway: no need to hold more in memory.
    if (this.batch.length > this.deps.mismatchesKept * 4) {
      const perRoute = new Map<string, number>();
      this.batch = this.batch
        .reverse()
        .filter((x) => {
          const n = (perRoute.get(x.operationId) ?? 0) + 1;
          perRoute.set(x.operationId, n);
          return n <= this.deps.mismatchesKept;
        })
        .reverse();
    }
    this.flushTimer ??= setTimeout(() => void this.flush(), 250);
  }

  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const list = this.batch;
    this.batch = [];
    this.flushing = this.flushing
      .then(() => this.deps.store.addMismatches(list, this.deps.mismatchesKept))
      .catch((err: unknown) => this.deps.logger.error({ err, mismatches: list.length }, 'cannot save shadow mismatches'));
    return this.flushing;
  }

  private async callOffPath(binding: BoundBinding, req: OperationRequest): Promise<OperationResult | undefined> {
    const abort = new AbortController();
    const start = performance.now();
    try {
      // Marked as shadow traffic: the backend can tell it from a caller's call (the http kind sends Ficus-Shadow: true).
      const tracer = activeTracer();
      const r = await (tracer && req.trace
        ? tracer.traceShadow(binding.operationId, req.trace, (trace) => binding.call({ ...req, signal: abort.signal, trace, shadow: true }))
        : binding.call({ ...req, signal: abort.signal, shadow: true }));
      this.deps.traffic.called(binding.operationId, binding.backend, performance.now() - start, false);
      return r;
    } catch (err) {
      this.deps.traffic.called(binding.operationId, binding.backend, performance.now() - start, isBackendFailure(err));
      if (err instanceof Problem && err.isClientError) return { status: err.status, body: err.toBody() };
      return undefined;
    }
  }

  private async compare(route: Route, modern: BoundBinding, req: OperationRequest, legacy: OperationResult): Promise<void> {
    const op = route.operationId;
    const modernResult = await this.callOffPath(modern, req);
    if (!modernResult) {
      this.deps.shadow.modernFailed(op);
      this.deps.outcome(op, 'modern_failed');
      return;
    }
    const ignore = this.deps.ignoreOf(op);
    const cmp = this.deps.comparator.compare(op, asInput(legacy), asInput(modernResult), { ignore, ...this.deps.headersOf?.(op) });
    this.deps.shadow.compared(op, cmp.equal, req.consumer);
    this.deps.outcome(op, cmp.equal ? 'match' : 'mismatch');
    if (cmp.equal) return;
    const noisy = new Set(await this.probeNoise(route, req, legacy, ignore));
    // Nothing is kept unredacted: sensitive fields, configured paths and secrets found by the scan are hashed.
    const r = this.deps.redactor.redactMismatch(route.operation, op, req, legacy, modernResult, cmp.differences.slice(0, 200));
    this.keep({
      operationId: op,
      at: new Date().toISOString(),
      requestId: req.requestId,
      request: requestLine(route.operation.method, r.path, r.query),
      legacyStatus: legacy.status,
      modernStatus: modernResult.status,
      differences: r.differences.map((d) => ({ ...d, ...(noisy.has(generalisePath(d.path)) ? { noisy: true } : {}) })),
      legacyBody: r.legacyBody,
      modernBody: r.modernBody,
      ...(req.consumer !== undefined ? { consumer: req.consumer } : {}),
    });
  }

  /** Asks legacy again (safe calls, once a second per route at most); returns the noisy paths, generalised. */
  private async probeNoise(route: Route, req: OperationRequest, first: OperationResult, ignore: readonly string[]): Promise<string[]> {
    const op = route.operationId;
    if (!route.operation.safe || !route.legacy) return [];
    const now = Date.now();
    if (now - (this.lastProbe.get(op) ?? 0) < 1_000) return [];
    this.lastProbe.set(op, now);
    const second = await this.callOffPath(route.legacy, req);
    if (!second) return [];
    const paths = noisyPaths(this.deps.comparator, op, asInput(first), asInput(second))
      .filter((p) => p !== 'status')
      .map(generalisePath)
      .filter((p) => !ignore.includes(p));
    const unique = [...new Set(paths)];
    this.deps.shadow.noisy(op, unique);
    return unique;
  }
}
