/**
 * Each route's state (mode, canary percentage, runtime ignore rules, gate pause) kept in the state
 * store: seeded from ficus.yaml, surviving restarts, shared by every instance on the same store,
 * changed by compare-and-set with an audit entry, and put in force on this instance (propagated
 * from others by LISTEN/NOTIFY or polling). Emits `applied` for each state put in force.
 */
import { EventEmitter } from 'node:events';
import { Gauge } from 'prom-client';
import type { FeatureHost } from '../features/feature.ts';
import { PROBLEMS, Problem, problems } from '../problem.ts';
import type { Route } from '../routing/route-table.ts';
import { OutageLog } from '../state/sql-store.ts';
import { ControlStore, type StoredRouteState } from './control-store.ts';
import { StatePropagation } from './propagation.ts';
import { stateRefusal, stateText, type StateSpec } from './route-config.ts';
import type { GatesBody, IgnoreBody, SwitchBody } from './switch-request.ts';

export interface StateChange {
  changed: boolean;
  before: StoredRouteState;
  after: StoredRouteState;
}

export class RouteStates extends EventEmitter {
  readonly control: ControlStore;
  private readonly stored = new Map<string, StoredRouteState>();
  /** When this instance put each route's current state in force. */
  private readonly appliedAt = new Map<string, string>();
  private readonly configIgnore = new Map<string, string[]>();
  private readonly modeGauge: Gauge<'operation' | 'mode'>;
  private propagation: StatePropagation | undefined;
  private closed = false;
  private readonly storeOutage: OutageLog;

  constructor(
    private readonly host: FeatureHost,
    /** Whether a route has gates configured, and their pause state at first start. */
    private readonly gatesOf: (operationId: string) => { paused: boolean } | undefined,
    /** Told when a route's runtime ignore rules change (its comparisons so far no longer count). */
    private readonly ignoreChanged: (operationId: string) => void,
  ) {
    super();
    this.storeOutage = new OutageLog(host.logger, 'route state');
    this.control = new ControlStore(host.store);
    this.modeGauge = new Gauge({
      name: 'ficus_route_mode',
      help: 'The mode each route is in (1 for its mode), with canary_percent as the value for canary',
      labelNames: ['operation', 'mode'],
      registers: [host.metrics.registry],
      // Every worker of a cluster is in the same mode (shared state store): one value, not a sum.
      aggregator: 'max',
    });
    for (const route of host.routes.all()) this.configIgnore.set(route.operationId, host.config.gateway.routes[route.operationId]?.compare?.ignore ?? []);
  }

  /** Creates the tables, reads (or seeds) every route's state, starts propagation. */
  async start(): Promise<void> {
    const { config, routes, logger } = this.host;
    await this.control.migrate();
    for (const route of routes.all()) await this.seed(route);
    const pollMs = config.gateway.admin.pollMs ?? (this.host.store.pgPool ? 2_000 : 500);
    this.propagation = new StatePropagation(this.host.store, pollMs, logger.child({ component: 'control' }), (op) => void this.refresh(op));
    await this.propagation.start();
  }

  get propagationMethod(): string {
    return this.propagation?.method ?? 'not started';
  }

  /** The stored row this instance has in force for a route. */
  storedOf(operationId: string): StoredRouteState | undefined {
    return this.stored.get(operationId);
  }

  appliedAtOf(operationId: string): string {
    return this.appliedAt.get(operationId) ?? '';
  }

