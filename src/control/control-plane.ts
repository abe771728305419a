/**
 * The control plane of one gateway instance: each route's mode, canary percentage, ignore rules and
 * gate pause, kept in the state store (seeded from ficus.yaml, surviving restarts, shared by every
 * instance on the same PostgreSQL), switched at run time with a reason and audited; the figures
 * behind the dashboard (traffic, errors and latency per backend, shadow comparisons, mismatches,
 * noise); the promotion and rollback gates; and the admin server.
 */
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import { Counter, Gauge } from 'prom-client';
import { Comparator } from '../compare/comparator.ts';
import { ConfigError, ConfigErrors } from '../config/config-error.ts';
import type { Env } from '../config/env.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import type { ReadinessReport } from '../http/app.ts';
import type { Logger } from '../observability/logger.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { Problem, ProblemType, problems } from '../problem.ts';
import { isBackendFailure } from '../resilience/binding-policy.ts';
import type { Backend, BoundBinding, Route, RouteObserver, RouteTable } from '../routing/route-table.ts';
import type { SqlStore } from '../state/sql-store.ts';
import { buildAdminApp } from './admin-app.ts';
import { parseAdminTokens, type AdminTokens } from './admin-tokens.ts';
import { ControlStore, type AuditEntry, type MismatchRecord, type StoredRouteState } from './control-store.ts';
import { decide, isDecision } from './gates.ts';
import { StatePropagation } from './propagation.ts';
import { stateText, type GatesConfig, type StateSpec } from './route-config.ts';
import { ShadowRunner } from './shadow-runner.ts';
import { ShadowStats, type ShadowFigures } from './shadow-stats.ts';
import type { GatesBody, IgnoreBody, SwitchBody } from './switch-request.ts';
import { TrafficStats, type BackendFigures } from './traffic-stats.ts';

/** What the control plane needs of a gateway (src/gateway.ts gives all of it). */
export interface ControlPlaneHost {
  config: LoadedConfig;
  logger: Logger;
  metrics: GatewayMetrics;
  routes: RouteTable;
  store: SqlStore;
  adminRoutes: { prefix: string; router: Router }[];
  closeHooks: (() => Promise<void>)[];
  readiness(): Promise<ReadinessReport>;
}

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
  gates: { paused: boolean; steps: string[]; rollback: string | null; waitingFor: string | null } | null;
}

export interface SwitchOutcome {
  changed: boolean;
  from: string;
  to: string;
  route: RouteView;
}

const MODES_NEEDING_MODERN = new Set(['shadow', 'canary', 'fallback', 'modern']);
const MODES_NEEDING_LEGACY = new Set(['legacy', 'shadow', 'canary', 'fallback']);
const MODE_WEIGHT: Record<string, number> = { legacy: 0, shadow: 0, fallback: 1, modern: 1 };

export class ControlPlane extends EventEmitter {
  readonly traffic = new TrafficStats();
  readonly shadowStats = new ShadowStats();
  readonly comparator: Comparator;
  readonly control: ControlStore;
  readonly tokens: AdminTokens;
  readonly shadow: ShadowRunner;
  private readonly stored = new Map<string, StoredRouteState>();
  /** When this instance put each route's current state in force. */
  private readonly appliedAt = new Map<string, string>();
  private readonly gates = new Map<string, GatesConfig>();
  private readonly configIgnore = new Map<string, string[]>();
  private propagation: StatePropagation | undefined;
  private gateTimer: NodeJS.Timeout | undefined;
  private adminServer: Server | undefined;
  private readiness: { at: number; report: ReadinessReport } | undefined;
  private readinessRefresh: Promise<void> | undefined;
  private readonly shadowOutcomes: Counter<'operation' | 'outcome'>;
  private readonly fallbackCounter: Counter<'operation'>;
  private readonly modeGauge: Gauge<'operation' | 'mode'>;
  private closed = false;

