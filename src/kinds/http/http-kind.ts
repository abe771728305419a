/**
 * The http kind: serves operations from a modern HTTP service. Maps path parameters into the
 * upstream path, passes query, chosen headers and the body along, forwards the request id, keeps
 * connections alive, and never hangs (undici's own timeouts under the policy's).
 */
import { Agent, request, errors as undiciErrors } from 'undici';
import { z } from 'zod';
import { defineKind, type Adapter, type BindContext, type OperationHandler, type OperationRequest } from '../kind.ts';
import { Problem, UpstreamError, backendRefused } from '../../problem.ts';

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
    const where = `${this.name} ${method} ${template}`;
    const forward = b.forwardHeaders.map((h) => h.toLowerCase());
    const consumerHeader = this.conn.consumerHeader.toLowerCase();
    const returned = b.returnHeaders.map((h) => h.toLowerCase());
    // A 401 is about the caller's credentials only when the caller's are passed on; else the gateway's were refused.
    const callerCredentials = forward.includes('authorization') || forward.includes('cookie');

    return async (req: OperationRequest) => {
      const path = template.replace(PATH_PARAM, (_m, name: string) => encodeURIComponent(String(req.pathParams[name])));
      const url = new URL(basePath + path, this.base);
      for (const [k, v] of Object.entries(req.query)) {
        if (v === undefined || (b.query !== 'all' && !b.query.includes(k))) continue;
        for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
      }
      const headers: Record<string, string> = { ...this.conn.headers, 'x-request-id': req.requestId, accept: 'application/json' };
      for (const h of forward) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
      // Set by the gateway only: a caller's own header of that name is never passed on as the consumer.
      if (consumerHeader) {
        if (req.consumer !== undefined) headers[consumerHeader] = req.consumer;
        else delete headers[consumerHeader];
      }
      let body: string | undefined;
      if (req.body !== undefined && method !== 'GET') {
        body = JSON.stringify(req.body);
        headers['content-type'] = 'application/json';
      }
      let res;
      try {
        res = await request(url, { method: method as 'GET', headers, body, signal: req.signal, dispatcher: this.agent });
      } catch (err) {
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
      let parsed: unknown;
      try {
        parsed = await readJson(res.body, res.statusCode, where);
      } catch (err) {
        throw networkError(err, where);
      }
      if (res.statusCode === 401 && !callerCredentials) {
        throw new UpstreamError(`${where} refused the gateway's credentials (401; check connection.headers)`, { credentials: true, code: 'http_401' });
      }
      if (res.statusCode >= 400) {
        const p = (parsed ?? {}) as { title?: unknown; detail?: unknown; message?: unknown };
        const detail = typeof p.detail === 'string' ? p.detail : typeof p.message === 'string' ? p.message : typeof p.title === 'string' ? p.title : `${this.name} answered ${res.statusCode}`;
        throw backendRefused(res.statusCode, { detail });
      }
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
  connectionSchema,
  bindingSchema,
  defaultPolicy: { timeoutMs: 5_000, retry: { maxRetries: 2 }, concurrency: { limit: 128, queue: 1024 } },
  create: (ctx) => new HttpAdapter(ctx.name, ctx.connection),
});
