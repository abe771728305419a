/**
 * The admin side, on its own port (never reachable from the public API): the migration dashboard
 * (a page that asks for a token), the admin API described by admin-openapi.yaml behind named bearer
 * tokens, /metrics and /readyz (open, as on the public port, which may leave them to this one), and the admin routers of other features (`InstalledFeature.adminRouters`: the dead-letter queue,
 * recording control) behind the same authentication. Every error is application/problem+json.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { PROBLEMS, Problem } from '../problem.ts';
import { problemHandler } from '../http/problem-response.ts';
import { metricsHandler, readyzHandler } from '../http/app.ts';
import type { ControlPlane } from './control-plane.ts';
import { gatesBodySchema, ignoreBodySchema, parseBody, switchBodySchema } from './switch-request.ts';

const DASHBOARD_DIR = fileURLToPath(new URL('./dashboard/', import.meta.url));
const ADMIN_SPEC = fileURLToPath(new URL('../../admin-openapi.yaml', import.meta.url));

function intQuery(req: Request, name: string, def: number, max: number): number {
  const raw = req.query[name];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 1 || n > max) {
    throw new Problem(PROBLEMS.validation, { detail: `query.${name}: a whole number from 1 to ${max}`, errors: [{ field: `query.${name}`, message: `a whole number from 1 to ${max}` }] });
  }
  return n;
}

type Handler = (req: Request, res: Response) => Promise<void>;
const wrap = (h: Handler) => (req: Request, res: Response, next: NextFunction) => void h(req, res).catch(next);

export function buildAdminApp(cp: ControlPlane): Express {
  const app = express();
  const logger = cp.host.logger.child({ component: 'admin' });
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    res.locals.requestId = randomUUID();
    res.setHeader('X-Request-Id', res.locals.requestId as string);
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  // Open: the page (it holds no data; it asks for a token), its script, liveness, the API's description.
  app.get('/', (_req, res) => res.type('html').send(readFileSync(`${DASHBOARD_DIR}dashboard.html`, 'utf8')));
  app.get('/dashboard.js', (_req, res) => res.type('application/javascript').send(readFileSync(`${DASHBOARD_DIR}dashboard.js`, 'utf8')));
  app.get('/dashboard-consumers.js', (_req, res) => res.type('application/javascript').send(readFileSync(`${DASHBOARD_DIR}dashboard-consumers.js`, 'utf8')));
  app.get('/healthz', (_req, res) => res.json({ status: 'up' }));
  app.get('/openapi.yaml', (_req, res) => res.type('application/yaml').send(readFileSync(ADMIN_SPEC, 'utf8')));
  // Open as on the public port, for Prometheus and probes: /metrics, and /readyz with every detail
  // (server.metrics and server.readyzDetails: admin keep them off the public port).
  app.get('/metrics', metricsHandler(cp.host.metrics));
  app.get(
    '/readyz',
    readyzHandler(() => cp.host.readiness(), true),
  );

  // Everything else needs a named bearer token.
  app.use((req, res, next) => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const challenge = { 'WWW-Authenticate': 'Bearer realm="ficus-admin"' };
    if (cp.tokens.names.length === 0) {
      next(new Problem(PROBLEMS.unauthorized, { detail: 'no admin tokens are configured: set FICUS_ADMIN_TOKENS=name:token,... where the gateway runs', headers: challenge }));
      return;
    }
    if (!m) {
      next(new Problem(PROBLEMS.unauthorized, { detail: 'send Authorization: Bearer <token> with a token from FICUS_ADMIN_TOKENS', headers: challenge }));
      return;
    }
    const name = cp.tokens.nameOf(m[1]);
    if (!name) {
      logger.warn({ path: req.path, requestId: res.locals.requestId }, 'admin request with an unknown token');
      next(new Problem(PROBLEMS.unauthorized, { detail: 'unknown token: the bearer token is not one of FICUS_ADMIN_TOKENS', headers: challenge }));
      return;
    }
    res.locals.actor = name;
    next();
  });
  app.use(express.json({ limit: '100kb', type: ['application/json', 'application/*+json'] }));

  app.get(
    '/overview',
    wrap(async (_req, res) => void res.json(await cp.overview())),
  );
  app.get(
    '/dashboard',
    wrap(async (req, res) => {
      const minutes = intQuery(req, 'minutes', 60, 60);
      const splitMinutes = intQuery(req, 'splitMinutes', 5, 120);
      res.json(await cp.dashboard({ minutes, splitMs: splitMinutes * 60_000 }));
    }),
  );
  app.get(
    '/routes',
    wrap(async (_req, res) => void res.json({ routes: await cp.routeViews() })),
  );
  app.get(
    '/routes/:operationId',
    wrap(async (req, res) => void res.json(await cp.routeView(cp.routeOrThrow(String(req.params.operationId))))),
  );
  app.put(
    '/routes/:operationId/mode',
    wrap(async (req, res) => {
      cp.routeOrThrow(String(req.params.operationId));
      const body = parseBody(switchBodySchema, req.body);
      res.json(await cp.switchMode(String(req.params.operationId), body, res.locals.actor as string));
    }),
  );
  app.get(
    '/routes/:operationId/mismatches',
    wrap(async (req, res) => {
      const limit = intQuery(req, 'limit', 20, 1000);
      res.json({ operationId: req.params.operationId, mismatches: await cp.mismatches(String(req.params.operationId), limit) });
    }),
  );
  app.get(
    '/routes/:operationId/noise',
    wrap(async (req, res) => {
      const route = cp.routeOrThrow(String(req.params.operationId));
      res.json({ operationId: route.operationId, noisy: cp.shadowStats.noisyPaths(route.operationId), ignore: cp.ignoreOf(route.operationId) });
    }),
  );
  app.post(
    '/routes/:operationId/ignore',
    wrap(async (req, res) => {
      cp.routeOrThrow(String(req.params.operationId));
      const body = parseBody(ignoreBodySchema, req.body);
      res.json(await cp.setIgnore(String(req.params.operationId), body, res.locals.actor as string));
    }),
  );
  app.put(
    '/routes/:operationId/gates',
    wrap(async (req, res) => {
      cp.routeOrThrow(String(req.params.operationId));
      const body = parseBody(gatesBodySchema, req.body);
      res.json(await cp.setGatesPaused(String(req.params.operationId), body, res.locals.actor as string));
    }),
  );
  app.get(
    '/reconciliations',
    wrap(async (_req, res) => {
      await cp.reconciliations.refresh(true);
      res.json({ latest: cp.reconciliations.all() });
    }),
  );
  app.get(
    '/routes/:operationId/reconciliations',
    wrap(async (req, res) => {
      const route = cp.routeOrThrow(String(req.params.operationId));
      res.json({ operationId: route.operationId, runs: await cp.reconciliations.store.history(route.operationId, intQuery(req, 'limit', 20, 1000)) });
    }),
  );
  app.get(
    '/audit',
    wrap(async (req, res) => {
      const limit = intQuery(req, 'limit', 50, 1000);
      const operationId = typeof req.query.operationId === 'string' ? req.query.operationId : undefined;
      const consumer = typeof req.query.consumer === 'string' && req.query.consumer !== '' ? req.query.consumer : undefined;
      const before = req.query.before === undefined ? undefined : intQuery(req, 'before', 0, Number.MAX_SAFE_INTEGER);
      res.json({ entries: await cp.auditLog({ operationId, consumer, limit, beforeId: before }) });
    }),
  );

  // Other features' admin routers (all installed before the admin server starts), each at its prefix.
  for (const r of cp.host.adminRouters) app.use(r.prefix, r.router);

  app.use((req, _res, next) => next(new Problem(PROBLEMS.routeNotFound, { detail: `${req.method} ${req.path} is not part of the admin API (see /openapi.yaml)` })));
  app.use(problemHandler(logger));
  return app;
}