  constructor(
    readonly host: ControlPlaneHost,
    env: Env,
  ) {
    super();
    const cfg = host.config.gateway;
    this.comparator = new Comparator(host.config.contract);
    this.control = new ControlStore(host.store);
    this.tokens = parseAdminTokens(env.FICUS_ADMIN_TOKENS);
    const registers = [host.metrics.registry];
    this.shadowOutcomes = new Counter({ name: 'ficus_shadow_comparisons_total', help: 'Shadow calls by outcome: match, mismatch, modern_failed, legacy_failed, dropped, skipped_unsafe', labelNames: ['operation', 'outcome'], registers });
    this.fallbackCounter = new Counter({ name: 'ficus_route_fallbacks_total', help: 'Calls answered by legacy because modern failed (canary and fallback modes)', labelNames: ['operation'], registers });
    this.modeGauge = new Gauge({ name: 'ficus_route_mode', help: 'The mode each route is in (1 for its mode), with canary_percent as the value for canary', labelNames: ['operation', 'mode'], registers });
    this.shadow = new ShadowRunner({
      comparator: this.comparator,
      shadow: this.shadowStats,
      traffic: this.traffic,
      store: this.control,
      logger: host.logger.child({ component: 'shadow' }),
      mismatchesKept: cfg.admin.mismatchesKept,
      concurrency: cfg.admin.shadowConcurrency,
      ignoreOf: (op) => this.ignoreOf(op),
      outcome: (operation, outcome) => this.shadowOutcomes.inc({ operation, outcome }),
    });
  }

  /** Creates the tables, reads (or seeds) every route's state, wires the routes, starts propagation and gates. */
  async start(): Promise<void> {
    const { config, routes, logger } = this.host;
    const errors: ConfigError[] = [];
    for (const route of routes.all()) {
      const rc = config.gateway.routes[route.operationId] ?? {};
      route.options = { canaryKey: rc.canary?.key, fallbackToLegacy: rc.canary?.fallbackToLegacy ?? false, sideEffectFree: rc.shadow?.sideEffectFree ?? false, shadowSample: rc.shadow?.sample ?? 100 };
      this.configIgnore.set(route.operationId, rc.compare?.ignore ?? []);
      if (rc.gates) {
        const key = `routes.${route.operationId}.gates`;
        rc.gates.steps.forEach((s, i) => {
          for (const [which, target] of [['from', s.from], ['to', s.to]] as const) {
            const why = this.refusal(route, target);
            if (why) errors.push(new ConfigError(config.file, `${key}.steps[${i}].${which}`, why, `use a state this route can take (${this.possibleStates(route)})`));
          }
        });
        if (rc.gates.rollback) {
          const why = this.refusal(route, rc.gates.rollback.to);
          if (why) errors.push(new ConfigError(config.file, `${key}.rollback.to`, why, `use a state this route can take (${this.possibleStates(route)})`));
        }
        this.gates.set(route.operationId, rc.gates);
      }
      route.observer = this.observerFor();
    }
    if (errors.length > 0) throw new ConfigErrors(errors);

    await this.control.migrate();
    for (const route of routes.all()) await this.seed(route);
    const pollMs = config.gateway.admin.pollMs ?? (this.host.store.pgPool ? 2_000 : 500);
    this.propagation = new StatePropagation(this.host.store, pollMs, logger.child({ component: 'control' }), (op) => void this.refresh(op));
    await this.propagation.start();
    if (this.gates.size > 0) {
      this.gateTimer = setInterval(() => void this.evaluateGates(), 1_000);
      this.gateTimer.unref();
    }
    this.host.closeHooks.push(() => this.close());
  }

  private observerFor(): RouteObserver {
    return {
      shadow: (route, req, legacy) => this.shadow.shadow(route, req, legacy),
      fellBack: (route) => {
        this.traffic.fellBack(route.operationId);
        this.fallbackCounter.inc({ operation: route.operationId });
      },
      called: (route, backend, ms, error) => {
        this.traffic.called(route.operationId, backend, ms, error !== undefined && isBackendFailure(error));
        this.traffic.served(route.operationId, backend);
      },
    };
  }

  private configSeed(route: Route): StateSpec {
    const rc = this.host.config.gateway.routes[route.operationId] ?? {};
    const mode = route.state.mode;
    return { mode, percent: mode === 'canary' ? (rc.percent ?? 0) : 0 };
  }

  /** First start: the config's state. Later: the stored one, unless ficus.yaml's initial state for the route was edited since. */
  private async seed(route: Route): Promise<void> {
    const seed = this.configSeed(route);
    const seedText = stateText(seed);
    const now = new Date().toISOString();
    const gates = this.gates.get(route.operationId);
    let row = await this.control.get(route.operationId);
    if (!row) {
      const fresh: StoredRouteState = { operationId: route.operationId, mode: seed.mode, percent: seed.percent, ignore: [], gatesPaused: gates?.paused ?? false, seed: seedText, version: 1, changedAt: now, changedBy: 'config' };
      await this.host.store.transaction(async (tx) => {
        if (await this.control.insert(fresh, tx)) await this.control.audit({ at: now, actor: 'config', automatic: true, operationId: route.operationId, action: 'config', from: null, to: seedText, reason: `initial state from ${this.host.config.file}` }, tx);
      });
      row = (await this.control.get(route.operationId)) as StoredRouteState;
    } else if (row.seed !== seedText) {
      const before: StoredRouteState = row;
      const next: StoredRouteState = { ...row, mode: seed.mode, percent: seed.percent, seed: seedText, version: row.version + 1, changedAt: now, changedBy: 'config' };
      const updated = await this.host.store.transaction(async (tx) => {
        if (!(await this.control.update(next, before.version, tx))) return false;
        await this.control.audit({ at: now, actor: 'config', automatic: true, operationId: route.operationId, action: 'config', from: stateText(before), to: seedText, reason: `${this.host.config.file} now starts this route in ${seedText} (it said ${before.seed})` }, tx);
        await this.control.notify(route.operationId, tx);
        return true;
      });
      row = updated ? next : ((await this.control.get(route.operationId)) as StoredRouteState);
    }
    this.apply(route, row, 'start');
  }

