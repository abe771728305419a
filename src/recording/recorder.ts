/**
 * The recorder: decides per call whether to record (each route off unless config or the admin API
 * switched it on, with a sampling rate and an optional end time), and hands the exchange to a
 * bounded queue. Redaction, serialising and writing happen later, off the caller's path; when the
 * queue is full the exchange is dropped and counted, so a slow disk never slows a caller.
 */
import { readFileSync } from 'node:fs';
import type { Contract, ContractOperation } from '../contract/contract.ts';
import type { OperationHooks } from '../http/app.ts';
import type { OperationRequest } from '../kinds/kind.ts';
import type { Logger } from '../observability/logger.ts';
import { FORMAT_VERSION, type Finding, type RecordedExchange } from './exchange-format.ts';
import { recordFilter, type RecordFilter, type RecordWhen } from './record-filter.ts';
import type { Redactor } from './redactor.ts';
import type { SegmentFiles } from './segment-files.ts';

export const GATEWAY_VERSION = ((): string => {
  try {
    return String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
})();

export interface RouteRecording {
  sample: number;
  /** Epoch ms when recording stops by itself; undefined: until stopped. */
  until?: number;
  source: 'config' | 'admin';
  startedAt: number;
}

export interface RouteRecordingStatus extends RouteRecording {
  operationId: string;
  recorded: number;
  collapsed: number;
  dropped: number;
  files: string[];
}

export interface RecorderStatus {
  queued: number;
  queueLimit: number;
  recorded: number;
  collapsed: number;
  dropped: number;
  failedWrites: number;
  routes: RouteRecordingStatus[];
  /** Secrets or personal data found in unmarked fields, once per operation, path and kind. */
  findings: (Finding & { operationId: string; count: number })[];
}

interface Captured {
  operationId: string;
  op: ContractOperation;
  time: number;
  req: OperationRequest;
  status: number;
  body: unknown;
  headers: Record<string, string>;
  backend: string | null;
  adapter: string | null;
  latencyMs: number;
}

interface Counters {
  recorded: number;
  collapsed: number;
  dropped: number;
}

export interface RecorderOptions {
  contract: Contract;
  redactor: Redactor;
  files: SegmentFiles;
  logger: Logger;
  queueLimit: number;
  /** Routes recording from start-up. */
  initial?: Record<string, { sample: number; when?: RecordWhen }>;
  random?: () => number;
  now?: () => number;
  /** Called when recording is switched on at run time (a warning about the development key, say). */
  onStart?: () => void;
}

const BATCH = 256;

/** The longest a recording started through the admin API runs by itself (a year). */
export const MAX_RECORDING_MS = 365 * 86_400_000;

/** A start refused: `field` names the bad input; without one, the operation is unknown. */
export class RecordingStartError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'RecordingStartError';
  }
}

