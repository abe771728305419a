/**
 * The recording format: JSON Lines, one exchange a line, versioned. Keys come out in a fixed order
 * (bodies, queries and headers sorted) so that a recording reads well and diffs well in a pull request.
 *
 * Version 1, one line:
 * {"v":1,"operationId":"getCustomer","time":"…","count":1,"backend":"modern","adapter":"customers-service",
 *  "consumer":"acme","latencyMs":1.2,"gateway":"0.1.0","key":"<redaction key id>",
 * (`consumer`: the caller's name as the front door knew it, never a credential; absent when anonymous)
 *  "request":{"method":"GET","path":"/customers/1001","query":{},"headers":{},"body":null},
 *  "response":{"status":200,"headers":{},"body":{…}},"redacted":["$.response.body.email"],"findings":[]}
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const FORMAT_VERSION = 1;

export interface RecordedRequest {
  method: string;
  /** The concrete path, e.g. `/customers/1001`. */
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string>;
  body: unknown;
}

export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface Finding {
  /** Where, in the exchange: `$.response.body.notes`. */
  path: string;
  /** What it looked like: `email`, `card-number`, `token`, `private-key`, `secret-field`. */
  kind: string;
}

export interface RecordedExchange {
  v: number;
  operationId: string;
  time: string;
  /** How many identical requests this line stands for (duplicates collapse). */
  count: number;
  backend: string | null;
  adapter: string | null;
  /** The caller's name as the front door knew it (never a credential); absent for an anonymous call. */
  consumer?: string;
  latencyMs: number;
  gateway: string;
  /** Which redaction key hashed the redacted values (a fingerprint, not the key). */
  key: string;
  request: RecordedRequest;
  response: RecordedResponse;
  /** Exchange paths whose values were replaced by keyed hashes. */
  redacted: string[];
  /** Secrets or personal data found in fields nobody marked (hashed too). */
  findings: Finding[];
}

export function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeysDeep(x);
    }
    return out;
  }
  return v;
}

/** One line of a recording, keys in their fixed order, no newline. */
export function formatExchange(e: RecordedExchange): string {
  const ordered: RecordedExchange = {
    v: e.v,
    operationId: e.operationId,
    time: e.time,
    count: e.count,
    backend: e.backend,
    adapter: e.adapter,
    ...(e.consumer !== undefined ? { consumer: e.consumer } : {}),
    latencyMs: e.latencyMs,
    gateway: e.gateway,
    key: e.key,
    request: {
      method: e.request.method,
      path: e.request.path,
      query: sortKeysDeep(e.request.query) as Record<string, unknown>,
      headers: sortKeysDeep(e.request.headers) as Record<string, string>,
      body: sortKeysDeep(e.request.body ?? null),
    },
    response: { status: e.response.status, headers: sortKeysDeep(e.response.headers) as Record<string, string>, body: sortKeysDeep(e.response.body ?? null) },
    redacted: [...e.redacted].sort(),
    findings: [...e.findings].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind < b.kind ? -1 : 1)),
  };
  return JSON.stringify(ordered);
}

/**
 * The normalised request: exchanges with the same one collapse into one line with a count (in a
 * recording, only those of the same consumer: `collapseKey`).
 */
export function requestKey(operationId: string, r: RecordedRequest): string {
  const text = JSON.stringify([operationId, r.method.toUpperCase(), r.path, sortKeysDeep(r.query), sortKeysDeep(r.body ?? null)]);
  return createHash('sha1').update(text).digest('base64url');
}

/** What collapses lines of a recording: the normalised request and the consumer who made it. */
export function collapseKey(e: Pick<RecordedExchange, 'operationId' | 'request' | 'consumer'>): string {
  const key = requestKey(e.operationId, e.request);
  return e.consumer === undefined ? key : `${key} ${e.consumer}`;
}

const lineSchema = z.object({
  v: z.number().int().min(1),
  operationId: z.string().min(1),
  time: z.string(),
  count: z.number().int().min(1).default(1),
  backend: z.string().nullable().default(null),
  adapter: z.string().nullable().default(null),
  consumer: z.string().min(1).optional(),
  latencyMs: z.number().min(0).default(0),
  gateway: z.string().default('unknown'),
  key: z.string().default(''),
  request: z.object({
    method: z.string().regex(/^[A-Za-z]+$/, 'an HTTP method'),
    path: z.string().startsWith('/', 'a path starting with /'),
    query: z.record(z.string(), z.unknown()).default({}),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.unknown().default(null),
  }),
  response: z.object({
    status: z.number().int().min(100).max(599),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.unknown().default(null),
  }),
  redacted: z.array(z.string()).default([]),
  findings: z.array(z.object({ path: z.string(), kind: z.string() })).default([]),
});

export type ParsedLine = { ok: true; exchange: RecordedExchange } | { ok: false; reason: string };

/** Reads one line; a bad one gets a reason a person can act on. */
export function parseExchangeLine(line: string): ParsedLine {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, reason: `not valid JSON (a truncated or corrupted line?): ${(err as Error).message}` };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'not a JSON object' };
  const v = (raw as { v?: unknown }).v;
  if (typeof v === 'number' && v > FORMAT_VERSION) {
    return { ok: false, reason: `recording format version ${v} is newer than this ficus reads (${FORMAT_VERSION}); upgrade ficus to replay it` };
  }
  const r = lineSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, reason: `field ${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}` };
  }
  return { ok: true, exchange: r.data as RecordedExchange };
}
