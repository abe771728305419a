/**
 * Promotion and rollback gates: rules a route carries that move it automatically, such as "from
 * shadow to canary 10% once the match rate over the last 1,000 comparisons is at least 99.5%; on to
 * 50% and 100% after a clean hour each; back to legacy at once when modern's error rate over the
 * last 5 minutes passes 2%". `decide` is the rule (pure); the control plane evaluates it every
 * second per route, unless the route's gates are paused, and makes the move like a person would
 * (audited, with the figures in the reason). Each instance judges from its own traffic; the switch
 * itself is a compare-and-set on the shared row, so two instances never make the same move twice.
 */
import { formatDuration } from '../config/units.ts';
import { stateText, type GatesConfig, type StateSpec } from './route-config.ts';

export interface GateFigures {
  /** Match rate (percent) over the last `n` shadow comparisons, and how many there were. */
  matchRate(n: number): { rate: number | null; calls: number };
  /** Modern's calls and failures over the last `ms`. */
  modernWindow(ms: number): { calls: number; errors: number };
  /** The route's latest reconciliation (`ficus reconcile`): its parity (percent), keys and when it finished; undefined when none ran. */
  reconciliation?(): { parity: number; keys: number; finishedAtMs: number } | undefined;
}

export interface GateDecision {
  kind: 'promote' | 'rollback';
  to: StateSpec;
  reason: string;
}

export interface GateProgress {
  /** What the next move waits for, in words, or null when no rule applies to the current state. */
  waitingFor: string | null;
}

function same(a: { mode: string; percent: number }, b: StateSpec): boolean {
  return a.mode === b.mode && (a.mode !== 'canary' || a.percent === b.percent);
}

const pct = (x: number) => `${Math.round(x * 100) / 100}%`;

export function decide(gates: GatesConfig, current: { mode: string; percent: number; changedAtMs: number }, figures: GateFigures, now: number): GateDecision | GateProgress {
  const rb = gates.rollback;
  if (rb && current.mode !== 'legacy' && !same(current, rb.to)) {
    const w = figures.modernWindow(rb.window);
    if (w.calls >= rb.minCalls && (w.errors / w.calls) * 100 > rb.errorRate) {
      return {
        kind: 'rollback',
        to: rb.to,
        reason: `rollback gate: modern failed ${w.errors} of ${w.calls} calls over the last ${formatDuration(rb.window)} (${pct((w.errors / w.calls) * 100)}, limit ${pct(rb.errorRate)})`,
      };
    }
  }
  const step = gates.steps.find((s) => same(current, s.from));
  if (!step) return { waitingFor: null };
  const met: string[] = [];
  const waiting: string[] = [];
  if (step.matchRate !== undefined) {
    const m = figures.matchRate(step.calls);
    if (m.calls >= step.calls && m.rate !== null && m.rate >= step.matchRate) met.push(`match rate ${pct(m.rate)} over the last ${m.calls} comparisons (at least ${pct(step.matchRate)})`);
    else waiting.push(`match rate ≥ ${pct(step.matchRate)} over ${step.calls} comparisons (now ${m.rate === null ? 'none' : pct(m.rate)} over ${m.calls})`);
  }
  if (step.clean !== undefined) {
    const inState = now - current.changedAtMs;
    const w = figures.modernWindow(inState);
    const limit = rb?.errorRate ?? 0;
    const rate = w.calls === 0 ? 0 : (w.errors / w.calls) * 100;
    if (inState >= step.clean && rate <= limit) met.push(`clean for ${formatDuration(step.clean)} (modern failed ${w.errors} of ${w.calls} calls, limit ${pct(limit)})`);
    else
      waiting.push(
        inState < step.clean
          ? `${formatDuration(step.clean)} clean in ${stateText(current)} (${formatDuration(Math.max(0, Math.round((step.clean - inState) / 1000)) * 1000)} to go)`
          : `modern's error rate ${pct(rate)} to fall to ${pct(limit)}`,
      );
  }
  if (step.reconciliation !== undefined) {
    const want = step.reconciliation;
    const r = figures.reconciliation?.();
    const age = r ? Math.max(0, now - r.finishedAtMs) : Infinity;
    const ago = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 1000)}s` : formatDuration(Math.round(ms / 60_000) * 60_000));
    if (r && age <= want.maxAge && r.parity >= want.minParity)
      met.push(`reconciliation ${pct(r.parity)} of ${r.keys} keys equal, ${ago(age)} ago (at least ${pct(want.minParity)} within ${formatDuration(want.maxAge)})`);
    else
      waiting.push(
        `a reconciliation with parity ≥ ${pct(want.minParity)} within the last ${formatDuration(want.maxAge)} (latest: ${r ? `${pct(r.parity)} of ${r.keys} keys, ${ago(age)} ago` : 'none'})`,
      );
  }
  if (waiting.length > 0) return { waitingFor: `${stateText(step.to)} after ${waiting.join(' and ')}` };
  return { kind: 'promote', to: step.to, reason: `promotion gate: ${stateText(step.from)} → ${stateText(step.to)}: ${met.join('; ')}` };
}

export function isDecision(x: GateDecision | GateProgress): x is GateDecision {
  return 'kind' in x;
}
