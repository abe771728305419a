/**
 * What the dashboard shows first (GET /dashboard of the admin API), one function per section so
 * that a section can be added beside them: per route, the traffic split over a window and whether it
 * has a modern backend at all; per backend, the last hour per minute, health, circuits and data
 * freshness (backend-view.ts); the queues (queue-view.ts). Traffic figures are this instance's (in
 * memory, since it started), every worker's added up under `ficus start --workers N` (each worker
 * sends its `dashboardPart` through the cluster's primary); the outbox and dead-letter figures are
 * the state store's (every instance's, when they share PostgreSQL).
 */
import { hostname } from 'node:os';
import type { FeatureHost } from '../features/feature.ts';
import type { ReadinessReport } from '../http/app.ts';
import type { Route } from '../routing/route-table.ts';
import { backendPanels, bindingStates, mergedBindingStates, type BackendPanel, type BindingState } from './backend-view.ts';
import { queuesView, type QueuesView } from './queue-view.ts';
import { stateText } from './route-config.ts';
import { TrafficStats, type TrafficSnapshot, type TrafficSplit } from './traffic-stats.ts';

export const SPLIT_WINDOW_MS = 5 * 60_000;

export interface RouteSplitView {
  operationId: string;
  mode: string;
  state: string;
  legacy: string | null;
  /** The modern adapter, or null: the route has no modern backend yet (nothing to split or compare). */
  modern: string | null;
  /** The split over the window (or since the route's last change of state, when later). */
  split: TrafficSplit;
  /** Calls for callers since this instance started, for comparison. */
  sinceStart: { legacy: number; modern: number; modernShare: number | null };
}

export interface DashboardView {
  generatedAt: string;
  /**
   * Whose figures: traffic is this instance's (named), or every worker's of this instance (`workers`:
   * how many answered); queues from the outbox and DLQ are the state store's.
   */
  scope: { instance: string; traffic: 'instance' | 'workers'; workers: number; outbox: 'state store'; recorder: 'instance'; screenPools: 'instance' };
  window: { minutes: number; bucketSeconds: number; splitMs: number };
  /** Every route's split added up (each over its own window: the split window, or since its last change). */
  split: { legacy: number; modern: number; modernShare: number | null };
  routes: RouteSplitView[];
  backends: BackendPanel[];
  queues: QueuesView;
}

export interface DashboardDeps {
  host: FeatureHost;
  traffic: TrafficStats;
  readiness: () => Promise<ReadinessReport | undefined>;
  /** Under `ficus start --workers N`: every worker's part (this one's included), through the primary. */
  workers?: () => Promise<DashboardPart[]>;
}

/** One worker's traffic and binding states, as plain data (what the primary passes between workers). */
export interface DashboardPart {
  traffic: TrafficSnapshot;
  bindings: Record<string, BindingState>;
}

export function dashboardPart(host: FeatureHost, traffic: TrafficStats): DashboardPart {
  return { traffic: traffic.snapshot(), bindings: bindingStates(host) };
}

const INSTANCE = `${hostname()}:${process.pid}`;

export function routeSplit(route: Route, traffic: TrafficStats, windowMs: number, now: number): RouteSplitView {
  const t = traffic.figures(route.operationId, now);
  const served = t.legacy.served + t.modern.served;
  return {
    operationId: route.operationId,
    mode: route.state.mode,
    state: stateText(route.state),
    legacy: route.legacy?.adapter ?? null,
    modern: route.modern?.adapter ?? null,
    split: traffic.split(route.operationId, windowMs, now),
    sinceStart: { legacy: t.legacy.served, modern: t.modern.served, modernShare: served === 0 ? null : Math.round((t.modern.served / served) * 10_000) / 100 },
  };
}

export async function dashboardView(deps: DashboardDeps, opts: { minutes: number; splitMs?: number }, now = Date.now()): Promise<DashboardView> {
  const splitMs = opts.splitMs ?? SPLIT_WINDOW_MS;
  const ready = await deps.readiness();
  const parts = deps.workers ? await deps.workers() : undefined;
  const traffic = parts ? TrafficStats.merged(parts.map((p) => p.traffic)) : deps.traffic;
  const states = parts ? mergedBindingStates(parts.map((p) => p.bindings)) : undefined;
  const [backends, queues] = await Promise.all([backendPanels(deps.host, traffic, ready, opts.minutes, now, states), queuesView(deps.host, now)]);
  const routes = deps.host.routes.all().map((r) => routeSplit(r, traffic, splitMs, now));
  const legacy = routes.reduce((n, r) => n + r.split.legacy, 0);
  const modern = routes.reduce((n, r) => n + r.split.modern, 0);
  return {
    generatedAt: new Date(now).toISOString(),
    scope: { instance: INSTANCE, traffic: parts ? 'workers' : 'instance', workers: parts?.length ?? 1, outbox: 'state store', recorder: 'instance', screenPools: 'instance' },
    window: { minutes: opts.minutes, bucketSeconds: 60, splitMs },
    split: { legacy, modern, modernShare: legacy + modern === 0 ? null : Math.round((modern / (legacy + modern)) * 10_000) / 100 },
    routes,
    backends,
    queues,
  };
}
