/**
 * The replay engine: sends recorded requests to a target (with a concurrency and a rate limit, safe
 * methods only unless told otherwise) and compares each answer with the recorded one through the
 * comparator, with the route's ignore rules and, after a baseline, the noise.
 *
 * Baseline: every exchange is first replayed twice against the backend that recorded it; the paths
 * that differ between those two answers are noise for that exchange, and (generalised, `[3]` → `[*]`)
 * for its operation.
 */
import { Comparator, noisyPaths, type Difference } from '../compare/comparator.ts';
import { generalisePath } from '../compare/json-path.ts';
import type { Contract } from '../contract/contract.ts';
import type { Redactor } from '../recording/redactor.ts';
import { RateLimiter } from './rate-limiter.ts';
import type { BadLine, ReplayItem } from './recording-reader.ts';
import type { BackendName, ReplayAnswer, ReplayTarget } from './replay-target.ts';

export type Outcome = 'pass' | 'fail' | 'error' | 'skipped';

export interface ExchangeResult {
  item: ReplayItem;
  outcome: Outcome;
  differences: Difference[];
  /** The ignore rules that applied (route rules, noise). */
  ignored: string[];
  /** The replayed answer, redacted like the recording. */
  actual?: { status: number; body: unknown };
  /** Why it errored or was skipped. */
  reason?: string;
  durationMs: number;
}

export interface OperationCounts {
  pass: number;
  fail: number;
  error: number;
  skipped: number;
}

export interface ReplayRun {
  target: string;
  startedAt: string;
  durationMs: number;
  results: ExchangeResult[];
  bad: BadLine[];
  byOperation: Record<string, OperationCounts>;
  /** Per operation, the noise found by the baseline (generalised paths). */
  noise: Record<string, string[]>;
  baseline: boolean;
}

export interface ReplayOptions {
  contract: Contract;
  redactor: Redactor;
  target: ReplayTarget;
  /** For `--baseline`: where the recorded backend can be called (legacy or modern by the exchange's backend). */
  baselineTarget?: ReplayTarget;
  concurrency: number;
  ratePerSecond?: number;
  /** Replay unsafe methods too (POST, PUT, ...): only against systems where that is harmless. */
  unsafe?: boolean;
  /** Ignore rules per operation (from the routes' `compare.ignore`), plus rules for every operation. */
  ignoreByOperation?: Record<string, readonly string[]>;
  ignore?: readonly string[];
  /** Response headers compared per operation (the routes' `compare.headers` and `compare.ignoreHeaders`). */
  headersByOperation?: Record<string, { headers: readonly string[]; ignoreHeaders: readonly string[] }>;
  onProgress?: (phase: 'baseline' | 'replay', done: number, total: number) => void;
}

/**
 * Problem answers (RFC 9457) are compared by status and `type`: the request id and instance are
 * each call's own, and the title and detail are human text that each backend words its own way.
 */
export const PROBLEM_NOISE = ['$.requestId', '$.instance', '$.title', '$.detail'];

