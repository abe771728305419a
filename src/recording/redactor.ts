/**
 * Redaction, done before an exchange is written: request headers kept only when on the shared
 * allow-list (src/http/stored-headers.ts), credential headers dropped, fields the contract
 * marks `x-ficus-sensitive: true` and exchange paths named in config replaced by a stable keyed hash
 * (HMAC-SHA256, key from FICUS_RECORDING_KEY) so equal values still compare equal, and a scan of every
 * other string for secrets and personal data, whose hits are hashed too and reported.
 */
import { createHmac } from 'node:crypto';
import type { Contract, ContractOperation } from '../contract/contract.ts';
import { isDeepStrictEqual } from 'node:util';
import type { Difference } from '../compare/comparator.ts';
import { IgnoreSet, NONE, type IgnoreState, type PatternSegment, type Segment, formatPath, parsePath } from '../compare/json-path.ts';
import { comparable } from '../compare/normalise.ts';
import { schemaInfo, type SchemaInfo } from '../compare/schema-info.ts';
import type { Finding, RecordedRequest, RecordedResponse } from './exchange-format.ts';
import { storableHeaderNames, storableHeaders, withoutCredentialHeaders } from '../http/stored-headers.ts';
import { scanValue } from './secret-scan.ts';

/** The development key: fine on a laptop, announced at start-up anywhere else. */
export const DEV_RECORDING_KEY = 'ficus-development-recording-key';
export const REDACTED_PREFIX = 'redacted:';
/** A value this redactor (or another, with another key) already hashed: kept as it is, so redaction can run twice. */
const ALREADY_REDACTED = /^redacted:[A-Za-z0-9_-]{22}$/;

export interface RedactorOptions {
  contract: Contract;
  key: string;
  /** Exchange paths redacted for every operation. */
  redact?: readonly string[];
  /** Exchange paths redacted per operation. */
  redactByOperation?: Record<string, readonly string[]>;
  /** Extra request headers kept. */
  headers?: readonly string[];
}

export interface RedactedExchange {
  request: RecordedRequest;
  response: RecordedResponse;
  redacted: string[];
  findings: Finding[];
}

interface Walk {
  rules: IgnoreSet;
  path: Segment[];
  redacted: string[];
  findings: Finding[];
}

export class Redactor {
  readonly keyId: string;
  private readonly key: string;
  private readonly rules = new Map<string, IgnoreSet>();
  private readonly keptHeaders = new Map<string, Set<string>>();

  constructor(private readonly opts: RedactorOptions) {
    this.key = opts.key;
    this.keyId = createHmac('sha256', opts.key).update('ficus recording key id').digest('hex').slice(0, 12);
  }

  /** The keyed hash of a value as the comparator would read it (padding and number spelling do not matter). */
  hash(value: unknown, info?: SchemaInfo): string {
    if (typeof value === 'string' && ALREADY_REDACTED.test(value)) return value;
    const c = typeof value === 'string' ? comparable(value, info) : value;
    const text = typeof c === 'string' ? c : JSON.stringify(c);
    return REDACTED_PREFIX + createHmac('sha256', this.key).update(text).digest('base64url').slice(0, 22);
  }

  redact(op: ContractOperation | undefined, operationId: string, request: RecordedRequest, response: RecordedResponse): RedactedExchange {
    const w: Walk = { rules: this.rulesFor(operationId), path: [], redacted: [], findings: [] };
    const root = w.rules.empty ? NONE : w.rules.root();
    const reqState = this.step(w, root, 'request');
    const resState = this.step(w, root, 'response');

    w.path.push('request');
    const reqHeaders = storableHeaders(request.headers, this.keptHeadersFor(op, operationId));
    const queryInfo = op ? this.queryInfo(op) : undefined;
    const query = this.container(w, reqState, 'query', request.query, (k) => queryInfo?.get(k)) as Record<string, unknown>;
    const headers = this.container(w, reqState, 'headers', reqHeaders, () => undefined) as Record<string, string>;
    const reqBody = this.field(w, reqState, 'body', request.body, schemaInfo(op?.requestBodySchema));
    w.path.pop();

    w.path.push('response');
    const resHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(withoutCredentialHeaders(response.headers))) resHeaders[k.toLowerCase()] = v;
    const responseHeaders = this.container(w, resState, 'headers', resHeaders, () => undefined) as Record<string, string>;
    const resSchema = op && this.opts.contract.has(operationId) ? this.opts.contract.responseSchema(operationId, response.status) : undefined;
    const resBody = this.field(w, resState, 'body', response.body, schemaInfo(resSchema));
    w.path.pop();

