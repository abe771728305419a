/**
 * What the admin API and the dashboard show of each route: its state, its backends with their
 * health, circuit and figures, shadow comparisons and noise, ignore rules and gates; and the
 * migration at a glance.
 */
import type { FeatureHost } from '../features/feature.ts';
import type { ReadinessReport } from '../http/app.ts';
import type { BoundBinding, Route } from '../routing/route-table.ts';
import type { ReconcileSummary } from '../reconcile/reconcile-store.ts';
import type { GateScheduler } from './gate-scheduler.ts';
import type { Reconciliations } from './reconciliations.ts';
import { stateText } from './route-config.ts';
import type { RouteStates } from './route-states.ts';
import type { ShadowFigures, ShadowStats } from './shadow-stats.ts';
import type { BackendFigures, TrafficStats } from './traffic-stats.ts';

export interface BackendView {
  adapter: string;
  kind: string;
  circuit: string;
  up: boolean | null;
  detail?: string;
  figures: BackendFigures;
}

export interface RouteView {
  operationId: string;
  method: string;
  path: string;
  mode: string;
  percent: number;
  state: string;
  version: number;
  changedAt: string;
  changedBy: string;
  /** When this instance put the state in force (a switch made elsewhere arrives a little after changedAt). */
  appliedAt: string;
  legacy: BackendView | null;
  modern: BackendView | null;
  /** Share (percent) of this instance's calls for callers that modern answered. */
  modernShare: number | null;
  fallbacks: number;
  canary: { key: string | null; fallbackToLegacy: boolean };
  shadow: ShadowFigures & { sideEffectFree: boolean; sample: number; noisy: { path: string; seen: number }[] };
  compare: { ignore: { config: string[]; runtime: string[] } };
  /** The latest `ficus reconcile` of this route (any instance's), or null when none ran. */
  reconciliation: ReconcileSummary | null;
  gates: { paused: boolean; steps: string[]; rollback: string | null; waitingFor: string | null } | null;
}

export interface SwitchOutcome {
  changed: boolean;
  from: string;
  to: string;
  route: RouteView;
}

const MODE_WEIGHT: Record<string, number> = { legacy: 0, shadow: 0, fallback: 1, modern: 1 };

export class RouteViews {
  private readiness: { at: number; report: ReadinessReport } | undefined;
  private readinessRefresh: Promise<void> | undefined;

  constructor(
    private readonly host: FeatureHost,
    private readonly states: RouteStates,
    private readonly gates: GateScheduler,
    private readonly traffic: TrafficStats,
    private readonly shadowStats: ShadowStats,
    private readonly reconciliations?: Reconciliations,
  ) {}

  /** The last readiness report; refreshed in the background when older than 5 s, so that the admin API never waits on health checks once it has one. */
  async cachedReadiness(): Promise<ReadinessReport | undefined> {
    const stale = !this.readiness || Date.now() - this.readiness.at > 5_000;
    if (stale && !this.readinessRefresh) {
      this.readinessRefresh = this.host
        .readiness()
        .then((report) => void (this.readiness = { at: Date.now(), report }))
        .catch(() => undefined)
        .finally(() => (this.readinessRefresh = undefined));
    }
    if (!this.readiness && this.readinessRefresh) await this.readinessRefresh;
    return this.readiness?.report;
  }

  private backendView(b: BoundBinding | undefined, figures: BackendFigures, ready: ReadinessReport | undefined): BackendView | null {
    if (!b) return null;
    const r = ready?.adapters[b.adapter];
    return { adapter: b.adapter, kind: b.kind, circuit: b.policy.circuitState, up: r ? r.ok : null, ...(r?.detail ? { detail: r.detail } : {}), figures };
  }

  async routeView(route: Route, ready?: ReadinessReport): Promise<RouteView> {
    const op = route.operationId;
    const row = this.states.storedOf(op);
    const t = this.traffic.figures(op);
    const served = t.legacy.served + t.modern.served;
    const gates = this.gates.config(op);
    const readiness = ready ?? (await this.cachedReadiness());
    await this.reconciliations?.refresh();
    const waitingFor = this.gates.waitingFor(op);
    return {
      operationId: op,
      method: route.operation.method.toUpperCase(),
      path: route.operation.path,
      mode: route.state.mode,
      percent: route.state.percent,
      state: stateText(route.state),
      version: row?.version ?? 0,
      changedAt: row?.changedAt ?? '',
      changedBy: row?.changedBy ?? '',
      appliedAt: this.states.appliedAtOf(op),
      legacy: this.backendView(route.legacy, t.legacy, readiness),
      modern: this.backendView(route.modern, t.modern, readiness),
      modernShare: served === 0 ? null : Math.round((t.modern.served / served) * 10_000) / 100,
      fallbacks: t.fallbacks,
      canary: { key: route.options.canaryKey ?? null, fallbackToLegacy: route.options.fallbackToLegacy },
      shadow: { ...this.shadowStats.figures(op), sideEffectFree: route.options.sideEffectFree, sample: route.options.shadowSample ?? 100, noisy: this.shadowStats.noisyPaths(op) },
      compare: { ignore: { config: this.states.configIgnoreOf(op), runtime: row?.ignore ?? [] } },
      reconciliation: this.reconciliations?.of(op) ?? null,
      gates: gates
        ? {
            paused: row?.gatesPaused ?? false,
            steps: gates.steps.map(
              (s) =>
                `${stateText(s.from)} → ${stateText(s.to)} when ${[s.matchRate !== undefined ? `match rate ≥ ${s.matchRate}% over ${s.calls} comparisons` : '', s.clean !== undefined ? `clean for ${s.clean / 1000}s` : '', s.reconciliation ? `a reconciliation ≥ ${s.reconciliation.minParity}% within ${s.reconciliation.maxAge / 1000}s` : ''].filter(Boolean).join(' and ')}`,
            ),
            rollback: gates.rollback
              ? `→ ${stateText(gates.rollback.to)} when modern's error rate over ${gates.rollback.window / 1000}s passes ${gates.rollback.errorRate}% (at least ${gates.rollback.minCalls} calls)`
              : null,
            waitingFor,
          }
        : null,
    };
  }

  async routeViews(): Promise<RouteView[]> {
    const ready = await this.cachedReadiness();
    return Promise.all(this.host.routes.all().map((r) => this.routeView(r, ready)));
  }

  /** The migration at a glance: routes by mode, modern's share of traffic, progress. */
  async overview(): Promise<{ routes: number; byMode: Record<string, number>; modernShare: number | null; progress: number; served: { legacy: number; modern: number }; propagation: string }> {
    const byMode: Record<string, number> = { legacy: 0, shadow: 0, canary: 0, fallback: 0, modern: 0 };
    let weight = 0;
    let legacy = 0;
    let modern = 0;
    const all = this.host.routes.all();
    for (const r of all) {
      byMode[r.state.mode] = (byMode[r.state.mode] ?? 0) + 1;
      weight += r.state.mode === 'canary' ? r.state.percent / 100 : (MODE_WEIGHT[r.state.mode] ?? 0);
      const t = this.traffic.figures(r.operationId);
      legacy += t.legacy.served;
      modern += t.modern.served;
    }
    return {
      routes: all.length,
      byMode,
      modernShare: legacy + modern === 0 ? null : Math.round((modern / (legacy + modern)) * 10_000) / 100,
      progress: all.length === 0 ? 0 : Math.round((weight / all.length) * 10_000) / 100,
      served: { legacy, modern },
      propagation: this.states.propagationMethod,
    };
  }
}