async function pool<T>(items: readonly T[], concurrency: number, limiter: RateLimiter, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await limiter.take();
      await work(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

function recordedBackend(item: ReplayItem): BackendName | undefined {
  const b = item.exchange.backend;
  return b === 'legacy' || b === 'modern' ? b : undefined;
}

export async function replay(items: readonly ReplayItem[], bad: readonly BadLine[], opts: ReplayOptions): Promise<ReplayRun> {
  const comparator = new Comparator(opts.contract);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const limiter = new RateLimiter(opts.ratePerSecond);
  const results: ExchangeResult[] = new Array<ExchangeResult>(items.length);

  const skipReason = (item: ReplayItem): string | undefined => {
    const op = opts.contract.operation(item.exchange.operationId);
    if (!op.safe && !opts.unsafe) return `${item.exchange.request.method} is not a safe method; pass --unsafe to replay it (only against a system where writing is harmless)`;
    return undefined;
  };

  const redactAnswer = (item: ReplayItem, answer: ReplayAnswer): { status: number; body: unknown; headers: Record<string, string> } => {
    const e = item.exchange;
    const r = opts.redactor.redact(opts.contract.operation(e.operationId), e.operationId, e.request, { status: answer.status, headers: answer.headers, body: answer.body });
    return { status: r.response.status, body: r.response.body, headers: r.response.headers };
  };

  /** The headers compared for an exchange: those the route names that the recording holds (a recording made by Ficus keeps the adapter's headers only). */
  const headerRules = (item: ReplayItem): { headers: string[]; ignoreHeaders: readonly string[] } | undefined => {
    const rule = opts.headersByOperation?.[item.exchange.operationId];
    if (!rule || rule.headers.length === 0) return undefined;
    const held = Object.keys(item.exchange.response.headers).map((h) => h.toLowerCase());
    const names = rule.headers.includes('*') ? held : rule.headers.map((h) => h.toLowerCase()).filter((h) => held.includes(h));
    return { headers: names, ignoreHeaders: rule.ignoreHeaders };
  };

  const baseIgnore = (item: ReplayItem, problem: boolean): string[] => [...(opts.ignore ?? []), ...(opts.ignoreByOperation?.[item.exchange.operationId] ?? []), ...(problem ? PROBLEM_NOISE : [])];

  // Baseline: two answers of the recorded backend per exchange; what differs between them is noise.
  const exchangeNoise = new Map<number, string[]>();
  const operationNoise = new Map<string, Set<string>>();
  if (opts.baselineTarget) {
    const base = opts.baselineTarget;
    let done = 0;
    await pool(items, opts.concurrency, limiter, async (item, i) => {
      const backend = recordedBackend(item);
      if (!skipReason(item) && backend && !base.cannotServe?.(item.exchange.operationId, backend)) {
        try {
          const first = redactAnswer(item, await base.send(item.exchange.request, backend));
          const second = redactAnswer(item, await base.send(item.exchange.request, backend));
          // What the rules already ignore is not news: only the rest counts as noise.
          const known = baseIgnore(item, first.status >= 400 || second.status >= 400);
          const noise =
            known.length === 0
              ? noisyPaths(comparator, item.exchange.operationId, first, second)
              : [...new Set(comparator.compare(item.exchange.operationId, first, second, { ignore: known }).differences.map((d) => d.path))];
          if (noise.length > 0) {
            exchangeNoise.set(i, noise);
            let set = operationNoise.get(item.exchange.operationId);
            if (!set) operationNoise.set(item.exchange.operationId, (set = new Set()));
            for (const p of noise) if (p !== 'status') set.add(generalisePath(p));
          }
        } catch {
          // A baseline call that fails finds no noise; the replay itself reports the failure.
        }
      }
      opts.onProgress?.('baseline', ++done, items.length);
    });
  }

  let done = 0;
  await pool(items, opts.concurrency, limiter, async (item, i) => {
    const t = performance.now();
    const e = item.exchange;
    const finish = (r: Omit<ExchangeResult, 'item' | 'durationMs'>) => {
      results[i] = { item, durationMs: performance.now() - t, ...r };
      opts.onProgress?.('replay', ++done, items.length);
    };
    const skip = skipReason(item);
    if (skip) return finish({ outcome: 'skipped', differences: [], ignored: [], reason: skip });
    const fixed = opts.target.backend;
    const cannot = fixed ? opts.target.cannotServe?.(e.operationId, fixed) : undefined;
    // An operation not (yet) served by the chosen backend is not a failure of that backend: say so and go on.
    if (cannot) return finish({ outcome: 'skipped', differences: [], ignored: [], reason: cannot });
    let actual: { status: number; body: unknown; headers: Record<string, string> };
    try {
      actual = redactAnswer(item, await opts.target.send(e.request));
    } catch (err) {
      return finish({ outcome: 'error', differences: [], ignored: [], reason: `no answer: ${(err as Error).message}` });
    }
    const ignored = [...baseIgnore(item, e.response.status >= 400 || actual.status >= 400), ...(exchangeNoise.get(i) ?? []), ...(operationNoise.get(e.operationId) ?? [])];
    const cmp = comparator.compare(e.operationId, { status: e.response.status, body: e.response.body, headers: e.response.headers }, actual, { ignore: ignored, ...headerRules(item) });
    finish({ outcome: cmp.equal ? 'pass' : 'fail', differences: cmp.differences, ignored, actual: { status: actual.status, body: actual.body } });
  });

  const byOperation: Record<string, OperationCounts> = {};
  for (const r of results) {
    const c = (byOperation[r.item.exchange.operationId] ??= { pass: 0, fail: 0, error: 0, skipped: 0 });
    c[r.outcome]++;
  }
  const noise: Record<string, string[]> = {};
  for (const [op, set] of operationNoise) noise[op] = [...set].sort();
  return { target: opts.target.name, startedAt, durationMs: performance.now() - started, results, bad: [...bad], byOperation, noise, baseline: opts.baselineTarget !== undefined };
}

/** 0: everything matched; 1: something differed (or got no answer); 3: all matched but some lines could not be read. */
export function exitCodeOf(run: ReplayRun): number {
  if (run.results.some((r) => r.outcome === 'fail' || r.outcome === 'error')) return 1;
  if (run.bad.length > 0) return 3;
  return 0;
}