  /** Re-reads one route's state (or all) and applies what changed. */
  async refresh(operationId?: string): Promise<void> {
    if (this.closed) return;
    try {
      const rows = operationId ? [await this.control.get(operationId)].filter((r): r is StoredRouteState => r !== undefined) : await this.control.all();
      for (const row of rows) {
        const route = this.host.routes.get(row.operationId);
        const known = this.stored.get(row.operationId);
        if (route && (!known || row.version > known.version)) this.apply(route, row, 'remote');
      }
    } catch (err) {
      if (!this.closed) this.host.logger.warn({ err }, 'cannot read route state from the state store');
    }
  }

  private apply(route: Route, row: StoredRouteState, source: 'start' | 'local' | 'remote'): void {
    const before = this.stored.get(route.operationId);
    const spec = { mode: row.mode as StateSpec['mode'], percent: row.percent };
    const why = this.refusal(route, spec);
    if (why) {
      this.host.logger.error({ operation: route.operationId, state: stateText(row) }, `stored state not applied on this instance: ${why}`);
      this.stored.set(route.operationId, { ...row, mode: route.state.mode, percent: route.state.percent });
      return;
    }
    this.stored.set(route.operationId, row);
    this.appliedAt.set(route.operationId, new Date().toISOString());
    route.state = { mode: spec.mode, percent: spec.percent };
    if (before && JSON.stringify(before.ignore) !== JSON.stringify(row.ignore)) {
      this.shadowStats.resetComparisons(route.operationId);
    }
    for (const mode of ['legacy', 'shadow', 'canary', 'fallback', 'modern']) {
      this.modeGauge.set({ operation: route.operationId, mode }, mode === spec.mode ? (mode === 'canary' ? spec.percent : 1) : 0);
    }
    this.emit('applied', { operationId: route.operationId, mode: spec.mode, percent: spec.percent, version: row.version, source });
  }

  /** Why a route cannot take a state, or undefined when it can. */
  refusal(route: Route, s: { mode: string; percent: number }): string | undefined {
    if (MODES_NEEDING_MODERN.has(s.mode) && !route.modern) return `${s.mode} needs a modern backend, and ${route.operationId} has no modern binding (add ${route.operationId} to a modern adapter first)`;
    if (MODES_NEEDING_LEGACY.has(s.mode) && !route.legacy) return `${s.mode} needs a legacy backend, and ${route.operationId} has no legacy binding`;
    return undefined;
  }

  private possibleStates(route: Route): string {
    return ['legacy', 'shadow', 'canary <percent>', 'fallback', 'modern'].filter((m) => !this.refusal(route, { mode: m.split(' ')[0], percent: 0 })).join(', ');
  }

  routeOrThrow(operationId: string): Route {
    const route = this.host.routes.get(operationId);
    if (!route) throw new Problem(404, ProblemType.notFound, 'No such route', { detail: `no operation "${operationId}" in ${this.host.config.gateway.contract}; known: ${this.host.routes.all().map((r) => r.operationId).join(', ')}` });
    return route;
  }

  ignoreOf(operationId: string): string[] {
    return [...new Set([...(this.configIgnore.get(operationId) ?? []), ...(this.stored.get(operationId)?.ignore ?? [])])];
  }

