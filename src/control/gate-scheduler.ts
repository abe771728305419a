/**
 * The promotion and rollback gates: once a second, each route with gates (not paused) is judged on
 * its shadow match rate, modern's error rate and its latest reconciliation, and moved through `RouteStates` as actor `gate`.
 */
import type { Logger } from '../observability/logger.ts';
import { decide, isDecision } from './gates.ts';
import type { Reconciliations } from './reconciliations.ts';
import type { GatesConfig } from './route-config.ts';
import type { RouteStates } from './route-states.ts';
import type { ShadowStats } from './shadow-stats.ts';
import type { TrafficStats } from './traffic-stats.ts';

export class GateScheduler {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly gates: ReadonlyMap<string, GatesConfig>,
    private readonly states: RouteStates,
    private readonly shadowStats: ShadowStats,
    private readonly traffic: TrafficStats,
    private readonly logger: Logger,
    /** Told of every move a gate made (the `ficus_gate_moves_total` counter). */
    private readonly moved?: (operationId: string, kind: 'promote' | 'rollback') => void,
    /** Each route's latest reconciliation, for steps that require one. */
    private readonly reconciliations?: Reconciliations,
  ) {}

  /** Judges the gates every `everyMs` (a singleton: in a cluster only the holder of the singletons lease runs it). */
  start(everyMs = 1_000): void {
    if (this.gates.size === 0 || this.closed || this.timer) return;
    this.timer = setInterval(() => void this.evaluate(), everyMs);
    this.timer.unref();
  }

  /** Stops judging (another instance runs the singletons now); `start` may follow. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  has(operationId: string): boolean {
    return this.gates.has(operationId);
  }

  config(operationId: string): GatesConfig | undefined {
    return this.gates.get(operationId);
  }

  /** One round of the gates: each route with gates, not paused, may move (audited as actor `gate`). */
  async evaluate(now = Date.now()): Promise<void> {
    await this.reconciliations?.refresh();
    for (const [operationId, gates] of this.gates) {
      const row = this.states.storedOf(operationId);
      if (!row || row.gatesPaused || this.closed) continue;
      const d = decide(gates, { mode: row.mode, percent: row.percent, changedAtMs: Date.parse(row.changedAt) }, this.figuresFor(operationId), now);
      if (!isDecision(d)) continue;
      try {
        const to = d.to;
        await this.states.switchMode(operationId, { mode: to.mode, percent: to.mode === 'canary' ? to.percent : undefined, reason: d.reason }, 'gate', { automatic: true, expectVersion: row.version });
        this.moved?.(operationId, d.kind);
      } catch (err) {
        this.logger.error({ err, operation: operationId }, 'a gate could not move the route');
      }
    }
  }

  /** What the route's gates wait for, or `moving: <reason>` when they would move it now. */
  waitingFor(operationId: string, now = Date.now()): string | null {
    const gates = this.gates.get(operationId);
    const row = this.states.storedOf(operationId);
    if (!gates || !row) return null;
    const d = decide(gates, { mode: row.mode, percent: row.percent, changedAtMs: Date.parse(row.changedAt) }, this.figuresFor(operationId), now);
    return isDecision(d) ? `moving: ${d.reason}` : d.waitingFor;
  }

  private figuresFor(operationId: string) {
    return {
      matchRate: (n: number) => this.shadowStats.recentMatchRate(operationId, n),
      modernWindow: (ms: number) => this.traffic.modernWindow(operationId, ms),
      reconciliation: () => {
        const r = this.reconciliations?.of(operationId);
        return r ? { parity: r.parity, keys: r.keys, finishedAtMs: Date.parse(r.finishedAt) } : undefined;
      },
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }
}
