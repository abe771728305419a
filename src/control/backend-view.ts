/**
 * The dashboard's backends: per adapter, its requests, errors and latency over the last hour as a
 * per-minute series (every route it serves added up, traffic-series.ts), its health and each
 * binding's circuit, and how fresh its data is: when it last answered, when it last failed, and for
 * an adapter serving exports (the sftp kind) the age of each export it serves. This instance's
 * traffic; the health is the last readiness round's.
 */
import type { FeatureHost } from '../features/feature.ts';
import type { ReadinessReport } from '../http/app.ts';
import { readMetric } from '../observability/metric-reader.ts';
import type { BoundBinding } from '../routing/route-table.ts';
import { SeriesSum, type MinutePoint, type SeriesTotals } from './traffic-series.ts';
import type { TrafficStats } from './traffic-stats.ts';

export interface BackendPanel {
  adapter: string;
  kind: string;
  /** legacy or modern; null for an adapter that serves no route (a change feed's only). */
  role: string | null;
  /** The last health check (null: none yet). */
  up: boolean | null;
  detail?: string;
  /** Each binding's circuit breaker: closed, open, half-open, isolated, or none (no breaker). */
  circuits: { operation: string; state: string }[];
  /** Requests per minute, oldest first, the current (partial) minute last. */
  series: MinutePoint[];
  lastHour: SeriesTotals;
  last5m: SeriesTotals;
  freshness: {
    /** When a call last got an answer from it (ISO 8601), and how long ago; null: not since start. */
    lastSuccessAt: string | null;
    lastSuccessAgeSeconds: number | null;
    lastFailureAt: string | null;
    /** The exports it serves (sftp reads): the export time each carries and its age now; empty for others. */
    exports: { operation: string; ageSeconds: number }[];
  };
}

async function exportAges(host: FeatureHost): Promise<Map<string, { operation: string; ageSeconds: number }[]>> {
  const out = new Map<string, { operation: string; ageSeconds: number }[]>();
  for (const v of await readMetric(host.metrics.registry, 'ficus_sftp_export_age_seconds')) {
    const adapter = String(v.labels.adapter);
    const list = out.get(adapter) ?? [];
    list.push({ operation: String(v.labels.operation), ageSeconds: Math.round(v.value) });
    out.set(adapter, list);
  }
  return out;
}

/** A binding's freshness and circuit, as one worker of a cluster sends them (keyed by `bindingKey`). */
export interface BindingState {
  lastAnsweredAt: number;
  lastFailedAt: number;
  circuit: string;
}

export function bindingKey(operationId: string, backend: string): string {
  return `${operationId} ${backend}`;
}

/** This process's bindings' freshness and circuits. */
export function bindingStates(host: FeatureHost): Record<string, BindingState> {
  const out: Record<string, BindingState> = {};
  for (const route of host.routes.all()) {
    for (const b of [route.legacy, route.modern]) {
      if (b) out[bindingKey(route.operationId, b.backend)] = { lastAnsweredAt: b.lastAnsweredAt, lastFailedAt: b.lastFailedAt, circuit: b.policy.circuitState };
    }
  }
  return out;
}

const CIRCUIT_RANK: Record<string, number> = { open: 4, 'half-open': 3, isolated: 2, closed: 1, none: 0 };

/** Several workers' binding states as one: the latest answer and failure, the worst circuit (open where any worker's is open). */
export function mergedBindingStates(parts: readonly Record<string, BindingState>[]): Map<string, BindingState> {
  const out = new Map<string, BindingState>();
  for (const part of parts) {
    for (const [key, s] of Object.entries(part)) {
      const had = out.get(key);
      if (!had) out.set(key, { ...s });
      else {
        had.lastAnsweredAt = Math.max(had.lastAnsweredAt, s.lastAnsweredAt);
        had.lastFailedAt = Math.max(had.lastFailedAt, s.lastFailedAt);
        if ((CIRCUIT_RANK[s.circuit] ?? 0) > (CIRCUIT_RANK[had.circuit] ?? 0)) had.circuit = s.circuit;
      }
    }
  }
  return out;
}

export async function backendPanels(
  host: FeatureHost,
  traffic: TrafficStats,
  ready: ReadinessReport | undefined,
  minutes: number,
  now = Date.now(),
  /** Every worker's binding states merged (a cluster); this process's bindings otherwise. */
  states?: Map<string, BindingState>,
): Promise<BackendPanel[]> {
  const byAdapter = new Map<string, { kind: string; role: string | null; bindings: BoundBinding[]; sum: SeriesSum }>();
  const entry = (adapter: string, kind: string, role: string | null) => {
    let e = byAdapter.get(adapter);
    if (!e) {
      e = { kind, role, bindings: [], sum: new SeriesSum(now, minutes) };
      byAdapter.set(adapter, e);
    }
    return e;
  };
  for (const route of host.routes.all()) {
    for (const b of [route.legacy, route.modern]) {
      if (!b) continue;
      const e = entry(b.adapter, b.kind, b.backend);
      e.bindings.push(b);
      traffic.series(route.operationId, b.backend)?.addInto(e.sum);
    }
  }
  for (const [name, a] of Object.entries(ready?.adapters ?? {})) entry(name, a.kind, null);
  const exports = await exportAges(host);
  const iso = (ms: number) => (ms === 0 ? null : new Date(ms).toISOString());
  return [...byAdapter.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([adapter, e]) => {
      const r = ready?.adapters[adapter];
      const state = (b: BoundBinding): BindingState =>
        states?.get(bindingKey(b.operationId, b.backend)) ?? { lastAnsweredAt: b.lastAnsweredAt, lastFailedAt: b.lastFailedAt, circuit: b.policy.circuitState };
      const lastSuccess = Math.max(0, ...e.bindings.map((b) => state(b).lastAnsweredAt));
      const lastFailure = Math.max(0, ...e.bindings.map((b) => state(b).lastFailedAt));
      return {
        adapter,
        kind: e.kind,
        role: e.role,
        up: r ? r.ok : null,
        ...(r?.detail ? { detail: r.detail } : {}),
        circuits: e.bindings.map((b) => ({ operation: b.operationId, state: state(b).circuit })),
        series: e.sum.points(),
        lastHour: e.sum.totals(),
        last5m: e.sum.totals(5),
        freshness: {
          lastSuccessAt: iso(lastSuccess),
          lastSuccessAgeSeconds: lastSuccess === 0 ? null : Math.max(0, Math.round((now - lastSuccess) / 1000)),
          lastFailureAt: iso(lastFailure),
          exports: exports.get(adapter) ?? [],
        },
      };
    });
}
