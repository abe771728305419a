/**
 * The hooks that put writes into the outbox and answer for them until they are delivered:
 * - the queue hook: an asynchronous route's writes (or any outbox route's writes while its legacy
 *   system is down or slow) are committed to the outbox and answered 202 with a status resource;
 * - the status hook: the status resource answers "pending" or "failed" for writes still in the
 *   outbox or dead, and asks the backend once the write was delivered.
 */
import { randomUUID } from 'node:crypto';
import type { Contract, ContractOperation, JsonSchema } from '../contract/contract.ts';
import type { OperationHooks } from '../http/app.ts';
import { storableHeaderNames, storableHeaders } from '../http/stored-headers.ts';
import type { OperationRequest, OperationResult } from '../kinds/kind.ts';
import { PROBLEMS, Problem } from '../problem.ts';
import type { Dispatched } from '../routing/dispatch.ts';
import type { Route } from '../routing/route-table.ts';
import { idempotencyKeyOf } from './idempotency-hook.ts';
import type { OutboxEntry, OutboxStore, StoredRequest } from './outbox-store.ts';
import type { WriteRouteConfig, WritesConfig } from './writes-config.ts';
import type { WritesMetrics } from './writes-metrics.ts';

/**
 * The request as the outbox and the dead-letter queue keep it: headers only from the shared
 * allow-list (src/http/stored-headers.ts: content headers, the operation's declared header
 * parameters, `keep` such as the idempotency header; never a credential).
 */
export function storedRequest(req: OperationRequest, op: ContractOperation | undefined, keep: readonly string[]): StoredRequest {
  const headers = storableHeaders(req.headers, storableHeaderNames(op, keep));
  // The gateway's own span of the request (when traced): the delivery's span links back to it.
  if (req.traceparent !== undefined) headers.traceparent = req.traceparent;
  return {
    operationId: req.operationId,
    method: req.method,
    pathParams: req.pathParams,
    query: req.query,
    headers,
    body: req.body,
    requestId: req.requestId,
    ...(req.consumer !== undefined ? { consumer: req.consumer } : {}),
  };
}