  configIgnoreOf(operationId: string): string[] {
    return this.configIgnore.get(operationId) ?? [];
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
    const gates = this.gatesOf(route.operationId);
    let row = await this.control.get(route.operationId);
    if (!row) {
      const fresh: StoredRouteState = {
        operationId: route.operationId,
        mode: seed.mode,
        percent: seed.percent,
        ignore: [],
        gatesPaused: gates?.paused ?? false,
        seed: seedText,
        version: 1,
        changedAt: now,
        changedBy: 'config',
      };
      await this.host.store.transaction(async (tx) => {
        if (await this.control.insert(fresh, tx))
          await this.control.audit(
            { at: now, actor: 'config', automatic: true, operationId: route.operationId, action: 'config', from: null, to: seedText, reason: `initial state from ${this.host.config.file}` },
            tx,
          );
      });
      row = (await this.control.get(route.operationId)) as StoredRouteState;
    } else if (row.seed !== seedText) {
      const before: StoredRouteState = row;
      const next: StoredRouteState = { ...row, mode: seed.mode, percent: seed.percent, seed: seedText, version: row.version + 1, changedAt: now, changedBy: 'config' };
      const updated = await this.host.store.transaction(async (tx) => {
        if (!(await this.control.update(next, before.version, tx))) return false;
        await this.control.audit(
          {
            at: now,
            actor: 'config',
            automatic: true,
            operationId: route.operationId,
            action: 'config',
            from: stateText(before),
            to: seedText,
            reason: `${this.host.config.file} now starts this route in ${seedText} (it said ${before.seed})`,
          },
          tx,
        );
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
      this.storeOutage.ok();
    } catch (err) {
      if (!this.closed && !this.storeOutage.failed(err)) this.host.logger.warn({ err }, 'cannot read route state from the state store');
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
      this.ignoreChanged(route.operationId);
    }
    for (const mode of ['legacy', 'shadow', 'canary', 'fallback', 'modern']) {
      this.modeGauge.set({ operation: route.operationId, mode }, mode === spec.mode ? (mode === 'canary' ? spec.percent : 1) : 0);
    }
    this.emit('applied', { operationId: route.operationId, mode: spec.mode, percent: spec.percent, version: row.version, source });
  }

  /** Why a route cannot take a state, or undefined when it can. */
  refusal(route: Route, s: { mode: string; percent: number }): string | undefined {
    return stateRefusal({ operationId: route.operationId, legacy: route.legacy !== undefined, modern: route.modern !== undefined }, s);
  }

  routeOrThrow(operationId: string): Route {
    const route = this.host.routes.get(operationId);
    if (!route)
      throw new Problem(PROBLEMS.notFound, {
        detail: `no operation "${operationId}" in ${this.host.config.gateway.contract}; known: ${this.host.routes
          .all()
          .map((r) => r.operationId)
          .join(', ')}`,
      });
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
  async change(
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
    throw new Problem(PROBLEMS.conflict, { detail: `route ${operationId} changed five times while this switch was tried; try again` });
  }

  /** Switches a route's mode (a person through the admin API, or a gate). 4xx problems for what cannot be done; nothing changes then. */
  async switchMode(operationId: string, body: SwitchBody, actor: string, opts: { automatic?: boolean; expectVersion?: number } = {}): Promise<StateChange> {
    const route = this.routeOrThrow(operationId);
    const target = { mode: body.mode, percent: body.mode === 'canary' ? (body.percent ?? 0) : 0 };
    const why = this.refusal(route, target);
    if (why) throw new Problem(PROBLEMS.conflict, { detail: why, errors: [{ field: 'body.mode', message: why }] });
    const r = await this.change(
      operationId,
      { actor, automatic: opts.automatic ?? false, action: 'mode', reason: body.reason, from: stateText, to: stateText },
      (cur) => (cur.mode === target.mode && cur.percent === target.percent ? undefined : { ...cur, mode: target.mode, percent: target.percent, changedAt: new Date().toISOString(), changedBy: actor }),
      opts.expectVersion,
    );
    if (r.changed)
      this.host.logger.info({ operation: operationId, from: stateText(r.before), to: stateText(r.after), actor, reason: body.reason, automatic: opts.automatic ?? false }, 'route mode switched');
    return r;
  }

  /** Adds and removes runtime ignore rules (`noisy`: the paths found noisy so far). */
  async setIgnore(operationId: string, body: IgnoreBody, actor: string, noisy: string[]): Promise<void> {
    this.routeOrThrow(operationId);
    if (body.noisy && noisy.length === 0 && body.add.length === 0 && body.remove.length === 0) {
      throw new Problem(PROBLEMS.conflict, {
        detail: `no noise has been seen on ${operationId} by this instance yet: noise is found when a shadow mismatch is checked against a second legacy answer`,
      });
    }
    const list = (ignore: string[]) => JSON.stringify([...ignore].sort());
    await this.change(operationId, { actor, automatic: false, action: 'ignore', reason: body.reason, from: (r) => list(r.ignore), to: (r) => list(r.ignore) }, (cur) => {
      const next = [...new Set([...cur.ignore, ...body.add, ...noisy])].filter((p) => !body.remove.includes(p));
      return list(next) === list(cur.ignore) ? undefined : { ...cur, ignore: next.sort() };
    });
  }

  async setGatesPaused(operationId: string, body: GatesBody, actor: string): Promise<void> {
    this.routeOrThrow(operationId);
    if (!this.gatesOf(operationId)) throw new Problem(PROBLEMS.conflict, { detail: `${operationId} has no gates in ${this.host.config.file} (routes.${operationId}.gates)` });
    const text = (r: StoredRouteState) => (r.gatesPaused ? 'paused' : 'active');
    await this.change(operationId, { actor, automatic: false, action: 'gates', reason: body.reason, from: text, to: text }, (cur) =>
      cur.gatesPaused === body.paused ? undefined : { ...cur, gatesPaused: body.paused },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.propagation?.close();
  }
}
