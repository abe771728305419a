/**
 * The control plane of one gateway instance, put together from its parts: each route's state in the
 * state store (route-states.ts), shadow comparison (shadow-runner.ts), the gates (gate-scheduler.ts),
 * what the admin API shows (route-views.ts) and the admin server (admin-server.ts, admin-app.ts).
 * The admin API and the tests talk to this class; each job is done by one of the parts.
 */
import { Counter } from 'prom-client';
import { Comparator } from '../compare/comparator.ts';
import type { FeatureHost } from '../features/feature.ts';
import { isBackendFailure } from '../resilience/binding-policy.ts';
import type { Backend, Route, RouteObserver } from '../routing/route-table.ts';
import { buildAdminApp } from './admin-app.ts';
import { AdminServer } from './admin-server.ts';
import { parseAdminTokens, type AdminTokens } from './admin-tokens.ts';
import type { AuditEntry, ControlStore, MismatchRecord } from './control-store.ts';
import { GateScheduler } from './gate-scheduler.ts';
import { stateText, type GatesConfig } from './route-config.ts';
import { Reconciliations } from './reconciliations.ts';
import { RouteStates } from './route-states.ts';
import { RouteViews, type RouteView, type SwitchOutcome } from './route-views.ts';
import { dashboardPart, dashboardView, type DashboardPart, type DashboardView } from './dashboard-view.ts';
import { redactorFor } from '../recording/attach.ts';
import { ShadowRunner } from './shadow-runner.ts';
import { ShadowStats } from './shadow-stats.ts';
import type { GatesBody, IgnoreBody, SwitchBody } from './switch-request.ts';
import { TrafficStats } from './traffic-stats.ts';

/** What the control plane needs of a gateway: the feature host (src/features/feature.ts). */
export type ControlPlaneHost = FeatureHost;
export type { BackendView, RouteView, SwitchOutcome } from './route-views.ts';

export class ControlPlane {
  readonly traffic = new TrafficStats();
  readonly shadowStats = new ShadowStats();
  readonly comparator: Comparator;
  readonly tokens: AdminTokens;
  readonly shadow: ShadowRunner;
  readonly states: RouteStates;
  readonly gates: GateScheduler;
  readonly views: RouteViews;
  /** Each route's latest reconciliation (`ficus reconcile` writes them to the state store). */
  readonly reconciliations: Reconciliations;
  private readonly admin: AdminServer;
  private readonly fallbackCounter: Counter<'operation'>;
  private closed = false;

