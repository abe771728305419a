/**
 * The `recorded` kind: a backend served from recordings, for teams with no test instance of a legacy
 * system (`ficus mock` makes every legacy adapter one). A call is answered by the most recent
 * recorded exchange whose normalised request (method, path, query, body) is the same; else by one
 * with the same method and path (the path parameters); else, by the operation's fallback: the most
 * recent exchange of the operation, or a 404 problem. The incoming request is redacted with the same
 * key before it is looked up, so values the recording hashed still match, and the answer goes out
 * as recorded: redacted values stay redacted, and the gateway checks it against the contract as any other.
 *
 *   kind: recorded
 *   connection:
 *     dir: recordings                 # relative to the project
 *     fallback: not-found             # or recent
 *     latency: none                   # recorded (as it was recorded), fixed (fixedLatency), none
 *     fixedLatency: 20ms
 *     faultRate: 0                    # share of calls that fail with 503, for testing callers
 *   operations:
 *     getCustomer: {}                 # or { dir: other-folder, fallback: recent }
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ConfigError } from '../../config/config-error.ts';
import { durationMs } from '../../config/units.ts';
import type { ContractOperation } from '../../contract/contract.ts';
import { Problem, PROBLEMS, storedProblem, UpstreamError, type FieldError } from '../../problem.ts';
import { recordingKey } from '../../recording/attach.ts';
import type { RecordedExchange } from '../../recording/exchange-format.ts';
import { exchangePathSchema } from '../../recording/recording-config.ts';
import { Redactor } from '../../recording/redactor.ts';
import { defineKind, type AdapterContext, type OperationRequest, type OperationResult } from '../kind.ts';
import { loadRecordings, type LoadedRecordings, type OperationRecordings } from './recorded-index.ts';

const fallback = z.enum(['recent', 'not-found']);

export const recordedConnectionSchema = z
  .object({
    /** The recordings: a folder of `<operationId>/*.jsonl` (as `ficus record` writes), relative to the project. */
    dir: z.string().default('recordings'),
    /** When nothing matches the request or its path: the most recent exchange of the operation, or a 404 problem. */
    fallback: fallback.default('not-found'),
    /** Answer after the recorded latency, a fixed one, or at once. */
    latency: z.enum(['recorded', 'none', 'fixed']).default('none'),
    fixedLatency: durationMs.prefault('0ms'),
    /** Share of calls that fail with 503 upstream-unavailable (not retried), for testing callers. */
    faultRate: z.number().min(0).max(1).default(0),
    /** Exchange paths the recording redacted besides the contract's sensitive fields (`recording.redact` of ficus.yaml). */
    redact: z.array(exchangePathSchema).default([]),
    /** Request headers the recording kept besides the default ones (`recording.headers`). */
    headers: z.array(z.string()).default([]),
  })
  .strict();
export type RecordedConnection = z.infer<typeof recordedConnectionSchema>;

export const recordedBindingSchema = z
  .object({
    /** A folder of this operation's recordings, instead of the connection's. */
    dir: z.string().optional(),
    fallback: fallback.optional(),
    faultRate: z.number().min(0).max(1).optional(),
  })
  .strict();
export type RecordedBinding = z.infer<typeof recordedBindingSchema>;

const PROBLEM_FIELDS = new Set(['type', 'title', 'status', 'detail', 'instance', 'requestId', 'errors']);

/** A recorded problem answer, thrown again as the same problem (type, status, detail, fields). */
function recordedProblem(e: RecordedExchange): Problem | UpstreamError {
  const body = e.response.body;
  const b = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const type = typeof b.type === 'string' ? b.type.replace(/^.*\//, '') : '';
  const detail = typeof b.detail === 'string' ? b.detail : undefined;
  if (!type && e.response.status >= 500)
    return new UpstreamError(detail ?? `recorded answer ${e.response.status}`, { status: e.response.status === 504 ? 504 : e.response.status === 503 ? 503 : 502, retryable: false });
  const extensions: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) if (!PROBLEM_FIELDS.has(k)) extensions[k] = v;
  const headers: Record<string, string> = {};
  const retryAfter = e.response.headers['retry-after'];
  if (retryAfter) headers['Retry-After'] = retryAfter;
  return storedProblem(type, e.response.status, { detail, errors: Array.isArray(b.errors) ? (b.errors as FieldError[]) : undefined, extensions, headers });
}

/** Response headers of a recorded answer that the gateway sets itself. */
const OWN_HEADERS = new Set(['content-type', 'content-length', 'x-request-id', 'ficus-backend']);

class RecordedAdapter {
  private loaded: LoadedRecordings | undefined;
  private readonly extraDirs = new Map<string, string>();
  private readonly redactor: Redactor;
  private readonly dir: string;

