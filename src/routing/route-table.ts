/**
 * The route table: for each operation of the contract, its legacy binding, its modern binding (once
 * one exists) and its mode. The mode is state that the control plane may switch at run time.
 */
import type { ContractOperation } from '../contract/contract.ts';
import type { ModeName } from '../config/gateway-config.ts';
import type { OperationHandler, OperationRequest, OperationResult } from '../kinds/kind.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { BindingPolicy } from '../resilience/binding-policy.ts';
import { Problem } from '../problem.ts';
import { activeTracer } from '../observability/tracing/current.ts';

export type Backend = 'legacy' | 'modern';

/** One adapter's binding of one operation, wrapped in its policy and measured. */
export class BoundBinding {
  /**
   * Runs before each attempt reaches the backend (the limits feature's ceiling on a legacy adapter):
   * it may wait (see `waitInQueue`) or refuse with a 503 `overloaded`.
   */
  admission: ((req: OperationRequest) => Promise<void>) | undefined;
  /** When an attempt last got an answer from the backend (a success, or a refusal of the backend's own such as 404), ms since the epoch; 0: never. */
  lastAnsweredAt = 0;
  /** When an attempt last failed as the backend's failure (not a refusal, not overload, not a caller gone); 0: never. */
  lastFailedAt = 0;

  constructor(
    readonly adapter: string,
    readonly kind: string,
    readonly backend: Backend,
    readonly operationId: string,
    readonly policy: BindingPolicy,
    private readonly handler: OperationHandler,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** Calls the backend under the binding's policy; failures come out as Problems. */
  call(req: OperationRequest): Promise<OperationResult> {
    const tracer = activeTracer();
    // Traced: one CLIENT span per attempt, inside the policy (so each retry is its own span).
    if (tracer && req.trace) return tracer.traceCall(this, req, (wrap) => this.policy.execute((signal) => wrap((trace) => this.attempt({ ...req, signal, trace }, req.signal)), req.signal));
    return this.policy.execute((signal) => this.attempt({ ...req, signal }, req.signal), req.signal);
  }

  private async attempt(req: OperationRequest, callerSignal: AbortSignal): Promise<OperationResult> {
    const start = performance.now();
    let outcome = 'ok';
    try {
      if (this.admission) await this.admission(req);
      const result = await this.handler(req);
      this.lastAnsweredAt = Date.now();
      return result;
    } catch (err) {
      if (err instanceof Problem && err.isClientError) {
        outcome = 'client_error';
        this.lastAnsweredAt = Date.now();
      } else if (err instanceof Problem && err.typeName === 'overloaded') outcome = 'overloaded';
      else if (callerSignal.aborted) outcome = 'caller_gone';
      else {
        outcome = 'error';
        this.lastFailedAt = Date.now();
        const reason = err instanceof Error ? ((err as { code?: unknown }).code ?? err.name) : 'error';
        this.metrics.adapterErrors.inc({ adapter: this.adapter, operation: this.operationId, reason: String(reason) });
      }
      throw err;
    } finally {
      this.metrics.adapterCalls.observe({ adapter: this.adapter, operation: this.operationId, outcome }, (performance.now() - start) / 1000);
    }
  }
}

export interface RouteState {
  mode: ModeName;
  /** Share of calls sent to modern in canary mode, 0 to 100. */
  percent: number;
}

/** Per-route migration settings (from `routes.<operationId>` in ficus.yaml; see src/control/route-config.ts). */
export interface RouteOptions {
  /** Canary: where the sticky key comes from: `path.<name>`, `header.<name>` or `query.<name>`. */
  canaryKey?: string;
  /** Canary: a failed call to modern is answered by legacy instead. */
  fallbackToLegacy: boolean;
  /** Shadow: the modern binding has no side effects (a dry-run endpoint), so unsafe calls may be shadowed. */
  sideEffectFree: boolean;
  /** Shadow: percent of calls shadowed (100 unless the route says otherwise). */
  shadowSample?: number;
}

/** What a route reports to the control plane while it serves calls (set by the control plane). */
export interface RouteObserver {
  /** Shadow mode: legacy answered (or failed with a problem); call modern off the caller's path and compare. */
  shadow(route: Route, req: OperationRequest, legacy: OperationResult): void;
  /** Canary or fallback mode: modern failed and legacy served the call instead. */
  fellBack(route: Route, reason: string): void;
  /** Every call of a backend for a caller, timed; `error` is set when it failed. */
  called(route: Route, backend: Backend, ms: number, error: unknown): void;
}

export class Route {
  state: RouteState;
  options: RouteOptions = { fallbackToLegacy: false, sideEffectFree: false };
  observer: RouteObserver | undefined;

  constructor(
    readonly operation: ContractOperation,
    readonly legacy: BoundBinding | undefined,
    readonly modern: BoundBinding | undefined,
    initial: RouteState,
  ) {
    this.state = initial;
  }

  get operationId(): string {
    return this.operation.operationId;
  }

  binding(backend: Backend): BoundBinding | undefined {
    return backend === 'legacy' ? this.legacy : this.modern;
  }
}

export class RouteTable {
  private readonly routes = new Map<string, Route>();

  add(route: Route): void {
    this.routes.set(route.operationId, route);
  }

  get(operationId: string): Route | undefined {
    return this.routes.get(operationId);
  }

  all(): Route[] {
    return [...this.routes.values()];
  }
}