  constructor(readonly host: ControlPlaneHost) {
    const cfg = host.config.gateway;
    this.comparator = new Comparator(host.config.contract);
    this.tokens = parseAdminTokens(host.env.FICUS_ADMIN_TOKENS);
    const registers = [host.metrics.registry];
    const shadowOutcomes = new Counter({
      name: 'ficus_shadow_comparisons_total',
      help: 'Shadow calls by outcome: match, mismatch, modern_failed, legacy_failed, dropped, skipped_unsafe',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.fallbackCounter = new Counter({
      name: 'ficus_route_fallbacks_total',
      help: 'Calls answered by legacy because modern failed (canary and fallback modes)',
      labelNames: ['operation'],
      registers,
    });
    const gateMoves = new Counter({
      name: 'ficus_gate_moves_total',
      help: 'Routes moved by their gates, by kind (promote, rollback)',
      labelNames: ['operation', 'kind'],
      registers,
    });
    // Every route that can migrate has its series from the start (at 0), so that alerts on a rate
    // or an increase see the first event, and dashboards show "none yet" rather than "no data".
    for (const route of host.routes.all()) {
      if (!route.modern || !route.legacy) continue;
      for (const outcome of ['match', 'mismatch']) shadowOutcomes.inc({ operation: route.operationId, outcome }, 0);
      for (const kind of ['promote', 'rollback']) gateMoves.inc({ operation: route.operationId, kind }, 0);
    }
    const gates = new Map<string, GatesConfig>();
    for (const [op, rc] of Object.entries(cfg.routes)) if (rc.gates && host.routes.get(op)) gates.set(op, rc.gates);
    this.states = new RouteStates(
      host,
      (op) => gates.get(op),
      (op) => this.shadowStats.resetComparisons(op),
    );
    // The windowed traffic split starts again when a route's state changes (a switch shows at once).
    this.states.on('applied', (e) => this.traffic.stateApplied(e.operationId, stateText(e)));
    this.reconciliations = new Reconciliations(host.store);
    this.gates = new GateScheduler(
      gates,
      this.states,
      this.shadowStats,
      this.traffic,
      host.logger.child({ component: 'gates' }),
      (operation, kind) => gateMoves.inc({ operation, kind }),
      this.reconciliations,
    );
    this.views = new RouteViews(host, this.states, this.gates, this.traffic, this.shadowStats, this.reconciliations);
    this.shadow = new ShadowRunner({
      comparator: this.comparator,
      shadow: this.shadowStats,
      traffic: this.traffic,
      store: this.states.control,
      logger: host.logger.child({ component: 'shadow' }),
      mismatchesKept: cfg.admin.mismatchesKept,
      concurrency: cfg.admin.shadowConcurrency,
      ignoreOf: (op) => this.states.ignoreOf(op),
      headersOf: (op) => {
        const c = cfg.routes[op]?.compare;
        return { headers: c?.headers ?? [], ignoreHeaders: c?.ignoreHeaders ?? [] };
      },
      redactor: redactorFor(host, host.env),
      outcome: (operation, outcome) => shadowOutcomes.inc({ operation, outcome }),
    });
    this.admin = new AdminServer(() => buildAdminApp(this), { port: cfg.admin.port, host: cfg.admin.host, file: host.config.file }, host.logger.child({ component: 'admin' }));
  }

  /** The route state store's tables and rows (audit, mismatches). */
  get control(): ControlStore {
    return this.states.control;
  }

  /** Wires the routes (options, observer), reads (or seeds) every route's state, starts propagation and gates. */
  async start(): Promise<void> {
    const { config, routes } = this.host;
    // The gates and states were checked with the rest of the config (control-feature.ts).
    for (const route of routes.all()) {
      const rc = config.gateway.routes[route.operationId] ?? {};
      route.options = { canaryKey: rc.canary?.key, fallbackToLegacy: rc.canary?.fallbackToLegacy ?? false, sideEffectFree: rc.shadow?.sideEffectFree ?? false, shadowSample: rc.shadow?.sample ?? 100 };
      route.observer = this.observerFor();
    }
    await this.states.start();
    await this.reconciliations.start();
    this.host.singletons.register('gate evaluation', { start: () => this.gates.start(), stop: () => this.gates.stop() });
  }

  private observerFor(): RouteObserver {
    return {
      shadow: (route, req, legacy) => this.shadow.shadow(route, req, legacy),
      fellBack: (route) => {
        this.traffic.fellBack(route.operationId);
        this.fallbackCounter.inc({ operation: route.operationId });
      },
      called: (route, backend, ms, error) => {
        const now = Date.now();
        this.traffic.called(route.operationId, backend, ms, error !== undefined && isBackendFailure(error), now);
        this.traffic.served(route.operationId, backend, now);
      },
    };
  }

  on(event: 'applied', listener: (e: { operationId: string; mode: string; percent: number; version: number; source: string }) => void): this {
    this.states.on(event, listener);
    return this;
  }

  once(event: 'applied', listener: (e: { operationId: string; mode: string; percent: number; version: number; source: string }) => void): this {
    this.states.once(event, listener);
    return this;
  }

  off(event: 'applied', listener: (e: { operationId: string; mode: string; percent: number; version: number; source: string }) => void): this {
    this.states.off(event, listener);
    return this;
  }

  refresh(operationId?: string): Promise<void> {
    return this.states.refresh(operationId);
  }

  routeOrThrow(operationId: string): Route {
    return this.states.routeOrThrow(operationId);
  }

  refusal(route: Route, s: { mode: string; percent: number }): string | undefined {
    return this.states.refusal(route, s);
  }

  ignoreOf(operationId: string): string[] {
    return this.states.ignoreOf(operationId);
  }

  /** Switches a route's mode (a person through the admin API, or a gate). 4xx problems for what cannot be done; nothing changes then. */
  async switchMode(operationId: string, body: SwitchBody, actor: string, opts: { automatic?: boolean; expectVersion?: number } = {}): Promise<SwitchOutcome> {
    const r = await this.states.switchMode(operationId, body, actor, opts);
    return { changed: r.changed, from: stateText(r.before), to: stateText(r.after), route: await this.views.routeView(this.routeOrThrow(operationId)) };
  }

  async setIgnore(operationId: string, body: IgnoreBody, actor: string): Promise<RouteView> {
    const noisy = body.noisy ? this.shadowStats.noisyPaths(operationId).map((n) => n.path) : [];
    await this.states.setIgnore(operationId, body, actor, noisy);
    return this.views.routeView(this.routeOrThrow(operationId));
  }

  async setGatesPaused(operationId: string, body: GatesBody, actor: string): Promise<RouteView> {
    await this.states.setGatesPaused(operationId, body, actor);
    return this.views.routeView(this.routeOrThrow(operationId));
  }

  /** One round of the gates (the scheduler runs one a second). */
  evaluateGates(now = Date.now()): Promise<void> {
    return this.gates.evaluate(now);
  }

  routeView(route: Route): Promise<RouteView> {
    return this.views.routeView(route);
  }

  routeViews(): Promise<RouteView[]> {
    return this.views.routeViews();
  }

  overview(): ReturnType<RouteViews['overview']> {
    return this.views.overview();
  }

  /** What the dashboard shows first: splits over a window, backends over the last `minutes`, queues (dashboard-view.ts). */
  dashboard(opts: { minutes: number; splitMs?: number }): Promise<DashboardView> {
    return dashboardView({ host: this.host, traffic: this.traffic, readiness: () => this.views.cachedReadiness(), ...(this.workerParts ? { workers: this.workerParts } : {}) }, opts);
  }

  /** This process's part of a cluster's dashboard (its traffic and bindings). */
  dashboardPart(): DashboardPart {
    return dashboardPart(this.host, this.traffic);
  }

  /** Under `ficus start --workers N`: gathers every worker's `dashboardPart` (set by the worker's start). */
  workerParts: (() => Promise<DashboardPart[]>) | undefined;

  mismatches(operationId: string, limit: number): Promise<MismatchRecord[]> {
    this.routeOrThrow(operationId);
    return this.control.mismatches(operationId, limit);
  }

  auditLog(opts: { operationId?: string; consumer?: string; limit: number; beforeId?: number }): Promise<AuditEntry[]> {
    if (opts.operationId) this.routeOrThrow(opts.operationId);
    return this.control.auditLog(opts);
  }

  /** Starts the admin server (admin API, dashboard, other features' admin routers); resolves with its URL. */
  listen(port?: number, host?: string): Promise<string> {
    return this.admin.listen(port, host);
  }

  get adminUrl(): string | undefined {
    return this.admin.url;
  }

  /** Drains the admin server like the API: what is in flight finishes within `graceMs`. */
  stopAdmin(graceMs: number): Promise<void> {
    return this.admin.close(graceMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.gates.close();
    await this.admin.close();
    await this.states.close();
    await this.shadow.drain();
  }
}

export type { Backend };
