/**
 * The http kind: serves operations from a modern HTTP service. Maps path parameters into the
 * upstream path, passes query, chosen headers and the body along, forwards the request id, keeps
 * connections alive, and never hangs (undici's own timeouts under the policy's).
 */
import { Readable } from 'node:stream';
import { Agent, request, errors as undiciErrors } from 'undici';
import { z } from 'zod';
import { defineKind, type Adapter, type BindContext, type OperationHandler, type OperationRequest } from '../kind.ts';
import { Problem, UpstreamError, backendRefused } from '../../problem.ts';
import { isJsonMedia, parseMediaType } from '../../http/media-types.ts';
import { annotateAttempt, injectTraceContext } from '../../observability/tracing/current.ts';

const connectionSchema = z
  .object({
    /** e.g. http://127.0.0.1:8081 */
    baseUrl: z.url(),
    /** Static headers sent on every call (an API key from the environment, say). */
    headers: z.record(z.string(), z.string()).default({}),
    /** Connections kept open to the service. */
    connections: z.coerce.number().int().min(1).default(64),
    keepAliveTimeoutMs: z.coerce.number().int().min(1).default(30_000),
    /** Answers the readiness check; any status under 500 counts as up. */
    healthPath: z.string().default('/healthz'),
    /** undici's connect/headers/body timeouts, a floor under the policy's timeout. */
    socketTimeoutMs: z.coerce.number().int().min(1).default(30_000),
    /** The header that marks shadow and replay calls (value `true`); empty: not marked. */
    shadowHeader: z
      .string()
      .regex(/^[A-Za-z0-9-]*$/, 'a header name')
      .default('Ficus-Shadow'),
    /** The header that names the caller's consumer (as the front door knew it) to the service; '' sends none. */
    consumerHeader: z.string().default('Ficus-Consumer'),
  })
  .strict();

const bindingSchema = z
  .object({
    /** Upstream method; default: the operation's. */
    method: z.enum(['GET', 'PUT', 'POST', 'DELETE', 'PATCH']).optional(),
    /** Upstream path template with `{param}` for the operation's path parameters; default: the operation's path. */
    path: z.string().startsWith('/').optional(),
    /** Which query parameters to pass on: all of them (default) or a list. */
    query: z.union([z.literal('all'), z.array(z.string())]).default('all'),
    /** Request headers passed on (the request id always is). */
    forwardHeaders: z.array(z.string()).default([]),
    /** Response headers passed back to the caller. */
    returnHeaders: z.array(z.string()).default([]),
  })
  .strict();

type HttpConnection = z.infer<typeof connectionSchema>;
type HttpBinding = z.infer<typeof bindingSchema>;

const PATH_PARAM = /\{([^}]+)\}/g;

/** A path parameter as one path segment: percent-encoded, and `.` or `..` encoded too, so that it can never be read as a step up the backend's path. */
function pathSegment(value: string): string {
  const encoded = encodeURIComponent(value);
  return encoded === '.' || encoded === '..' ? encoded.replaceAll('.', '%2E') : encoded;
}

/**
 * The 4xx statuses (exact, or by class) for which the contract declares an answer of its own, not
 * application/problem+json: a backend's refusal with one of them is passed on as it is.
 */
function declaredRefusals(responses: unknown, contract: { deref(node: unknown): unknown }): (status: number) => boolean {
  const own = new Set<string>();
  for (const [status, raw] of Object.entries((responses ?? {}) as Record<string, unknown>)) {
    if (!/^4(\d\d|XX|xx)$/.test(status)) continue;
    const content = (contract.deref(raw) as { content?: Record<string, unknown> } | undefined)?.content;
    const keys = Object.keys(content ?? {});
    if (keys.length > 0 && !keys.every((k) => parseMediaType(k)?.essence === 'application/problem+json')) own.add(status.toUpperCase());
  }
  return (status) => own.has(String(status)) || own.has(`${String(status)[0]}XX`);
}

async function readJson(body: { text(): Promise<string> }, status: number, where: string): Promise<unknown> {
  const text = await body.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UpstreamError(`${where} answered ${status} with a body that is not JSON`, { retryable: false, code: 'bad_json' });
  }
}

