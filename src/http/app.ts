/**
 * The public HTTP side: request ids and timing, operational endpoints, body parsing, the contract's
 * request validation, one handler per operation (route → mode → binding → response check), and
 * problem+json for every error.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';
import { FairTurns } from './fair-turns.ts';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Contract } from '../contract/contract.ts';
import type { GatewayConfig } from '../config/gateway-config.ts';
import type { OperationRequest, OperationResult } from '../kinds/kind.ts';
import type { Logger } from '../observability/logger.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { workerSlot } from '../cluster/worker-link.ts';
import { PROBLEM_CONTENT_TYPE, PROBLEMS, Problem } from '../problem.ts';
import { backendOfError, dispatch, type Dispatched } from '../routing/dispatch.ts';
import type { Route, RouteTable } from '../routing/route-table.ts';
import { docsRouter } from './docs-page.ts';
import { answerError, problemHandler, sendProblem, type GatewayResponse } from './problem-response.ts';
import { OperationRouter } from './operation-router.ts';
import { isJsonMedia, parseMediaType } from './media-types.ts';
import { bodyReaders, multipartSettings, type ReadBody } from './request-body.ts';
import { OperationRequestCheck, requestAjvs, type BodyPlan, type CheckedRequest } from './request-validator.ts';
import { ResponseValidator } from './response-validator.ts';

export const BACKEND_HEADER = 'Ficus-Backend';
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ReadinessReport {
  ready: boolean;
  adapters: Record<string, { kind: string; ok: boolean; detail?: string }>;
  /** The gateway's state store (idempotency keys, outbox, route modes): writes fail while it is down. */
  stateStore?: { ok: boolean; detail?: string };
  /** What features report (the cache: routes serving stale, Redis down). */
  features?: Record<string, FeatureReadiness>;
}

/** A feature's part of /readyz: `ok: false` makes the instance not ready; `detail` says what is degraded. */
export interface FeatureReadiness {
  ok: boolean;
  detail?: string;
  [extra: string]: unknown;
}

/**
 * The http server's 'clientError' listener: a request Node's parser refused (a malformed request
 * line or header, headers past the size limit) gets a short problem+json answer where the socket can
 * still take one (as Node's own default does: nothing written on it yet), then the connection closes.
 */