  /**
   * Changes a route's stored row in one transaction (compare-and-set on its version), audits it,
   * notifies the other instances and applies it here. `change` returns the new row, or undefined for
   * no change.
   */
  private async change(
    operationId: string,
    audit: { actor: string; automatic: boolean; action: string; reason: string; from: (r: StoredRouteState) => string; to: (r: StoredRouteState) => string },
    change: (r: StoredRouteState) => StoredRouteState | undefined,
    expectVersion?: number,
  ): Promise<{ changed: boolean; before: StoredRouteState; after: StoredRouteState }> {
    const route = this.routeOrThrow(operationId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.control.get(operationId);
      if (!current) throw problems.internal(`route ${operationId} has no stored state`);
      if (expectVersion !== undefined && current.version !== expectVersion) return { changed: false, before: current, after: current };
      const next = change(current);
      if (!next) return { changed: false, before: current, after: current };
      const at = new Date().toISOString();
      const row: StoredRouteState = { ...next, version: current.version + 1 };
      const ok = await this.host.store.transaction(async (tx) => {
        if (!(await this.control.update(row, current.version, tx))) return false;
        await this.control.audit({ at, actor: audit.actor, automatic: audit.automatic, operationId, action: audit.action, from: audit.from(current), to: audit.to(row), reason: audit.reason }, tx);
        await this.control.notify(operationId, tx);
        return true;
      });
      if (ok) {
        this.apply(route, row, 'local');
        return { changed: true, before: current, after: row };
      }
      if (expectVersion !== undefined) return { changed: false, before: current, after: current };
    }
    throw new Problem(409, ProblemType.conflict, 'The route is being changed by someone else', { detail: `route ${operationId} changed five times while this switch was tried; try again` });
  }

  /** Switches a route's mode (a person through the admin API, or a gate). 4xx problems for what cannot be done; nothing changes then. */
  async switchMode(operationId: string, body: SwitchBody, actor: string, opts: { automatic?: boolean; expectVersion?: number } = {}): Promise<SwitchOutcome> {
    const route = this.routeOrThrow(operationId);
    const target = { mode: body.mode, percent: body.mode === 'canary' ? (body.percent ?? 0) : 0 };
    const why = this.refusal(route, target);
    if (why) throw new Problem(409, ProblemType.conflict, 'This route cannot take that mode', { detail: why, errors: [{ field: 'body.mode', message: why }] });
    const r = await this.change(
      operationId,
      { actor, automatic: opts.automatic ?? false, action: 'mode', reason: body.reason, from: stateText, to: stateText },
      (cur) => (cur.mode === target.mode && cur.percent === target.percent ? undefined : { ...cur, mode: target.mode, percent: target.percent, changedAt: new Date().toISOString(), changedBy: actor }),
      opts.expectVersion,
    );
    if (r.changed) this.host.logger.info({ operation: operationId, from: stateText(r.before), to: stateText(r.after), actor, reason: body.reason, automatic: opts.automatic ?? false }, 'route mode switched');
    return { changed: r.changed, from: stateText(r.before), to: stateText(r.after), route: await this.routeView(route) };
  }

  async setIgnore(operationId: string, body: IgnoreBody, actor: string): Promise<RouteView> {
    const route = this.routeOrThrow(operationId);
    const noisy = body.noisy ? this.shadowStats.noisyPaths(operationId).map((n) => n.path) : [];
    if (body.noisy && noisy.length === 0 && body.add.length === 0 && body.remove.length === 0) {
      throw new Problem(409, ProblemType.conflict, 'No noisy paths found yet', { detail: `no noise has been seen on ${operationId} by this instance yet: noise is found when a shadow mismatch is checked against a second legacy answer` });
    }
    const list = (ignore: string[]) => JSON.stringify([...ignore].sort());
    await this.change(
      operationId,
      { actor, automatic: false, action: 'ignore', reason: body.reason, from: (r) => list(r.ignore), to: (r) => list(r.ignore) },
      (cur) => {
        const next = [...new Set([...cur.ignore, ...body.add, ...noisy])].filter((p) => !body.remove.includes(p));
        return list(next) === list(cur.ignore) ? undefined : { ...cur, ignore: next.sort() };
      },
    );
    return this.routeView(route);
  }

  async setGatesPaused(operationId: string, body: GatesBody, actor: string): Promise<RouteView> {
    const route = this.routeOrThrow(operationId);
    if (!this.gates.has(operationId)) throw new Problem(409, ProblemType.conflict, 'This route has no gates', { detail: `${operationId} has no gates in ${this.host.config.file} (routes.${operationId}.gates)` });
    const text = (r: StoredRouteState) => (r.gatesPaused ? 'paused' : 'active');
    await this.change(operationId, { actor, automatic: false, action: 'gates', reason: body.reason, from: text, to: text }, (cur) => (cur.gatesPaused === body.paused ? undefined : { ...cur, gatesPaused: body.paused }));
    return this.routeView(route);
  }

