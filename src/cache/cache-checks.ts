/**
 * The checks of one route's cache settings against the contract, shared by the config check at
 * start-up and the admin API's changes: each mistake with the key at fault and its fix.
 */
import type { Contract } from '../contract/contract.ts';
import { invalidationsOf, type CacheRouteConfig } from './cache-config.ts';
import { paramNameOf } from './cache-key.ts';

export interface CacheMistake {
  /** Under the route's key, e.g. `vary`, `invalidates[0]`. */
  key: string;
  problem: string;
  fix: string;
}

/** What a route's settings are checked against besides the contract. */
export interface CacheCheckContext {
  /** Whether `cache.redis` is set (coalescing across instances needs it). */
  redis: boolean;
  /** The change feeds of the project (undefined: not checked). */
  feeds?: readonly string[];
}

export function cacheRouteMistakes(contract: Contract, operationId: string, rc: CacheRouteConfig, ctx: CacheCheckContext = { redis: false }): CacheMistake[] {
  const out: CacheMistake[] = [];
  if (!contract.has(operationId)) {
    out.push({ key: '', problem: `operation "${operationId}" is not in the contract`, fix: `use an operationId of the contract: ${contract.operationIds.join(', ')}` });
    return out;
  }
  const op = contract.operation(operationId);
  const caches = rc.ttl !== undefined || rc.negativeTtl !== undefined || rc.staleIfError > 0 || rc.staleWhileRevalidate > 0;
  if (!op.safe && caches) {
    out.push({
      key: 'ttl',
      problem: `${operationId} is ${op.method.toUpperCase()}: only safe operations (GET, HEAD) are cached`,
      fix: 'remove ttl, staleWhileRevalidate, staleIfError and negativeTtl here; to make cached reads stale after this write, use invalidates',
    });
  }
  if (rc.ttl !== undefined && rc.ttl <= 0) out.push({ key: 'ttl', problem: 'ttl must be above 0', fix: 'give a duration such as 30s, or remove ttl to coalesce without caching' });
  if (rc.ttl === undefined && (rc.staleIfError > 0 || rc.staleWhileRevalidate > 0 || rc.negativeTtl !== undefined) && op.safe) {
    out.push({ key: 'ttl', problem: 'staleWhileRevalidate, staleIfError and negativeTtl need a ttl', fix: 'add ttl (how long an answer is fresh), e.g. ttl: 30s' });
  }
  if (!rc.vary.includes('consumer') && !rc.shared) {
    out.push({
      key: 'vary',
      problem: 'vary leaves out consumer: one consumer would be served an answer cached for another',
      fix: 'add consumer to vary, or set shared: true if the answer is the same whatever the consumer',
    });
  }
  if (rc.coalesce === 'cluster' && !ctx.redis) {
    out.push({ key: 'coalesce', problem: 'coalescing across instances needs Redis', fix: 'set cache.redis (url, keyPrefix), or write coalesce: true to coalesce in each instance' });
  }
  if (rc.coalesce === 'cluster' && !op.safe) out.push({ key: 'coalesce', problem: `${operationId} is not a read: only reads coalesce`, fix: 'remove coalesce here' });
  rc.invalidatedBy.forEach((by, i) => {
    const key = `invalidatedBy[${i}]`;
    if (!op.safe) {
      out.push({ key, problem: `${operationId} is not a read: change events make cached reads stale`, fix: `put invalidatedBy under the read it makes stale` });
      return;
    }
    if (ctx.feeds && !ctx.feeds.includes(by.feed)) {
      out.push({
        key: `${key}.feed`,
        problem: `no change feed is named "${by.feed}"`,
        fix: ctx.feeds.length > 0 ? `name a feed of the adapter files' changes: ${ctx.feeds.join(', ')}` : 'declare the feed under changes: of a db adapter file',
      });
    }
    if (by.key === undefined) return;
    const where = by.key.slice(0, by.key.indexOf('.'));
    const name = by.key.slice(where.length + 1);
    if (!op.parameters.some((p) => p.in === where && p.name === name)) {
      const known = op.parameters.filter((p) => p.in === 'path' || p.in === 'query').map((p) => `${p.in}.${p.name}`);
      out.push({
        key: `${key}.key`,
        problem: `${operationId} has no ${where} parameter "${name}"`,
        fix: known.length > 0 ? `use one of: ${known.join(', ')}, or leave key out to drop every entry` : 'leave key out to drop every entry of the route',
      });
    }
  });
  invalidationsOf(rc).forEach((inv, i) => {
    const key = `invalidates[${i}]`;
    if (op.safe) {
      out.push({
        key,
        problem: `${operationId} is a read: invalidations belong on the writes that make reads stale`,
        fix: `move it to the cache settings of the write operation (PUT, POST, PATCH, DELETE)`,
      });
      return;
    }
    if (!contract.has(inv.operationId)) {
      out.push({
        key,
        problem: `operation "${inv.operationId}" is not in the contract`,
        fix: `name a read of the contract: ${contract.operationIds.filter((o) => contract.operation(o).safe).join(', ')}`,
      });
      return;
    }
    const target = contract.operation(inv.operationId);
    if (!target.safe) {
      out.push({ key, problem: `${inv.operationId} is not a read; only reads are cached`, fix: `name a read: ${contract.operationIds.filter((o) => contract.operation(o).safe).join(', ')}` });
      return;
    }
    if (inv.from === undefined) return;
    const where = inv.from.slice(0, inv.from.indexOf('.'));
    const name = paramNameOf(inv.from);
    if ((where === 'path' || where === 'query') && !op.parameters.some((p) => p.in === where && p.name === inv.from!.slice(where.length + 1))) {
      const known = op.parameters.filter((p) => p.in === 'path' || p.in === 'query').map((p) => `${p.in}.${p.name}`);
      out.push({
        key,
        problem: `${operationId} has no ${where} parameter "${inv.from.slice(where.length + 1)}"`,
        fix: known.length > 0 ? `use one of: ${known.join(', ')}, or body.<field>` : 'use body.<field>',
      });
      return;
    }
    if (!target.parameters.some((p) => (p.in === 'path' || p.in === 'query') && p.name === name)) {
      const known = target.parameters.filter((p) => p.in === 'path' || p.in === 'query').map((p) => p.name);
      out.push({
        key,
        problem: `${inv.operationId} has no path or query parameter "${name}" for the value to match`,
        fix: known.length > 0 ? `name a value whose last part is one of ${inv.operationId}'s parameters: ${known.join(', ')}` : `write just "${inv.operationId}" to drop all its entries`,
      });
    }
  });
  return out;
}
