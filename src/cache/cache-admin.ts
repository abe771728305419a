/**
 * The cache's admin API, mounted at /cache by the admin server behind its bearer tokens:
 *   GET    /cache                               Redis state, and each route's settings, figures and whether it serves stale
 *   PUT    /cache/routes/:operationId           change a route's settings (only the fields sent; `ttl: null` stops caching)
 *   DELETE /cache/routes/:operationId/entries   drop the route's entries here, in Redis and in every instance
 * Changes are checked as ficus.yaml is (cache-checks.ts), apply to this instance at once, and are kept
 * in the state store, from which every other instance puts them in force (cache-settings.ts).
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { Contract } from '../contract/contract.ts';
import { durationMs, sizeBytes } from '../config/units.ts';
import { parseBody } from '../control/switch-request.ts';
import type { Logger } from '../observability/logger.ts';
import { PROBLEMS, Problem } from '../problem.ts';
import { cacheRouteSchema, coalesceSchema, invalidatedBySchema, invalidationSchema, varyItemSchema, type CacheRouteConfig } from './cache-config.ts';
import { cacheRouteMistakes } from './cache-checks.ts';
import type { CacheSettings } from './cache-settings.ts';
import type { ResponseCache } from './response-cache.ts';

const changeSchema = z
  .object({
    ttl: durationMs.nullable().optional(),
    staleWhileRevalidate: durationMs.optional(),
    staleIfError: durationMs.optional(),
    negativeTtl: durationMs.nullable().optional(),
    vary: z.array(varyItemSchema).optional(),
    shared: z.boolean().optional(),
    maxEntries: z.number().int().min(1).max(10_000_000).optional(),
    maxBytes: sizeBytes.optional(),
    clientNoCache: z.enum(['pass', 'ignore']).optional(),
    coalesce: coalesceSchema.optional(),
    invalidates: z.array(invalidationSchema).optional(),
    invalidatedBy: z.array(invalidatedBySchema).optional(),
    /** Goes to the log with the change. */
    reason: z.string().min(1).max(500).optional(),
  })
  .strict();

type Handler = (req: Request, res: Response) => void | Promise<void>;
const wrap = (h: Handler) => (req: Request, res: Response, next: NextFunction) => void Promise.resolve(h(req, res)).catch(next);

export interface CacheAdminDeps {
  cache: ResponseCache;
  /** Where changes are kept for the other instances (and restarts). */
  settings: CacheSettings;
  contract: Contract;
  /** Whether cache.redis is set. */
  redis: boolean;
  /** The project's change feeds. */
  feeds: readonly string[];
  logger: Logger;
}

export function cacheAdminRouter({ cache, settings, contract, redis, feeds, logger }: CacheAdminDeps): Router {
  const router = express.Router();
  const operationOf = (req: Request): string => {
    const op = String(req.params.operationId);
    if (!contract.has(op)) throw new Problem(PROBLEMS.notFound, { detail: `operation "${op}" is not in the contract; operations: ${contract.operationIds.join(', ')}` });
    return op;
  };
  router.get(
    '/',
    wrap((_req, res) => void res.json(cache.status())),
  );
  router.put(
    '/routes/:operationId',
    wrap(async (req, res) => {
      const op = operationOf(req);
      const change = parseBody(changeSchema, req.body);
      const current: CacheRouteConfig = cache.routeConfig(op) ?? cacheRouteSchema.parse({});
      const { reason, ttl, negativeTtl, ...rest } = change;
      const next: CacheRouteConfig = { ...current };
      for (const [k, v] of Object.entries(rest)) if (v !== undefined) (next as Record<string, unknown>)[k] = v;
      if (ttl !== undefined) next.ttl = ttl ?? undefined;
      if (negativeTtl !== undefined) next.negativeTtl = negativeTtl ?? undefined;
      const mistakes = cacheRouteMistakes(contract, op, next, { redis, feeds });
      if (mistakes.length > 0) {
        const errors = mistakes.map((m) => ({ field: `body.${m.key || 'operationId'}`, message: `${m.problem}; fix: ${m.fix}` }));
        throw new Problem(PROBLEMS.validation, { detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors });
      }
      const actor = (res.locals.actor as string | undefined) ?? 'admin';
      // Kept first: a change the state store cannot keep is refused (503), not applied here only.
      const version = await settings.save(op, next, actor);
      cache.configure(op, next);
      logger.info({ operation: op, actor, reason, version, cache: next }, 'cache settings changed');
      res.json(cache.status().routes.find((r) => r.operationId === op));
    }),
  );
  router.delete(
    '/routes/:operationId/entries',
    wrap(async (req, res) => {
      const op = operationOf(req);
      const dropped = await cache.invalidate(op, undefined);
      logger.info({ operation: op, actor: res.locals.actor as string | undefined, dropped }, 'cache entries dropped');
      res.json({ operationId: op, dropped });
    }),
  );
  return router;
}