function networkError(err: unknown, where: string): unknown {
  if (err instanceof Problem || err instanceof UpstreamError) return err;
  const code = (err as { code?: string }).code ?? '';
  if (err instanceof Error && err.name === 'AbortError') return err;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') {
    return new UpstreamError(`${where} refused the connection (${code})`, { status: 503, code });
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
    return new UpstreamError(`${where} timed out (${code})`, { status: 504, code });
  }
  return new UpstreamError(`${where} failed: ${err instanceof Error ? err.message : String(err)}`, { code: code || 'network' });
}

class HttpAdapter implements Adapter<HttpBinding> {
  private readonly agent: Agent;
  private readonly base: URL;

  constructor(
    private readonly name: string,
    private readonly conn: HttpConnection,
    private readonly contract: { deref(node: unknown): unknown },
  ) {
    this.base = new URL(conn.baseUrl);
    this.agent = new Agent({
      connections: conn.connections,
      keepAliveTimeout: conn.keepAliveTimeoutMs,
      connect: { timeout: conn.socketTimeoutMs },
      headersTimeout: conn.socketTimeoutMs,
      bodyTimeout: conn.socketTimeoutMs,
    });
  }

  bind(ctx: BindContext<HttpBinding>): OperationHandler {
    const op = ctx.operation;
    const b = ctx.binding;
    const template = b.path ?? op.path;
    const pathParams = new Set(op.parameters.filter((p) => p.in === 'path').map((p) => p.name));
    for (const m of template.matchAll(PATH_PARAM)) {
      if (!pathParams.has(m[1])) ctx.fail('path', `{${m[1]}} is not a path parameter of ${op.operationId}`, `use one of: ${[...pathParams].map((p) => `{${p}}`).join(', ') || '(none)'}`);
    }
    const method = b.method ?? op.method.toUpperCase();
    const basePath = this.base.pathname.replace(/\/$/, '');
    const origin = this.base.origin;
    const where = `${this.name} ${method} ${template}`;
    const forward = b.forwardHeaders.map((h) => h.toLowerCase());
    const consumerHeader = this.conn.consumerHeader.toLowerCase();
    const returned = b.returnHeaders.map((h) => h.toLowerCase());
    // A 401 is about the caller's credentials only when the caller's are passed on; else the gateway's were refused.
    const callerCredentials = forward.includes('authorization') || forward.includes('cookie');
    const passOn = declaredRefusals(op.raw.responses, this.contract);

    return async (req: OperationRequest) => {
      const path = basePath + template.replace(PATH_PARAM, (_m, name: string) => pathSegment(String(req.pathParams[name])));
      let search: URLSearchParams | undefined;
      for (const k in req.query) {
        const v = req.query[k];
        if (v === undefined || (b.query !== 'all' && !b.query.includes(k))) continue;
        search ??= new URLSearchParams();
        for (const item of Array.isArray(v) ? v : [v]) search.append(k, String(item));
      }
      const headers: Record<string, string> = { ...this.conn.headers, 'x-request-id': req.requestId, accept: req.headers.accept ?? 'application/json' };
      for (const h of forward) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
      if (req.trace) {
        injectTraceContext(req, headers);
        annotateAttempt(req, () => ({ 'http.request.method': method, 'url.full': origin + path, 'server.address': this.base.hostname }));
      }
      if (req.shadow && this.conn.shadowHeader) headers[this.conn.shadowHeader.toLowerCase()] = 'true';
      // Set by the gateway only: a caller's own header of that name is never passed on as the consumer.
      if (consumerHeader) {
        if (req.consumer !== undefined) headers[consumerHeader] = req.consumer;
        else delete headers[consumerHeader];
      }
      let body: string | Buffer | Readable | undefined;
      if (req.bodySource !== undefined && req.media !== undefined && method !== 'GET') {
        // A multipart body: streamed from where it was spooled, as sent, never read into memory.
        body = req.bodySource.open();
        headers['content-type'] = req.media;
        headers['content-length'] = String(req.bodySource.size);
      } else if (req.rawBody !== undefined && req.media !== undefined && method !== 'GET') {
        // Forms, files, text, bytes: passed on as sent.
        body = req.rawBody;
        headers['content-type'] = req.media;
      } else if (req.body !== undefined && method !== 'GET') {
        body = JSON.stringify(req.body);
        headers['content-type'] = 'application/json';
      }
      let res;
      try {
        // (The agent's own request: origin and path as they are, no URL parsed a call.)
        res = await this.agent.request({ origin, path: search ? `${path}?${search.toString()}` : path, method: method as 'GET', headers, body, signal: req.signal });
      } catch (err) {
        if (body instanceof Readable) body.destroy();
        throw networkError(err, where);
      }
      const outHeaders: Record<string, string> = {};
      for (const h of returned) {
        const v = res.headers[h];
        if (typeof v === 'string') outHeaders[h] = v;
      }
      if (res.statusCode >= 500) {
        await res.body.dump();
        throw new UpstreamError(`${where} answered ${res.statusCode}`, { status: 502, code: `http_${res.statusCode}` });
      }
      const contentType = res.headers['content-type'];
      const media = typeof contentType === 'string' ? parseMediaType(contentType) : undefined;
      let parsed: unknown;
      try {
        if (media && !isJsonMedia(media)) {
          // An answer that is not JSON (an image, text): its bytes, checked against the contract's media types.
          const bytes = Buffer.from(await res.body.arrayBuffer());
          parsed = bytes.length === 0 ? undefined : bytes;
        } else parsed = await readJson(res.body, res.statusCode, where);
      } catch (err) {
        throw networkError(err, where);
      }
      if (res.statusCode === 401 && !callerCredentials) {
        throw new UpstreamError(`${where} refused the gateway's credentials (401; check connection.headers)`, { credentials: true, code: 'http_401' });
      }
      // A refusal the contract declares a body of its own for (not problem+json) is passed on as
      // the backend gave it, and checked against that declaration; any other becomes a problem.
      // The media type the answer is in, where it is not plain JSON (vendor JSON, text, images).
      if (media && media.essence !== 'application/json' && parsed !== undefined) outHeaders['content-type'] = contentType as string;
      if (res.statusCode >= 400 && passOn(res.statusCode)) {
        return { status: res.statusCode, body: parsed, headers: outHeaders };
      }
      if (res.statusCode >= 400) {
        const p = (parsed ?? {}) as { title?: unknown; detail?: unknown; message?: unknown };
        const detail = typeof p.detail === 'string' ? p.detail : typeof p.message === 'string' ? p.message : typeof p.title === 'string' ? p.title : `${this.name} answered ${res.statusCode}`;
        throw backendRefused(res.statusCode, { detail });
      }
      if (req.trace) annotateAttempt(req, () => ({ 'http.response.status_code': res.statusCode }));
      return { status: res.statusCode, body: parsed, headers: outHeaders };
    };
  }

  async health() {
    const url = new URL(this.conn.healthPath, this.base);
    try {
      const res = await request(url, { method: 'GET', dispatcher: this.agent, signal: AbortSignal.timeout(2_000) });
      await res.body.dump();
      return res.statusCode < 500 ? { ok: true } : { ok: false, detail: `${url.href} answered ${res.statusCode}` };
    } catch (err) {
      return { ok: false, detail: `${url.href}: ${err instanceof Error ? ((err as { code?: string }).code ?? err.message) : String(err)}` };
    }
  }

  private closing: Promise<void> | undefined;

  /** Idempotent: a second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= this.agent.close();
    return this.closing;
  }
}

export const httpKind = defineKind<HttpConnection, HttpBinding>({
  name: 'http',
  defaultRole: 'modern',
  bodies: ['json', 'form', 'multipart', 'text', 'binary'],
  connectionSchema,
  bindingSchema,
  defaultPolicy: { timeoutMs: 5_000, retry: { maxRetries: 2 }, concurrency: { limit: 128, queue: 1024 } },
  create: (ctx) => new HttpAdapter(ctx.name, ctx.connection, ctx.contract),
});