export function clientErrorHandler(logger: Logger): (err: Error & { code?: string }, socket: Duplex) => void {
  return (err, socket) => {
    if (err.code !== 'ECONNRESET' && socket.writable && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0) {
      const problem =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? new Problem(PROBLEMS.requestHeadersTooLarge, { detail: 'the request headers are larger than the server accepts; send fewer or shorter headers' })
          : err.code === 'HPE_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? new Problem(PROBLEMS.requestTimeout, { detail: 'the request was not received in time' })
            : new Problem(PROBLEMS.validation, { detail: `the request is not valid HTTP (${err.code ?? 'parse error'})` });
      const body = JSON.stringify(problem.toBody());
      const reason = problem.status === 431 ? 'Request Header Fields Too Large' : problem.status === 408 ? 'Request Timeout' : 'Bad Request';
      socket.end(`HTTP/1.1 ${problem.status} ${reason}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      logger.info({ status: problem.status, code: err.code }, 'request refused by the HTTP parser');
      return;
    }
    socket.destroy();
  };
}

/** Hooks later features use to take part in serving an operation (idempotency, recording, ...). */
export interface OperationHooks {
  /**
   * The front door: runs before the request check (before a body is read). Returns undefined when
   * it has nothing to do for the operation, or a promise that rejects with a problem to refuse the
   * call; it may name the caller in `res.locals.consumer`. Runs in the order the features were added.
   */
  admit?: (route: Route, req: IncomingMessage, res: GatewayResponse) => Promise<void> | undefined;
  /** Runs before dispatch; may answer the call itself by returning a result. */
  before?: (route: Route, req: OperationRequest, res: GatewayResponse) => Promise<OperationResult | undefined>;
  /**
   * Wraps the dispatch (after every `before`): call `next()` to go on to the backend, or answer
   * without it. Hooks wrap in the order they were added (the first added is outermost). `next(req)`
   * goes on with another request (the cache's shared call, with a signal of its own).
   */
  around?: (route: Route, req: OperationRequest, next: (req?: OperationRequest) => Promise<Dispatched>) => Promise<Dispatched>;
  /** Runs after the answer is known and checked, off the caller's path where it can. */
  after?: (route: Route, req: OperationRequest, outcome: { dispatched?: Dispatched; result: OperationResult | undefined; problem?: Problem; durationMs: number }) => void;
}

/** What the operation router finds for a request: its route and the compiled checks of its operation. */
interface Target {
  route: Route;
  check: OperationRequestCheck;
}

export interface AppDeps {
  contract: Contract;
  config: GatewayConfig;
  routes: RouteTable;
  metrics: GatewayMetrics;
  logger: Logger;
  readiness: () => Promise<ReadinessReport>;
  /** The features' hooks, in order (fixed: features install before the app is built). */
  hooks?: readonly OperationHooks[];
  /** The checks of backends' answers, shared with the features (default: one of the app's own). */
  responses?: ResponseValidator;
}

function isJsonType(value: unknown): boolean {
  if (typeof value !== 'string') return true;
  const media = parseMediaType(value);
  return media === undefined || isJsonMedia(media);
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = req.headers;
  for (const k in headers) {
    const v = headers[k];
    if (v !== undefined) out[k] = typeof v === 'string' ? v : v.join(', ');
  }
  return out;
}

/**
 * /readyz: 200 when ready, else 503 naming what is down. With `details` false (server.readyzDetails:
 * admin on the public port) only ready or not: which adapter is down, and why, is on the admin port.
 */
export function readyzHandler(readiness: () => Promise<ReadinessReport>, details: boolean): (req: Request, res: Response, next: NextFunction) => Promise<void> {
  return async (_req, res, next) => {
    try {
      const report = await readiness();
      if (!details) {
        if (report.ready) res.json({ status: 'ready' });
        else sendProblem(res, new Problem(PROBLEMS.upstreamUnavailable, { detail: 'not ready (the details are on the admin port: /readyz)' }));
        return;
      }
      const stateStore = { ...(report.stateStore ? { stateStore: report.stateStore } : {}), ...(report.features ? { features: report.features } : {}) };
      if (report.ready) {
        res.json({ status: 'ready', adapters: report.adapters, ...stateStore });
        return;
      }
      const down = Object.entries(report.adapters)
        .filter(([, a]) => !a.ok)
        .map(([name, a]) => `${name}: ${a.detail ?? 'down'}`);
      if (report.stateStore && !report.stateStore.ok) down.unshift(`state store: ${report.stateStore.detail ?? 'down'}`);
      for (const [name, f] of Object.entries(report.features ?? {})) if (!f.ok || f.detail) down.push(`${name}: ${f.detail ?? 'down'}`);
      sendProblem(
        res,
        new Problem(report.stateStore && !report.stateStore.ok ? PROBLEMS.stateStoreUnavailable : PROBLEMS.upstreamUnavailable, {
          detail: `not ready: ${down.join('; ')}`,
          extensions: { adapters: report.adapters, ...stateStore },
        }),
      );
    } catch (err) {
      next(err);
    }
  };
}

/** /metrics: the gateway's registry in the Prometheus (or, traced, OpenMetrics) exposition. */
export function metricsHandler(metrics: GatewayMetrics): (req: Request, res: Response, next: NextFunction) => Promise<void> {
  return async (_req, res, next) => {
    try {
      // In a cluster, every worker's metrics, summed by the primary (src/cluster).
      if (metrics.exposition) {
        const all = await metrics.exposition();
        res.type(all.contentType).send(all.text);
      } else res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (err) {
      next(err);
    }
  };
}

/**
 * The public side as node:http's request listener. The contract's operations are served straight
 * from node's request and response (what Express adds to every request it handles, its router and
 * the prototypes it swaps in, cost more CPU than all of the gateway's own work on a request: see
 * docs/benchmarks.md); the few other paths (/healthz, /readyz, /metrics, the docs, 404) go to an
 * Express app. Every request, of either kind, gets its request id, metrics and log line here.
 */
export function buildApp(deps: AppDeps): RequestListener {
  const { contract, config, routes, metrics, logger } = deps;
  const hooks = deps.hooks ?? [];
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'extended');
  const responses = deps.responses ?? new ResponseValidator(contract, config.server.writeOnly);
  const fail = answerError(logger);

  // Request id, timing, in-flight gauge, the log line and the request metrics.
  function begin(req: IncomingMessage, res: GatewayResponse): void {
    const start = performance.now();
    const url = req.url ?? '/';
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals = { requestId };
    res.setHeader('X-Request-Id', requestId);
    metrics.inFlight.inc();
    res.on('close', () => {
      metrics.inFlight.dec();
      // The caller went away before the answer: whatever serves the operation is told to stop.
      if (!res.writableFinished) (res.locals.callerGone as AbortController | undefined)?.abort(new Error('the caller went away'));
      const operation = (res.locals.operationId as string | undefined) ?? 'none';
      if (operation === 'none' && !res.locals.problem && url.startsWith('/metrics')) return;
      const backend = (res.locals.backend as string | undefined) ?? 'none';
      const seconds = (performance.now() - start) / 1000;
      // 499 (as nginx says it): the caller closed the connection before the answer was sent.
      const status = res.writableFinished ? res.statusCode : 499;
      metrics.requests.inc({ operation, backend, status: String(status) });
      const traceId = res.locals.traceId as string | undefined;
      if (traceId !== undefined && metrics.exemplars)
        metrics.requestDuration.observe({ labels: { operation, backend }, value: seconds, exemplarLabels: { trace_id: traceId } as Record<string, string> });
      else metrics.requestDuration.observe({ operation, backend }, seconds);
      const problem = res.locals.problem as Problem | undefined;
      const line: Record<string, unknown> = {
        requestId,
        operation,
        backend,
        adapter: res.locals.adapter as string | undefined,
        consumer: res.locals.consumer as string | undefined,
        method: req.method,
        path: url,
        status,
        durationMs: Math.round(seconds * 1e6) / 1e3,
        traceId,
      };
      if (problem) {
        line.problem = problem.typeName;
        line.detail = problem.detail;
        line.errors = problem.errors;
      }
      if (!res.writableFinished) line.aborted = true;
      if (res.statusCode >= 500) logger.error(line, 'request failed');
      else logger.info(line, 'request');
    });
  }

  // The contract's operations: one lookup, the request checked against the contract by validators
  // compiled at start-up, the JSON body parsed only where the operation takes one.
  const operations = new OperationRouter<Target>();
  const { coercing, strict } = requestAjvs();
  for (const route of routes.all()) operations.add(route.operation, { route, check: new OperationRequestCheck(route.operation, contract, coercing, strict) });
  const bodies = bodyReaders(config.server.bodyLimit, multipartSettings(config.server));
  // A burst of requests is served a few at a time, the operations taking turns (see FairTurns).
  const turns = new FairTurns();
  // A request for one of the contract's operations is served here; any other goes to the Express app.
  function serveContract(req: IncomingMessage, res: GatewayResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const found = operations.match(req.method ?? 'GET', path);
    if (found.kind === 'none') {
      app(req, res);
      return;
    }
    if (found.kind === 'method-not-allowed') {
      fail(
        new Problem(PROBLEMS.methodNotAllowed, { detail: `${req.method} is not an operation of ${path}; allowed: ${found.allow.join(', ')}`, headers: { Allow: found.allow.join(', ') } }),
        req,
        res,
      );
      return;
    }
    if (found.kind === 'bad-path') {
      fail(new Problem(PROBLEMS.validation, { detail: found.detail }), req, res);
      return;
    }
    const operationId = found.target.route.operationId;
    res.locals.operationId = operationId;
    if (turns.now()) {
      admitThen(0, found.target, found.pathParams, req, res);
      return;
    }
    // A queue per operation and caller (its address): one caller's flood does not hold up another's call to the same operation either.
    turns.later(`${operationId} ${req.socket.remoteAddress ?? ''}`, () => {
      // A caller that went away while its request waited for its turn is not served (its 499 is logged).
      if (res.destroyed) return;
      try {
        admitThen(0, found.target, found.pathParams, req, res);
      } catch (e) {
        fail(e, req, res);
      }
    });
  }

  // The front door's hooks, in order, before the request is read any further.
  function admitThen(i: number, target: Target, pathParams: Record<string, string>, req: IncomingMessage, res: GatewayResponse): void {
    for (; i < admits.length; i++) {
      const pending = admits[i](target.route, req, res);
      if (pending) {
        pending.then(
          () => admitThen(i + 1, target, pathParams, req, res),
          (err: unknown) => fail(err, req, res),
        );
        return;
      }
    }
    readBody(target, pathParams, req, res);
  }

  // The body, where the operation takes one and one was sent (none: fine, unless it says it is of a
  // media type the operation does not take).
  function readBody(target: Target, pathParams: Record<string, string>, req: IncomingMessage, res: GatewayResponse): void {
    const { check } = target;
    const contentType = req.headers['content-type'];
    const length = req.headers['content-length'];
    if (!check.takesBody || (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0') && (contentType === undefined || check.bodyPlan(contentType)))) {
      serveChecked(target, pathParams, req, res, 'none');
      return;
    }
    const plan = check.bodyPlan(contentType);
    const media = plan && parseMediaType(contentType);
    if (!plan || !media) {
      fail(check.unsupported(contentType), req, res);
      return;
    }
    bodies.read(req, res, plan.kind, media, plan.encodings, plan.objectFields).then(
      (read) => serveChecked(target, pathParams, req, res, plan, read),
      (err: unknown) => fail(err, req, res),
    );
  }

  // The request checked against the contract, then served.
  function serveChecked(target: Target, pathParams: Record<string, string>, req: IncomingMessage, res: GatewayResponse, plan: 'none' | BodyPlan, read?: ReadBody): void {
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const checked = target.check.check(pathParams, q === -1 ? '' : url.slice(q + 1), req.headers, read?.body, plan);
      serveOperation(target.route, req, res, checked, plan === 'none' ? undefined : { plan, read: read as ReadBody }).catch((err: unknown) => fail(err, req, res));
    } catch (e) {
      fail(e, req, res);
    }
  }

  // A cluster's worker says which it is (so that a caller can see the workers take turns).
  const worker = workerSlot();
  const health = worker ? { status: 'up', worker: worker.index, pid: process.pid } : { status: 'up' };
  app.get('/healthz', (_req, res) => {
    res.json(health);
  });
  app.get('/readyz', readyzHandler(deps.readiness, config.server.readyzDetails === 'public'));
  if (config.server.metrics === 'public') app.get('/metrics', metricsHandler(metrics));
  if (config.server.docs) app.use(docsRouter(contract.file, String((contract.document.info as { title?: string } | undefined)?.title ?? 'API')));

  async function serveOperation(route: Route, req: IncomingMessage, res: GatewayResponse, checked: CheckedRequest, sent: { plan: BodyPlan; read: ReadBody } | undefined): Promise<void> {
    const start = performance.now();
    const abort = new AbortController();
    res.locals.callerGone = abort;
    const opReq: OperationRequest = {
      operationId: route.operationId,
      method: req.method ?? 'GET',
      pathParams: checked.pathParams,
      query: checked.query,
      headers: headersOf(req),
      body: sent?.read.body,
      requestId: res.locals.requestId as string,
      consumer: res.locals.consumer as string | undefined,
      signal: abort.signal,
    };
    if (sent && sent.plan.kind !== 'json') {
      opReq.media = req.headers['content-type'];
      if (sent.read.spool) opReq.bodySource = sent.read.spool;
      else opReq.rawBody = sent.read.raw;
    }
    let dispatched: Dispatched | undefined;
    let result: OperationResult | undefined;
    try {
      for (const before of befores) {
        result = await before(route, opReq, res);
        if (result) break;
      }
      if (!result) {
        dispatched = await aroundChain(route, opReq, arounds, 0);
        res.locals.backend = dispatched.backend;
        res.locals.adapter = dispatched.adapter;
        res.setHeader(BACKEND_HEADER, dispatched.backend);
        result = dispatched.result;
        // (304 Not Modified: the cache's answer to If-None-Match, no body to check.)
        const violations = result.status === 304 ? [] : responses.check(route.operationId, result);
        if (violations.length > 0) {
          for (const v of violations) metrics.contractViolations.inc({ operation: route.operationId, direction: 'response', field: v.field });
          logger.warn({ requestId: opReq.requestId, operation: route.operationId, backend: dispatched.backend, adapter: dispatched.adapter, violations }, 'backend response breaks the contract');
          throw new Problem(PROBLEMS.upstreamContractViolation, {
            detail: `${dispatched.adapter} answered ${route.operationId} with: ${violations.map((v) => `${v.field} ${v.message}`).join('; ')}`,
            errors: violations,
          });
        }
      }
      if (result.headers) for (const k in result.headers) res.setHeader(k, result.headers[k]);
      res.statusCode = result.status;
      if (result.body === undefined) res.end();
      else if (Buffer.isBuffer(result.body) || (typeof result.body === 'string' && !isJsonType(res.getHeader('content-type')))) {
        // A declared answer that is not JSON (an image, text): passed on as the bytes it is.
        if (!res.hasHeader('content-type')) res.setHeader('Content-Type', Buffer.isBuffer(result.body) ? 'application/octet-stream' : 'text/plain; charset=utf-8');
        const bytes = Buffer.isBuffer(result.body) ? result.body : Buffer.from(result.body);
        res.setHeader('Content-Length', bytes.length);
        res.end(bytes);
      } else {
        const json = JSON.stringify(result.body);
        if (!res.hasHeader('content-type')) res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.setHeader('Content-Length', Buffer.byteLength(json));
        res.end(json);
      }
      notifyAfter(route, opReq, { dispatched, result, durationMs: performance.now() - start });
    } catch (err) {
      const failed = backendOfError(err);
      if (failed && !res.headersSent) {
        res.locals.backend = failed.backend;
        res.locals.adapter = failed.adapter;
        res.setHeader(BACKEND_HEADER, failed.backend);
      }
      const problem = err instanceof Problem ? err : undefined;
      notifyAfter(route, opReq, { dispatched, result: undefined, problem, durationMs: performance.now() - start });
      throw err;
    }
  }

  // The `around` hooks in order, outermost first (the features' hooks are fixed before the app is built).
  const arounds = hooks.flatMap((h) => (h.around ? [h.around] : []));
  const befores = hooks.flatMap((h) => (h.before ? [h.before] : []));
  const admits = hooks.flatMap((h) => (h.admit ? [h.admit] : []));
  const afters = hooks.flatMap((h) => (h.after ? [h.after] : []));

  function aroundChain(route: Route, req: OperationRequest, chain: NonNullable<OperationHooks['around']>[], i: number): Promise<Dispatched> {
    if (i === chain.length) return dispatch(route, req);
    return chain[i](route, req, (r = req) => aroundChain(route, r, chain, i + 1));
  }

  function notifyAfter(route: Route, req: OperationRequest, outcome: Parameters<NonNullable<OperationHooks['after']>>[2]): void {
    for (const after of afters) {
      try {
        after(route, req, outcome);
      } catch (err) {
        logger.error({ err, requestId: req.requestId }, 'an after-hook failed');
      }
    }
  }

  app.use((_req: Request, _res: Response, next: NextFunction) => {
    next(new Problem(PROBLEMS.routeNotFound));
  });
  app.use(problemHandler(logger));

  return (req, res) => {
    const r = res as GatewayResponse;
    begin(req, r);
    serveContract(req, r);
  };
}