  constructor(private readonly ctx: AdapterContext<RecordedConnection>) {
    this.dir = isAbsolute(ctx.connection.dir) ? ctx.connection.dir : join(ctx.root, ctx.connection.dir);
    this.redactor = new Redactor({ contract: ctx.contract, key: recordingKey(ctx.env).key, redact: ctx.connection.redact, headers: ctx.connection.headers });
  }

  bind(op: ContractOperation, binding: RecordedBinding, fail: (subKey: string, problem: string, fix: string) => never): (req: OperationRequest) => Promise<OperationResult> {
    if (binding.dir !== undefined) {
      const dir = isAbsolute(binding.dir) ? binding.dir : join(this.ctx.root, binding.dir);
      if (!existsSync(dir) || !statSync(dir).isDirectory())
        fail('dir', `recordings folder "${binding.dir}" not found (looked in ${dir})`, "give a folder of recordings (*.jsonl), relative to the project, or leave dir out to use the connection's");
      this.extraDirs.set(op.operationId, dir);
    }
    const c = this.ctx.connection;
    const fallbackOf = binding.fallback ?? c.fallback;
    const faultRate = binding.faultRate ?? c.faultRate;
    return async (req) => {
      const recs = this.recordingsOf(op.operationId);
      if (faultRate > 0 && Math.random() < faultRate) throw new UpstreamError(`an injected fault (faultRate ${faultRate})`, { status: 503, retryable: false, code: 'injected_fault' });
      const normalised = this.normalise(op, req);
      const hit = recs?.find(normalised, fallbackOf);
      if (!hit) throw new Problem(PROBLEMS.notFound, { detail: `no recording of ${op.operationId} answers ${req.method.toUpperCase()} ${normalised.path}` });
      const e = hit.exchange;
      const wait = c.latency === 'recorded' ? e.latencyMs : c.latency === 'fixed' ? c.fixedLatency : 0;
      if (wait > 0) await sleep(wait, undefined, { signal: req.signal });
      if (e.response.status >= 400) throw recordedProblem(e);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(e.response.headers)) if (!OWN_HEADERS.has(k)) headers[k] = v;
      return { status: e.response.status, body: e.response.body ?? undefined, headers };
    };
  }

  /** The request as a recording keeps it: the path with its parameters, the query and body typed and redacted. */
  private normalise(op: ContractOperation, req: OperationRequest) {
    const { path } = this.redactor.redactPath(op, req.pathParams);
    const r = this.redactor.redact(op, op.operationId, { method: req.method.toUpperCase(), path, query: req.query, headers: {}, body: req.body ?? null }, { status: 200, headers: {}, body: null });
    return r.request;
  }

  private recordingsOf(operationId: string): OperationRecordings | undefined {
    if (!this.loaded) throw new UpstreamError(`the recordings folder ${this.dir} is not there (or the adapter was not started)`, { status: 503 });
    return this.loaded.byOperation.get(operationId);
  }

  start(): Promise<void> {
    if (!existsSync(this.dir) || !statSync(this.dir).isDirectory()) {
      this.ctx.logger.error({ dir: this.dir }, 'recordings folder not found: every call answers 503 until it is there and the gateway restarts');
      return Promise.resolve();
    }
    const loaded = loadRecordings(this.dir);
    for (const [op, dir] of this.extraDirs) {
      const extra = loadRecordings(dir, new Set([op])).byOperation.get(op);
      if (extra) loaded.byOperation.set(op, extra);
    }
    for (const b of loaded.bad.slice(0, 20)) this.ctx.logger.warn({ line: b }, 'a recording line could not be read; it is not served');
    const counts = Object.fromEntries([...loaded.byOperation].map(([op, r]) => [op, r.size]));
    this.ctx.logger.info({ dir: this.dir, files: loaded.files, exchanges: counts }, 'serving from recordings');
    this.loaded = loaded;
    return Promise.resolve();
  }

  health(): Promise<{ ok: boolean; detail?: string }> {
    if (this.loaded) return Promise.resolve({ ok: true });
    return Promise.resolve({ ok: false, detail: `recordings folder ${this.dir} not found` });
  }
}

export const recordedKind = defineKind<RecordedConnection, RecordedBinding>({
  name: 'recorded',
  defaultRole: 'legacy',
  connectionSchema: recordedConnectionSchema as unknown as z.ZodType<RecordedConnection>,
  bindingSchema: recordedBindingSchema,
  // Answers come from memory: nothing to retry, no breaker to trip.
  defaultPolicy: { retry: { maxRetries: 0 }, circuitBreaker: { enabled: false } },
  create(ctx) {
    if (ctx.connection.fixedLatency > 60_000) throw new ConfigError(ctx.file, 'connection.fixedLatency', 'at most 60s', 'give a shorter latency, such as 20ms');
    const a = new RecordedAdapter(ctx);
    return {
      bind: (b) => a.bind(b.operation, b.binding, (sub, problem, fix) => b.fail(sub, problem, fix)),
      start: () => a.start(),
      health: () => a.health(),
      close: async () => undefined,
    };
  },
});