export class Recorder {
  private readonly active = new Map<string, RouteRecording>();
  private readonly counters = new Map<string, Counters>();
  private readonly findings = new Map<string, Finding & { operationId: string; count: number }>();
  /** The routes' `when` filters (from config: they apply however recording was switched on). */
  private readonly filters = new Map<string, RecordFilter>();
  private queue: Captured[] = [];
  private draining: Promise<void> | undefined;
  private failedWrites = 0;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly opts: RecorderOptions) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    for (const [operationId, r] of Object.entries(opts.initial ?? {})) {
      if (r.when) this.filters.set(operationId, recordFilter(r.when));
      if (r.sample > 0) this.active.set(operationId, { sample: r.sample, source: 'config', startedAt: this.now() });
    }
  }

  /** Switches recording on for one operation (or changes its rate); `forMs` ends it by itself. */
  start(operationId: string, sample: number, forMs?: number): RouteRecording {
    // Everything is checked before anything changes: a refused start leaves recording as it was.
    if (!this.opts.contract.has(operationId)) throw new RecordingStartError(`operation "${operationId}" is not in the contract`);
    if (!(sample > 0 && sample <= 1)) throw new RecordingStartError(`sample must be a rate above 0 and at most 1, got ${sample}`, 'body.sample');
    const now = this.now();
    if (forMs !== undefined && !(forMs > 0 && forMs <= MAX_RECORDING_MS))
      throw new RecordingStartError(`for must be a duration above 0 and at most ${MAX_RECORDING_MS / 86_400_000}d, got ${forMs} ms`, 'body.for');
    const rec: RouteRecording = { sample, until: forMs === undefined ? undefined : now + forMs, source: 'admin', startedAt: now };
    const until = rec.until === undefined ? undefined : new Date(rec.until).toISOString();
    this.active.set(operationId, rec);
    this.opts.onStart?.();
    this.opts.logger.info({ operation: operationId, sample, until }, 'recording started');
    return rec;
  }

  /** Switches recording off for one operation; false when it was not on. */
  stop(operationId: string): boolean {
    const was = this.active.delete(operationId);
    if (was) this.opts.logger.info({ operation: operationId }, 'recording stopped');
    return was;
  }

  /** Switches every route off (a replay's own gateway never records its traffic). */
  stopAll(): void {
    this.active.clear();
  }

  /** The hook that takes part in every call. Cheap: a map lookup, a random number, a push. */
  hook(): OperationHooks {
    return {
      after: (route, req, outcome) => {
        const rec = this.active.get(route.operationId);
        if (!rec) return;
        const now = this.now();
        if (rec.until !== undefined && now >= rec.until) {
          this.active.delete(route.operationId);
          return;
        }
        if (rec.sample < 1 && this.random() >= rec.sample) return;
        // A backend's 4xx comes as a problem without a dispatch: the mode says who answered.
        const mode = route.state.mode;
        const backend = outcome.dispatched?.backend ?? (mode === 'legacy' || mode === 'modern' ? mode : undefined);
        const result = outcome.result;
        const problem = outcome.problem;
        if (!result && !problem) return;
        const status = result ? result.status : (problem?.status ?? 500);
        const filter = this.filters.get(route.operationId);
        if (
          filter &&
          !filter(
            req,
            route.operation.path.replace(/\{([^}]+)\}/g, (_m, n: string) => encodeURIComponent(String(req.pathParams[n] ?? ''))),
            status,
          )
        )
          return;
        this.capture({
          operationId: route.operationId,
          op: route.operation,
          time: now,
          req,
          status: result ? result.status : (problem?.status ?? 500),
          body: result ? result.body : problem?.toBody(),
          headers: result?.headers ?? problem?.headers ?? {},
          backend: backend ?? null,
          adapter: outcome.dispatched?.adapter ?? (backend ? route.binding(backend)?.adapter : undefined) ?? null,
          latencyMs: Math.round(outcome.durationMs * 1000) / 1000,
        });
      },
    };
  }

  private capture(c: Captured): void {
    const counters = this.countersOf(c.operationId);
    if (this.queue.length >= this.opts.queueLimit) {
      counters.dropped++;
      return;
    }
    this.queue.push(c);
    if (!this.draining) this.draining = new Promise<void>((resolve) => setImmediate(() => void this.drain().finally(resolve)));
  }

  private countersOf(operationId: string): Counters {
    let c = this.counters.get(operationId);
    if (!c) {
      c = { recorded: 0, collapsed: 0, dropped: 0 };
      this.counters.set(operationId, c);
    }
    return c;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.length <= BATCH ? this.queue : this.queue.slice(0, BATCH);
        this.queue = this.queue.length <= BATCH ? [] : this.queue.slice(BATCH);
        const exchanges: RecordedExchange[] = [];
        for (const c of batch) {
          try {
            exchanges.push(this.prepare(c));
          } catch (err) {
            this.opts.logger.error({ err, operation: c.operationId }, 'an exchange could not be prepared for recording');
          }
        }
        try {
          const outcome = await this.opts.files.append(exchanges);
          exchanges.forEach((e, i) => {
            const c = this.countersOf(e.operationId);
            c.recorded++;
            if (outcome[i] === 'collapsed') c.collapsed++;
          });
        } catch (err) {
          this.failedWrites++;
          for (const e of exchanges) this.countersOf(e.operationId).dropped++;
          this.opts.logger.error({ err }, 'recording write failed; the exchanges are dropped');
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  /** Redacts and shapes one exchange: nothing leaves this function unredacted. */
  private prepare(c: Captured): RecordedExchange {
    // A path parameter whose schema is marked sensitive is hashed in the path too.
    const { path, redacted: sensitivePath } = this.opts.redactor.redactPath(c.op, c.req.pathParams);
    const r = this.opts.redactor.redact(
      c.op,
      c.operationId,
      { method: c.req.method.toUpperCase(), path, query: c.req.query, headers: c.req.headers, body: c.req.body ?? null },
      { status: c.status, headers: c.headers, body: c.body ?? null },
    );
    for (const f of r.findings) this.noteFinding(c.operationId, f);
    return {
      v: FORMAT_VERSION,
      operationId: c.operationId,
      time: new Date(c.time).toISOString(),
      count: 1,
      backend: c.backend,
      adapter: c.adapter,
      ...(c.req.consumer !== undefined ? { consumer: c.req.consumer } : {}),
      latencyMs: c.latencyMs,
      gateway: GATEWAY_VERSION,
      key: this.opts.redactor.keyId,
      request: r.request,
      response: r.response,
      redacted: [...sensitivePath, ...r.redacted],
      findings: r.findings,
    };
  }

  private noteFinding(operationId: string, f: Finding): void {
    const general = f.path.replace(/\[\d+\]/g, '[*]');
    const id = `${operationId} ${general} ${f.kind}`;
    const seen = this.findings.get(id);
    if (seen) {
      seen.count++;
      return;
    }
    this.findings.set(id, { operationId, path: general, kind: f.kind, count: 1 });
    this.opts.logger.warn(
      { operation: operationId, path: general, kind: f.kind },
      `recording found what looks like ${f.kind === 'email' ? 'an email' : `a ${f.kind}`} in an unmarked field; it was hashed. Mark it x-ficus-sensitive in the contract, or add ${general} to recording.redact in ficus.yaml`,
    );
  }

  /** Waits until every queued exchange is written and every file holds its current counts. */
  async flush(): Promise<void> {
    while (this.draining || this.queue.length > 0) {
      if (!this.draining) this.draining = this.drain();
      await this.draining;
    }
    await this.opts.files.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    await this.opts.files.close();
  }

  status(): RecorderStatus {
    const now = this.now();
    for (const [op, r] of this.active) if (r.until !== undefined && now >= r.until) this.active.delete(op);
    const ops = new Set([...this.active.keys(), ...this.counters.keys()]);
    const routes: RouteRecordingStatus[] = [...ops].sort().map((operationId) => {
      const c = this.countersOf(operationId);
      const r = this.active.get(operationId);
      return {
        operationId,
        sample: r?.sample ?? 0,
        until: r?.until,
        source: r?.source ?? 'admin',
        startedAt: r?.startedAt ?? 0,
        recorded: c.recorded,
        collapsed: c.collapsed,
        dropped: c.dropped,
        files: this.opts.files.files.get(operationId) ?? [],
      };
    });
    const sum = (k: keyof Counters) => [...this.counters.values()].reduce((n, c) => n + c[k], 0);
    return {
      queued: this.queue.length,
      queueLimit: this.opts.queueLimit,
      recorded: sum('recorded'),
      collapsed: sum('collapsed'),
      dropped: sum('dropped'),
      failedWrites: this.failedWrites,
      routes,
      findings: [...this.findings.values()],
    };
  }

  isRecording(operationId: string): boolean {
    const r = this.active.get(operationId);
    return r !== undefined && (r.until === undefined || this.now() < r.until);
  }
}
