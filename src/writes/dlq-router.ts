/**
 * The admin API of the dead-letter queue, mounted at /dlq by the admin server behind its bearer tokens:
 *   GET  /dlq                      list (filters: state, operation, reason, olderThan, errorContains, limit)
 *   GET  /dlq/stats                depth and age of the oldest dead letter; outbox depth
 *   GET  /dlq/:id                  one dead letter: its request and every attempt's error
 *   POST /dlq/:id/replay           back into the outbox
 *   POST /dlq/replay               every dead letter matching the filter in the JSON body (at least one filter)
 *   POST /dlq/:id/expire           give up on it
 *   POST /dlq/expire               every dead letter matching the filter in the JSON body (at least one filter)
 * Errors are application/problem+json.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { sendProblem, toProblem } from '../http/problem-response.ts';
import { durationMs } from '../config/units.ts';
import { PROBLEMS, Problem } from '../problem.ts';
import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from './dead-letter-store.ts';
import type { OutboxStore } from './outbox-store.ts';

/** A duration (src/config/units.ts) in whole seconds. */
const duration = durationMs.transform((ms) => Math.round(ms / 1000));

const filterSchema = z
  .object({
    state: z.enum(['dead', 'replayed', 'expired', 'all']).optional(),
    operation: z.string().min(1).optional(),
    reason: z.enum(['exhausted', 'rejected', 'quarantined']).optional(),
    olderThan: duration.optional(),
    errorContains: z.string().min(1).optional(),
    ids: z.array(z.string()).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
  })
  .strict();

function parseFilter(input: unknown, where: 'query' | 'body'): DeadLetterFilter {
  const r = filterSchema.safeParse(input ?? {});
  if (!r.success) {
    const errors = r.error.issues.map((i) => ({ field: `${where}.${i.path.join('.') || '(root)'}`, message: i.message }));
    throw new Problem(PROBLEMS.validation, { detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors });
  }
  const f = r.data;
  return { state: f.state, operation: f.operation, reason: f.reason, olderThanSeconds: f.olderThan, errorContains: f.errorContains, ids: f.ids, limit: f.limit };
}

function summary(d: DeadLetter) {
  const last = d.errors[d.errors.length - 1];
  return {
    id: d.id,
    operation: d.operation,
    source: d.source,
    reason: d.reason,
    state: d.state,
    attempts: d.attempts,
    replays: d.replays,
    acceptedAt: new Date(d.acceptedAt).toISOString(),
    deadAt: new Date(d.deadAt).toISOString(),
    ageSeconds: Math.round((Date.now() - d.deadAt) / 1000),
    lastError: last?.error,
    ...(d.request.consumer !== undefined ? { consumer: d.request.consumer } : {}),
  };
}

export interface DlqRouterDeps {
  deadLetters: DeadLetterStore;
  outbox: OutboxStore;
  replayTarget: Parameters<DeadLetterStore['replay']>[1];
  /** Told after a replay, so the worker looks at once. */
  onReplayed: () => void;
}

type Handler = (req: Request, res: Response) => Promise<void>;

export function dlqRouter(deps: DlqRouterDeps): Router {
  const router = express.Router();
  router.use(express.json({ limit: '100kb' }));
  const wrap = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => {
    fn(req, res).catch(next);
  };
  const requireFilter = (f: DeadLetterFilter) => {
    if (!f.operation && !f.reason && f.olderThanSeconds === undefined && !f.errorContains && !f.ids) {
      throw new Problem(PROBLEMS.validation, {
        detail: 'give at least one of operation, reason, olderThan, errorContains, ids (to act on every dead letter, use olderThan: 0)',
        errors: [{ field: 'body', message: 'no filter given' }],
      });
    }
  };

  router.get(
    '/',
    wrap(async (req, res) => {
      const f = parseFilter(req.query, 'query');
      const items = await deps.deadLetters.list(f);
      res.json({ items: items.map(summary), count: items.length });
    }),
  );
  router.get(
    '/stats',
    wrap(async (_req, res) => {
      const [dlq, outbox] = await Promise.all([deps.deadLetters.figures(), deps.outbox.figures()]);
      const now = Date.now();
      res.json({
        depth: dlq.depth,
        oldestAgeSeconds: dlq.oldest === null ? 0 : Math.round((now - dlq.oldest) / 1000),
        outboxPending: outbox.pending,
        outboxOldestAgeSeconds: outbox.oldest === null ? 0 : Math.round((now - outbox.oldest) / 1000),
      });
    }),
  );
  router.post(
    '/replay',
    wrap(async (req, res) => {
      const f = parseFilter(req.body, 'body');
      requireFilter(f);
      const out = await deps.deadLetters.replay(f, deps.replayTarget);
      if (out.replayed.length > 0) deps.onReplayed();
      res.json(out);
    }),
  );
  router.post(
    '/expire',
    wrap(async (req, res) => {
      const f = parseFilter(req.body, 'body');
      requireFilter(f);
      res.json({ expired: await deps.deadLetters.expire(f) });
    }),
  );
  const one = async (id: string): Promise<DeadLetter> => {
    const d = await deps.deadLetters.get(id);
    if (!d) throw new Problem(PROBLEMS.notFound, { detail: `no dead letter has id "${id}"; \`ficus dlq list\` shows them` });
    return d;
  };
  router.get(
    '/:id',
    wrap(async (req, res) => {
      const d = await one(String(req.params.id));
      res.json({ ...summary(d), idempotencyKey: d.idemKey, request: d.request, errors: d.errors });
    }),
  );
  router.post(
    '/:id/replay',
    wrap(async (req, res) => {
      const d = await one(String(req.params.id));
      if (d.state !== 'dead') throw new Problem(PROBLEMS.conflict, { detail: `dead letter ${d.id} is ${d.state ?? 'gone'}; only dead ones can be replayed` });
      const out = await deps.deadLetters.replay({ ids: [d.id] }, deps.replayTarget);
      if (out.skipped.length > 0) throw new Problem(PROBLEMS.conflict, { detail: `dead letter ${d.id} cannot be replayed: ${out.skipped[0].why}` });
      deps.onReplayed();
      res.status(202).json(out);
    }),
  );
  router.post(
    '/:id/expire',
    wrap(async (req, res) => {
      const d = await one(String(req.params.id));
      if (d.state !== 'dead') throw new Problem(PROBLEMS.conflict, { detail: `dead letter ${d.id} is ${d.state ?? 'gone'}; only dead ones can be expired` });
      res.json({ expired: await deps.deadLetters.expire({ ids: [d.id] }) });
    }),
  );
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    sendProblem(res, toProblem(err));
  });
  // A mount that strips its prefix may leave `?query` without the leading slash (GET /dlq?reason=x):
  // put it back, or the router would not see its root.
  const mounted = (req: Request, res: Response, next: NextFunction) => {
    if (!req.url.startsWith('/')) req.url = `/${req.url}`;
    router(req, res, next);
  };
  return Object.assign(mounted, router) as unknown as Router;
}
