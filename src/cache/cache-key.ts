/**
 * The cache key of a read: the recorder's normalised request (src/recording/exchange-format.ts
 * `requestKey`: operation, method, concrete path, sorted query and body), then what the route varies
 * by (the consumer by default, so that one consumer never gets another's answer), plus the tags an
 * invalidation by a write can name (`accountId=A1`).
 */
import type { ContractOperation } from '../contract/contract.ts';
import type { OperationRequest } from '../kinds/kind.ts';
import { requestKey } from '../recording/exchange-format.ts';

/** The consumer's part of a key when the front door knows no consumer. */
export const ANONYMOUS = '-';

export function concretePath(op: ContractOperation, pathParams: Record<string, unknown>): string {
  return op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(String(pathParams[name] ?? '')));
}

export function varyValue(item: string, req: OperationRequest): string {
  if (item === 'consumer') return req.consumer ?? ANONYMOUS;
  if (item.startsWith('header.')) return req.headers[item.slice(7).toLowerCase()] ?? '';
  const v = req.query[item.slice(6)];
  return v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}

export function cacheKey(op: ContractOperation, req: OperationRequest, vary: readonly string[]): string {
  const base = requestKey(op.operationId, { method: req.method, path: concretePath(op, req.pathParams), query: req.query, headers: {}, body: req.body ?? null });
  if (vary.length === 0) return base;
  let out = base;
  for (const item of vary) out += `|${encodeURIComponent(varyValue(item, req))}`;
  return out;
}

/** The tag of the entries of a read whose parameter `name` is `value`. */
export function tagOf(name: string, value: unknown): string {
  return `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
}

/** The tags of one read's entry: one per parameter that some write's invalidation names. */
export function tagsOf(req: OperationRequest, names: readonly string[]): string[] {
  const tags: string[] = [];
  for (const name of names) {
    const v = req.pathParams[name] ?? req.query[name];
    if (v !== undefined) tags.push(tagOf(name, v));
  }
  return tags;
}

/** A write's value at `path.x`, `query.x` or `body.a.b`. */
export function valueAt(req: OperationRequest, from: string): unknown {
  const dot = from.indexOf('.');
  const where = from.slice(0, dot);
  const rest = from.slice(dot + 1);
  if (where === 'path') return req.pathParams[rest];
  if (where === 'query') return req.query[rest];
  let v: unknown = req.body;
  for (const part of rest.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/** The name of the read's parameter an invalidation's `from` matches (its last part). */
export function paramNameOf(from: string): string {
  return from.slice(from.lastIndexOf('.') + 1);
}

/** A change event's value at `subject` or `data.a.b`. */
export function valueInEvent(e: { subject: string; data: unknown }, from: string): unknown {
  if (from === 'subject') return e.subject;
  let v: unknown = e.data;
  for (const part of from.slice(5).split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}