/** The ordering key of a write: a body field, or `path.<param>` / `query.<param>`. */
export function orderingKeyOf(spec: string | undefined, req: { pathParams: Record<string, unknown>; query: Record<string, unknown>; body: unknown }): string | undefined {
  if (!spec) return undefined;
  let v: unknown;
  if (spec.startsWith('path.')) v = req.pathParams[spec.slice(5)];
  else if (spec.startsWith('query.')) v = req.query[spec.slice(6)];
  else {
    v = req.body;
    for (const part of spec.replace(/^body\./, '').split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  }
  return v === undefined || v === null ? undefined : String(v);
}

function propertiesOf(schema: JsonSchema | undefined): Set<string> | undefined {
  const props = schema?.properties;
  if (!props || typeof props !== 'object') return undefined;
  return schema.additionalProperties === false ? new Set(Object.keys(props)) : undefined;
}

/** The body of a status answer for a write still in the outbox: the request's fields the schema allows, the id and the status. */
export function statusBody(
  contract: Contract,
  operationId: string,
  httpStatus: number,
  status: NonNullable<WriteRouteConfig['status']>,
  id: string,
  request: StoredRequest,
  state: string,
  rejection?: { code: string; reason: string },
): Record<string, unknown> {
  const allowed = propertiesOf(contract.responseSchema(operationId, httpStatus));
  const body: Record<string, unknown> = {};
  if (request.body && typeof request.body === 'object' && !Array.isArray(request.body)) {
    for (const [k, v] of Object.entries(request.body as Record<string, unknown>)) if (!allowed || allowed.has(k)) body[k] = v;
  }
  body[status.idField] = id;
  body[status.statusField] = state;
  if (rejection && status.rejectionField) body[status.rejectionField] = rejection;
  return body;
}

export interface OutboxHookOptions {
  contract: Contract;
  config: WritesConfig;
  outbox: OutboxStore;
  metrics: WritesMetrics;
  idempotencyHeader: string;
  /** Told when a write was queued, so the worker looks at once. */
  onQueued: () => void;
}

function statusPath(contract: Contract, status: NonNullable<WriteRouteConfig['status']>, id: string): string {
  return contract.operation(status.operation).path.replace(`{${status.param}}`, encodeURIComponent(id));
}

export function queueHook(opts: OutboxHookOptions): OperationHooks {
  const { contract, config, outbox, metrics } = opts;
  const queue = async (route: Route, req: OperationRequest, routeConfig: WriteRouteConfig, why: 'async' | 'down'): Promise<Dispatched> => {
    const status = routeConfig.status;
    if (!status) throw new Problem(PROBLEMS.internal, { detail: `writes.routes.${route.operationId} has no status resource` });
    const id = randomUUID();
    const request = storedRequest(req, route.operation, [opts.idempotencyHeader]);
    await outbox.enqueue({ id, operation: route.operationId, idemKey: idempotencyKeyOf(route, req, opts.idempotencyHeader), orderingKey: orderingKeyOf(routeConfig.orderingKey, req), request });
    metrics.outboxAccepted.inc({ operation: route.operationId, why });
    opts.onQueued();
    const result: OperationResult = {
      status: 202,
      headers: { Location: statusPath(contract, status, id) },
      body: statusBody(contract, route.operationId, 202, status, id, request, status.pending),
    };
    const backend = route.state.mode === 'modern' ? 'modern' : 'legacy';
    return { result, backend, adapter: route.binding(backend)?.adapter ?? 'outbox' };
  };
  /** A write the backend refused as down (a problem type of `outbox.queueOn`) is queued instead. */
  const queueIfDown = async (route: Route, req: OperationRequest, routeConfig: WriteRouteConfig, next: () => Promise<Dispatched>): Promise<Dispatched> => {
    try {
      return await next();
    } catch (err) {
      if (err instanceof Problem && config.outbox.queueOn.includes(err.typeName)) return queue(route, req, routeConfig, 'down');
      throw err;
    }
  };
  // A route without a status resource goes straight on (no async step of its own).
  return {
    around: (route, req, next) => {
      const routeConfig = config.routes[route.operationId];
      if (!routeConfig?.status) return next();
      return routeConfig.async ? queue(route, req, routeConfig, 'async') : queueIfDown(route, req, routeConfig, next);
    },
  };
}

/** Answers the status resource of writes the outbox still holds, or has given up on. */
export function statusHook(opts: OutboxHookOptions): OperationHooks {
  const { contract, config, outbox } = opts;
  const byStatusOp = new Map<string, NonNullable<WriteRouteConfig['status']>>();
  for (const r of Object.values(config.routes)) if (r.status) byStatusOp.set(r.status.operation, r.status);
  const answer = (route: Route, entry: OutboxEntry, status: NonNullable<WriteRouteConfig['status']>, state: string, rejection?: { code: string; reason: string }): Dispatched => {
    const backend = route.state.mode === 'modern' ? 'modern' : 'legacy';
    return {
      result: { status: 200, body: statusBody(contract, route.operationId, 200, status, entry.id, entry.request, state, rejection) },
      backend,
      adapter: 'outbox',
    };
  };
  // Only the status operations go through it; every other call goes straight on (no async step of its own).
  return {
    around: (route, req, next) => {
      const status = byStatusOp.get(route.operationId);
      return status ? answerStatus(route, req, status, next) : next();
    },
  };

  async function answerStatus(route: Route, req: OperationRequest, status: NonNullable<WriteRouteConfig['status']>, next: () => Promise<Dispatched>): Promise<Dispatched> {
    const id = String(req.pathParams[status.param] ?? '');
    const entry = id === '' ? undefined : await outbox.get(id);
    if (!entry) return next();
    if (entry.state === 'pending' || entry.state === 'delivering') return answer(route, entry, status, status.pending);
    if (entry.state === 'dead' || entry.state === 'expired') {
      const last = entry.errors[entry.errors.length - 1];
      return answer(route, entry, status, status.failed, {
        code: entry.state === 'expired' ? 'EXPIRED' : last?.status && last.status < 500 ? 'REJECTED' : 'UNDELIVERABLE',
        reason: last?.error ?? 'the write could not be delivered',
      });
    }
    // Delivered: the backend's own status resource knows more now (it may know the write by its own id).
    const delivered = (entry.result ?? {}) as { status?: number; body?: unknown };
    const backendId = delivered.body && typeof delivered.body === 'object' ? (delivered.body as Record<string, unknown>)[status.idField] : undefined;
    if (typeof backendId === 'string' && backendId !== id) req.pathParams[status.param] = backendId;
    try {
      const d = await next();
      if (d.result.body && typeof d.result.body === 'object' && !Array.isArray(d.result.body)) d.result.body = { ...(d.result.body as Record<string, unknown>), [status.idField]: id };
      return d;
    } catch (err) {
      if (err instanceof Problem && err.status === 404 && delivered.body && typeof delivered.body === 'object') {
        return { result: { status: 200, body: { ...(delivered.body as Record<string, unknown>), [status.idField]: id } }, backend: 'legacy', adapter: 'outbox' };
      }
      throw err;
    }
  }
}
