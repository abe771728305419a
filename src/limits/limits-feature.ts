/**
 * Limits as a feature: rates and quotas per consumer and operation at the front door (an `admit`
 * hook after the security feature's, so the consumer is known), the ceiling of calls to each
 * protected legacy adapter (each of its bindings' `admission`), the run-time changes through the
 * admin API (`/limits`), and their metrics. `gateway.feature<LimitsApi>('limits')`.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { Counter } from 'prom-client';
import { ConfigError } from '../config/config-error.ts';
import type { ControlPlane } from '../control/control-plane.ts';
import { parseBody } from '../control/switch-request.ts';
import type { CheckedConfig, Feature } from '../features/feature.ts';
import { PROBLEMS, Problem } from '../problem.ts';
import type { SecurityApi } from '../security/security-feature.ts';
import { FrontLimits } from './front-limits.ts';
import { LegacyCeiling } from './legacy-ceiling.ts';
import { limitRuleSchema, protectSchema } from './limits-config.ts';
import { Limiters } from './limiters.ts';
import { LimitRules, SCOPES, type Scope } from './limit-rules.ts';

export interface LimitsApi {
  rules: LimitRules;
  limiters: Limiters;
  front: FrontLimits;
}

function checkConfig(config: CheckedConfig): ConfigError[] {
  const limits = config.gateway.limits;
  const errors: ConfigError[] = [];
  for (const op of Object.keys(limits.operations)) {
    if (!config.contract.has(op))
      errors.push(new ConfigError(config.file, `limits.operations.${op}`, `${op} is not an operation of ${config.contract.file}`, `use one of: ${config.contract.operationIds.join(', ')}`));
  }
  const legacy = config.adapters.filter((a) => a.role === 'legacy').map((a) => a.name);
  for (const name of Object.keys(limits.protect)) {
    if (!legacy.includes(name)) errors.push(new ConfigError(config.file, `limits.protect.${name}`, `there is no legacy adapter "${name}"`, `use one of: ${legacy.join(', ') || 'none'}`));
  }
  for (const [where, rules] of [
    ['consumers', limits.consumers],
    ['operations', limits.operations],
  ] as const) {
    for (const [name, rule] of Object.entries(rules)) {
      if (!rule.rate && !rule.quota)
        errors.push(new ConfigError(config.file, `limits.${where}.${name}`, 'neither rate nor quota is set', 'set rate: { limit, window } and/or quota: { limit, per: day|month }'));
    }
  }
  return errors;
}

export const limitsFeature: Feature<LimitsApi> = {
  name: 'limits',
  checkConfig,
  async install(host) {
    const cfg = host.config.gateway.limits;
    const registers = [host.metrics.registry];
    const limited = new Counter({
      name: 'ficus_rate_limited_total',
      help: 'Calls refused by a rate or quota, by consumer, operation and kind',
      labelNames: ['consumer', 'operation', 'kind'],
      registers,
    });
    const ceiling = new Counter({
      name: 'ficus_legacy_ceiling_total',
      help: 'Attempts at a protected legacy adapter: passed, waited for the next second, or refused (503)',
      labelNames: ['adapter', 'outcome'],
      registers,
    });
    const rules = new LimitRules(cfg, host.store);
    await rules.start();
    const limiters = new Limiters(cfg.store);
    if (!(await limiters.ready()))
      host.logger.warn({ url: cfg.store.driver === 'redis' ? cfg.store.url : undefined }, 'limits: Redis is not reachable yet; each instance counts on its own until it is');
    const security = host.featureApi<SecurityApi>('security');
    const label = (c: string) => security?.consumerLabel(c === 'anonymous' ? undefined : c) ?? 'other';
    const front = new FrontLimits(rules, limiters, (consumer, operation, kind) => limited.inc({ consumer: label(consumer), operation, kind }));

    // Every binding of a legacy adapter goes through its ceiling (which does nothing while no rule names the adapter).
    const ceilings = new Map<string, LegacyCeiling>();
    for (const route of host.routes.all()) {
      const b = route.legacy;
      if (!b) continue;
      let c = ceilings.get(b.adapter);
      if (!c) {
        c = new LegacyCeiling(b.adapter, rules, limiters, (adapter, outcome) => ceiling.inc({ adapter, outcome }));
        ceilings.set(b.adapter, c);
      }
      const guard = c;
      b.admission = (req) => guard.admit(req);
    }

    const router = express.Router();
    const wrap = (h: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => void h(req, res).catch(next);
    const scopeOf = (req: Request): Scope => {
      const s = String(req.params.scope) as Scope;
      if (!SCOPES.includes(s)) throw new Problem(PROBLEMS.routeNotFound, { detail: `no limits scope "${s}": use ${SCOPES.join(', ')}` });
      return s;
    };
    const audit = async (res: Response, what: string, action: string, reason: string) => {
      const control = host.featureApi<ControlPlane>('control');
      await control?.control.audit({
        at: new Date().toISOString(),
        actor: String(res.locals.actor ?? 'unknown'),
        automatic: false,
        operationId: `limits:${what}`,
        action,
        from: null,
        to: null,
        reason,
      });
    };
    router.get('/', (_req, res) => void res.json(rules.view()));
    router.put(
      '/:scope/:name',
      wrap(async (req, res) => {
        const scope = scopeOf(req);
        const name = String(req.params.name);
        if (scope === 'operation' && !host.config.contract.has(name)) throw new Problem(PROBLEMS.notFound, { detail: `${name} is not an operation of the contract` });
        if (scope === 'protect' && !ceilings.has(name)) throw new Problem(PROBLEMS.notFound, { detail: `${name} is not a legacy adapter of this gateway (${[...ceilings.keys()].join(', ')})` });
        const rule = scope === 'protect' ? parseBody(protectSchema, req.body) : parseBody(limitRuleSchema, req.body);
        await rules.set(scope, scope === 'default' ? '*' : name, rule, req.body);
        await audit(res, `${scope}:${name}`, 'limits-set', JSON.stringify(req.body));
        res.json(rules.view());
      }),
    );
    router.delete(
      '/:scope/:name',
      wrap(async (req, res) => {
        const scope = scopeOf(req);
        const name = String(req.params.name);
        if (!(await rules.reset(scope, scope === 'default' ? '*' : name))) throw new Problem(PROBLEMS.notFound, { detail: `no run-time change of ${scope} ${name}` });
        await audit(res, `${scope}:${name}`, 'limits-reset', 'back to ficus.yaml');
        res.json(rules.view());
      }),
    );

    return {
      api: { rules, limiters, front },
      hooks: [
        {
          admit: (route, _req, res) => {
            const consumer = (res.locals.consumer as string | undefined) ?? 'anonymous';
            if (!front.applies(consumer, route.operationId)) return undefined;
            return front.take(consumer, route.operationId).then((headers) => {
              for (const k in headers) res.setHeader(k, headers[k]);
            });
          },
        },
      ],
      adminRouters: [{ prefix: '/limits', router }],
      close: async () => {
        rules.close();
        await limiters.close();
      },
    };
  },
};
