/**
 * The admin API of consumers and their API keys (behind the admin tokens), each change written to
 * the audit log with the admin who made it. A key is in an answer once: when it is issued.
 *
 *   GET    /consumers                         list (with each one's active keys)
 *   GET    /consumers/calls                   calls by consumer on this instance since it started (the dashboard's table)
 *   POST   /consumers {name, description?}    add
 *   GET    /consumers/:name/keys              the consumer's keys (ids and dates, never the key)
 *   POST   /consumers/:name/keys              issue a key
 *   POST   /consumers/:name/keys/rotate {grace?}   issue a key; the others stop after `grace` (0: at once)
 *   DELETE /consumers/:name/keys/:id          revoke one key
 *   DELETE /consumers/:name/keys              revoke every key of the consumer
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { ControlPlane } from '../control/control-plane.ts';
import { parseBody } from '../control/switch-request.ts';
import { durationMs } from '../config/units.ts';
import type { FeatureHost } from '../features/feature.ts';
import { PROBLEMS, Problem } from '../problem.ts';
import type { ConsumerCalls } from './consumer-calls.ts';
import { ConsumerError, type ConsumerStore } from './consumer-store.ts';

const addBody = z.object({ name: z.string(), description: z.string().max(500).default('') }).strict();
const rotateBody = z.object({ grace: durationMs.prefault('0s') }).strict();

type Handler = (req: Request, res: Response) => Promise<void>;

function asProblem(err: unknown): unknown {
  if (!(err instanceof ConsumerError)) return err;
  if (err.reason === 'exists') return new Problem(PROBLEMS.conflict, { detail: err.message });
  if (err.reason === 'bad-name') return new Problem(PROBLEMS.validation, { detail: err.message, errors: [{ field: 'body.name', message: err.message }] });
  return new Problem(PROBLEMS.notFound, { detail: err.message });
}

export function consumersRouter(consumers: ConsumerStore, host: FeatureHost, calls: () => Promise<ConsumerCalls[]>): Router {
  const router = express.Router();
  const wrap = (h: Handler) => (req: Request, res: Response, next: NextFunction) => void h(req, res).catch((e: unknown) => next(asProblem(e)));
  const audit = async (res: Response, consumer: string, action: string, reason: string) => {
    const control = host.featureApi<ControlPlane>('control');
    if (!control) return;
    await control.control.audit({
      at: new Date().toISOString(),
      actor: String(res.locals.actor ?? 'unknown'),
      automatic: false,
      operationId: `consumer:${consumer}`,
      action,
      from: null,
      to: null,
      reason,
    });
  };

  router.get(
    '/',
    wrap(async (_req, res) => void res.json({ consumers: await consumers.listConsumers() })),
  );
  router.get(
    '/calls',
    wrap(async (_req, res) => void res.json({ consumers: await calls() })),
  );
  router.post(
    '/',
    wrap(async (req, res) => {
      const body = parseBody(addBody, req.body);
      const added = await consumers.addConsumer(body.name, body.description);
      await audit(res, added.name, 'consumer-add', body.description);
      res.status(201).json(added);
    }),
  );
  router.get(
    '/:name/keys',
    wrap(async (req, res) => void res.json({ consumer: req.params.name, keys: await consumers.listKeys(String(req.params.name)) })),
  );
  router.post(
    '/:name/keys',
    wrap(async (req, res) => {
      const issued = await consumers.issueKey(String(req.params.name));
      await audit(res, issued.consumer, 'key-issue', `key ${issued.id}`);
      res.status(201).json(issued);
    }),
  );
  router.post(
    '/:name/keys/rotate',
    wrap(async (req, res) => {
      const body = parseBody(rotateBody, req.body ?? {});
      const rotated = await consumers.rotate(String(req.params.name), body.grace);
      await audit(res, rotated.consumer, 'key-rotate', `key ${rotated.id}; retiring ${rotated.retiring.join(', ') || 'none'} at ${rotated.retireAt}`);
      res.status(201).json(rotated);
    }),
  );
  router.delete(
    '/:name/keys/:id',
    wrap(async (req, res) => {
      const name = String(req.params.name);
      const keys = await consumers.listKeys(name);
      if (!keys.some((k) => k.id === req.params.id)) throw new ConsumerError('unknown-key', `consumer ${name} has no key ${String(req.params.id)}`);
      const revoked = await consumers.revoke({ keyId: String(req.params.id) });
      await audit(res, name, 'key-revoke', `key ${String(req.params.id)}`);
      res.json({ consumer: name, revoked });
    }),
  );
  router.delete(
    '/:name/keys',
    wrap(async (req, res) => {
      const name = String(req.params.name);
      const revoked = await consumers.revoke({ consumer: name });
      await audit(res, name, 'key-revoke', `all keys (${revoked})`);
      res.json({ consumer: name, revoked });
    }),
  );
  return router;
}
