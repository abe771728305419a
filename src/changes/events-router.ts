/**
 * The admin API of change events, mounted at /events behind the admin API's tokens:
 *   GET    /events/subscriptions          where events go (secrets never listed)
 *   POST   /events/subscriptions          subscribe a webhook {name, url, types?, secret?}: answers with its secret once
 *   DELETE /events/subscriptions/:id      unsubscribe (by id or name); its undelivered events are dropped
 *   GET    /events/feeds                  each feed: rows read, events queued, rows quarantined, polls held back
 *   POST   /events/feeds/:name/poll       poll a feed now (answers with the events queued)
 *   POST   /events/feeds/:name/sweep      sweep a feed now
 *   POST   /events/feeds/:name/backfill   {to?, perSecond?, restart?}: every current row as events
 *   GET    /events/deliveries?state=dead  deliveries (pending, delivering, delivered, dead)
 *   GET    /events/stats                  deliveries by state
 *   POST   /events/dead/replay            {subscription?}: dead deliveries due again
 *   GET    /events/quarantine             rows the mapping could not read, with the reason
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { sendProblem, toProblem } from '../http/problem-response.ts';
import { PROBLEMS, Problem } from '../problem.ts';
import type { ChangeFeed } from './change-feed.ts';
import type { EventStore, Subscription } from './event-store.ts';
import { newWebhookSecret } from './sinks/webhook-sink.ts';

type Handler = (req: Request, res: Response) => Promise<void>;

const subscribeSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits, _ . - (at most 100)'),
    url: z.url(),
    types: z.array(z.string().min(1)).optional(),
    secret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/=]{16,}$/)
      .optional(),
  })
  .strict();

const backfillSchema = z.object({ to: z.string().optional(), perSecond: z.number().positive().optional(), restart: z.boolean().optional() }).strict();

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const errors = r.error.issues.map((i) => ({ field: `body.${i.path.join('.') || '(root)'}`, message: i.message }));
  throw new Problem(PROBLEMS.validation, { detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors });
}

export function publicSubscription(s: Subscription) {
  return {
    id: s.id,
    name: s.name,
    kind: s.kind,
    url: s.kind === 'amqp' ? s.url.replace(/\/\/[^@/]*@/, '//***@') : s.url,
    exchange: s.exchange,
    types: s.types,
    origin: s.origin,
    createdAt: new Date(s.createdAt).toISOString(),
  };
}

export function eventsRouter(deps: { events: EventStore; feeds: Map<string, ChangeFeed>; onQueued: () => void }): Router {
  const router = express.Router();
  router.use(express.json({ limit: '100kb' }));
  const wrap = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => {
    fn(req, res).catch(next);
  };
  const feed = (name: string): ChangeFeed => {
    const f = deps.feeds.get(name);
    if (!f) throw new Problem(PROBLEMS.notFound, { detail: `no change feed ${name}; feeds: ${[...deps.feeds.keys()].join(', ') || '(none)'}` });
    return f;
  };

  router.get(
    '/subscriptions',
    wrap(async (_req, res) => {
      res.json({ items: (await deps.events.subscriptions()).map(publicSubscription) });
    }),
  );
  router.post(
    '/subscriptions',
    wrap(async (req, res) => {
      const b = parse(subscribeSchema, req.body);
      const existing = (await deps.events.subscriptions()).find((s) => s.name === b.name);
      if (existing?.origin === 'config') throw new Problem(PROBLEMS.conflict, { detail: `subscription ${b.name} is declared in ficus.yaml (events.sinks); change it there` });
      const secret = b.secret ?? newWebhookSecret();
      const s = await deps.events.subscribe({ name: b.name, kind: 'webhook', url: b.url, types: b.types, secret, origin: 'api' });
      res.status(201).json({ ...publicSubscription(s), secret });
    }),
  );
  router.delete(
    '/subscriptions/:id',
    wrap(async (req, res) => {
      const id = String(req.params.id);
      if (!(await deps.events.unsubscribe(id))) throw new Problem(PROBLEMS.notFound, { detail: `no subscription ${id}` });
      res.status(204).end();
    }),
  );
  router.get(
    '/feeds',
    wrap(async (_req, res) => {
      const items = await Promise.all([...deps.feeds].map(async ([name, f]) => ({ name, ...f.stats, watermark: await deps.events.watermark(name) })));
      res.json({ items });
    }),
  );
  router.post(
    '/feeds/:name/poll',
    wrap(async (req, res) => {
      const queued = await feed(String(req.params.name)).poll();
      deps.onQueued();
      res.json({ queued });
    }),
  );
  router.post(
    '/feeds/:name/sweep',
    wrap(async (req, res) => {
      const queued = await feed(String(req.params.name)).sweep();
      deps.onQueued();
      res.json({ queued });
    }),
  );
  router.post(
    '/feeds/:name/backfill',
    wrap(async (req, res) => {
      const f = feed(String(req.params.name));
      const b = parse(backfillSchema, req.body);
      if (b.to && !(await deps.events.subscriptions()).some((s) => s.name === b.to || s.id === b.to))
        throw new Problem(PROBLEMS.notFound, { detail: `no subscription ${b.to}; list them with ficus events list` });
      const queued = await f.backfill({ subscription: b.to, perSecond: b.perSecond, restart: b.restart });
      deps.onQueued();
      res.json({ queued });
    }),
  );
  router.get(
    '/deliveries',
    wrap(async (req, res) => {
      const state = typeof req.query.state === 'string' ? req.query.state : undefined;
      if (state && !['pending', 'delivering', 'delivered', 'dead'].includes(state))
        throw new Problem(PROBLEMS.validation, {
          detail: 'state must be pending, delivering, delivered or dead',
          errors: [{ field: 'query.state', message: 'pending, delivering, delivered or dead' }],
        });
      const limit = Math.min(10_000, Math.max(1, Number(req.query.limit ?? 100) || 100));
      const items = await deps.events.list({ state: state as 'dead' | undefined, limit });
      res.json({
        items: items.map((d) => ({
          seq: d.seq,
          id: d.eventId,
          subscription: d.subId,
          key: d.orderingKey,
          type: d.event.type,
          state: d.state,
          attempts: d.attempts,
          lastError: d.errors.at(-1)?.error,
        })),
      });
    }),
  );
  router.get(
    '/stats',
    wrap(async (_req, res) => {
      res.json({ deliveries: await deps.events.counts() });
    }),
  );
  router.post(
    '/dead/replay',
    wrap(async (req, res) => {
      const body = (req.body ?? {}) as { subscription?: unknown };
      const replayed = await deps.events.replayDead(typeof body.subscription === 'string' ? body.subscription : undefined);
      deps.onQueued();
      res.json({ replayed });
    }),
  );
  router.get(
    '/quarantine',
    wrap(async (req, res) => {
      res.json({ items: await deps.events.quarantine(typeof req.query.feed === 'string' ? req.query.feed : undefined) });
    }),
  );
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    sendProblem(res, toProblem(err));
  });
  const mounted = (req: Request, res: Response, next: NextFunction) => {
    if (!req.url.startsWith('/')) req.url = `/${req.url}`;
    router(req, res, next);
  };
  return Object.assign(mounted, router) as unknown as Router;
}