    return {
      request: { method: request.method, path: request.path, query, headers, body: reqBody },
      response: { status: response.status, headers: responseHeaders, body: resBody },
      redacted: w.redacted,
      findings: w.findings,
    };
  }

  /** The request path with its parameters filled in; a parameter the contract marks sensitive is hashed. */
  redactPath(op: ContractOperation, pathParams: Record<string, unknown>): { path: string; redacted: string[] } {
    const redacted: string[] = [];
    const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
      const value = pathParams[name] ?? '';
      const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
      if (param && schemaInfo(param.schema)?.sensitive) {
        redacted.push(`$.request.path.${name}`);
        return encodeURIComponent(this.hash(value));
      }
      return encodeURIComponent(String(value));
    });
    return { path, redacted };
  }

  /**
   * A shadow mismatch as it is stored: the request's path and query, and both answers, redacted as a
   * recorded exchange is; each difference's values are the redacted values at its path (hashed
   * when they cannot be found there, as when lists were matched by key rather than position).
   */
  redactMismatch(
    op: ContractOperation,
    operationId: string,
    req: { method: string; pathParams: Record<string, unknown>; query: Record<string, unknown> },
    legacy: { status: number; body?: unknown },
    modern: { status: number; body?: unknown },
    differences: readonly Difference[],
  ): { path: string; query: Record<string, unknown>; legacyBody: unknown; modernBody: unknown; differences: Difference[] } {
    const { path } = this.redactPath(op, req.pathParams);
    const request: RecordedRequest = { method: req.method.toUpperCase(), path, query: req.query, headers: {}, body: null };
    const l = this.redact(op, operationId, request, { status: legacy.status, headers: {}, body: legacy.body ?? null });
    const m = this.redact(op, operationId, request, { status: modern.status, headers: {}, body: modern.body ?? null });
    return {
      path,
      query: l.request.query,
      legacyBody: legacy.body === undefined ? undefined : l.response.body,
      modernBody: modern.body === undefined ? undefined : m.response.body,
      differences: differences.map((d) =>
        d.path.startsWith('$') ? { ...d, legacy: this.redactedAt(legacy.body, l.response.body, d.path, d.legacy), modern: this.redactedAt(modern.body, m.response.body, d.path, d.modern) } : d,
      ),
    };
  }

  /** `value`, found at `path` in `original`, as it reads in `redacted` (the same document redacted). */
  private redactedAt(original: unknown, redacted: unknown, path: string, value: unknown): unknown {
    if (value === null || value === undefined) return value;
    let segments: PatternSegment[];
    try {
      segments = parsePath(path);
    } catch {
      return this.hash(value);
    }
    let o = original;
    let r = redacted;
    for (const s of segments) {
      if (typeof s === 'symbol' || o === null || typeof o !== 'object' || r === null || typeof r !== 'object') return this.hash(value);
      o = (o as Record<string | number, unknown>)[s];
      r = (r as Record<string | number, unknown>)[s];
    }
    return isDeepStrictEqual(o, value) ? r : this.hash(value);
  }

  private rulesFor(operationId: string): IgnoreSet {
    let set = this.rules.get(operationId);
    if (!set) {
      set = new IgnoreSet([...(this.opts.redact ?? []), ...(this.opts.redactByOperation?.[operationId] ?? [])]);
      this.rules.set(operationId, set);
    }
    return set;
  }

  private keptHeadersFor(op: ContractOperation | undefined, operationId: string): Set<string> {
    let set = this.keptHeaders.get(operationId);
    if (!set) {
      set = storableHeaderNames(op, this.opts.headers ?? []);
      this.keptHeaders.set(operationId, set);
    }
    return set;
  }

  private queryInfo(op: ContractOperation): Map<string, SchemaInfo | undefined> {
    const m = new Map<string, SchemaInfo | undefined>();
    for (const p of op.parameters) if (p.in === 'query') m.set(p.name, schemaInfo(p.schema));
    return m;
  }

  private step(w: Walk, state: IgnoreState, segment: Segment): IgnoreState {
    return state.alive.length === 0 ? (state.covered ? state : NONE) : w.rules.step(state, w.path.length, segment);
  }

  private container(w: Walk, parent: IgnoreState, name: string, value: Record<string, unknown>, infoOf: (k: string) => SchemaInfo | undefined): unknown {
    const state = this.step(w, parent, name);
    w.path.push(name);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.field(w, state, k, v, infoOf(k));
    w.path.pop();
    return out;
  }

  private field(w: Walk, parent: IgnoreState, segment: Segment, value: unknown, info: SchemaInfo | undefined): unknown {
    const state = this.step(w, parent, segment);
    w.path.push(segment);
    try {
      return this.value(w, state, value, info, typeof segment === 'string' ? segment : undefined);
    } finally {
      w.path.pop();
    }
  }

  private value(w: Walk, state: IgnoreState, value: unknown, info: SchemaInfo | undefined, name: string | undefined): unknown {
    if (value === null || value === undefined) return value;
    if (state.covered || info?.sensitive) {
      w.redacted.push(formatPath(w.path));
      return this.hash(value, info);
    }
    if (Array.isArray(value)) {
      const items = info?.items();
      return value.map((x, i) => this.field(w, state, i, x, items));
    }
    if (typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.field(w, state, k, v, info?.property(k));
      return out;
    }
    if (typeof value === 'string') {
      const kind = scanValue(value, name);
      if (kind) {
        w.findings.push({ path: formatPath(w.path), kind });
        return this.hash(value, info);
      }
    }
    return value;
  }
}