  /** One round of the gates: each route with gates, not paused, may move (audited as actor `gate`). */
  async evaluateGates(now = Date.now()): Promise<void> {
    for (const [operationId, gates] of this.gates) {
      const row = this.stored.get(operationId);
      if (!row || row.gatesPaused || this.closed) continue;
      const d = decide(gates, { mode: row.mode, percent: row.percent, changedAtMs: Date.parse(row.changedAt) }, this.figuresFor(operationId), now);
      if (!isDecision(d)) continue;
      try {
        const to = d.to;
        await this.switchMode(operationId, { mode: to.mode, percent: to.mode === 'canary' ? to.percent : undefined, reason: d.reason }, 'gate', { automatic: true, expectVersion: row.version });
      } catch (err) {
        this.host.logger.error({ err, operation: operationId }, 'a gate could not move the route');
      }
    }
  }

  private figuresFor(operationId: string) {
    return {
      matchRate: (n: number) => this.shadowStats.recentMatchRate(operationId, n),
      modernWindow: (ms: number) => this.traffic.modernWindow(operationId, ms),
    };
  }

  /** The last readiness report; refreshed in the background when older than 5 s, so that the admin API never waits on health checks once it has one. */
  private async cachedReadiness(): Promise<ReadinessReport | undefined> {
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
    const row = this.stored.get(op);
    const t = this.traffic.figures(op);
    const served = t.legacy.served + t.modern.served;
    const gates = this.gates.get(op);
    const readiness = ready ?? (await this.cachedReadiness());
    let waitingFor: string | null = null;
    if (gates && row) {
      const d = decide(gates, { mode: row.mode, percent: row.percent, changedAtMs: Date.parse(row.changedAt) }, this.figuresFor(op), Date.now());
      waitingFor = isDecision(d) ? `moving: ${d.reason}` : d.waitingFor;
    }
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
      appliedAt: this.appliedAt.get(op) ?? '',
      legacy: this.backendView(route.legacy, t.legacy, readiness),
      modern: this.backendView(route.modern, t.modern, readiness),
      modernShare: served === 0 ? null : Math.round((t.modern.served / served) * 10_000) / 100,
      fallbacks: t.fallbacks,
      canary: { key: route.options.canaryKey ?? null, fallbackToLegacy: route.options.fallbackToLegacy },
      shadow: { ...this.shadowStats.figures(op), sideEffectFree: route.options.sideEffectFree, sample: route.options.shadowSample ?? 100, noisy: this.shadowStats.noisyPaths(op) },
      compare: { ignore: { config: this.configIgnore.get(op) ?? [], runtime: row?.ignore ?? [] } },
      gates: gates
        ? {
            paused: row?.gatesPaused ?? false,
            steps: gates.steps.map((s) => `${stateText(s.from)} → ${stateText(s.to)} when ${[s.matchRate !== undefined ? `match rate ≥ ${s.matchRate}% over ${s.calls} comparisons` : '', s.clean !== undefined ? `clean for ${s.clean / 1000}s` : ''].filter(Boolean).join(' and ')}`),
            rollback: gates.rollback ? `→ ${stateText(gates.rollback.to)} when modern's error rate over ${gates.rollback.window / 1000}s passes ${gates.rollback.errorRate}% (at least ${gates.rollback.minCalls} calls)` : null,
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
      propagation: this.propagation?.method ?? 'not started',
    };
  }

  mismatches(operationId: string, limit: number): Promise<MismatchRecord[]> {
    this.routeOrThrow(operationId);
    return this.control.mismatches(operationId, limit);
  }

  auditLog(opts: { operationId?: string; limit: number; beforeId?: number }): Promise<AuditEntry[]> {
    if (opts.operationId) this.routeOrThrow(opts.operationId);
    return this.control.auditLog(opts);
  }

  /** Starts the admin server (admin API, dashboard, other features' admin routers); resolves with its URL. */
  async listen(port = this.host.config.gateway.admin.port, host = this.host.config.gateway.admin.host): Promise<string> {
    const app = buildAdminApp(this);
    const server = app.listen(port, host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(`the admin server cannot listen on ${host}:${port} (${err.code ?? err.message}): choose another port with FICUS_ADMIN_PORT or admin.port in ${this.host.config.file}, or turn it off with admin.enabled: false`)),
      );
    });
    this.adminServer = server;
    return this.adminUrl as string;
  }

  get adminUrl(): string | undefined {
    const addr = this.adminServer?.address() as AddressInfo | null | undefined;
    if (!addr) return undefined;
    const h = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    return `http://${h}:${addr.port}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.gateTimer) clearInterval(this.gateTimer);
    const server = this.adminServer;
    this.adminServer = undefined;
    if (server) {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    }
    await this.propagation?.close();
    await this.shadow.drain();
  }
}

export type { Backend };
