/**
 * The control plane as a feature: its config checks (gates that name states a route can take, a
 * canary key that names a parameter of the operation, the admin tokens), then route state, shadow
 * comparison, gates and the admin server (control-plane.ts).
 */
import { ConfigError, ConfigErrors } from '../config/config-error.ts';
import type { Env } from '../config/env.ts';
import type { CheckedConfig, Feature } from '../features/feature.ts';
import { parseAdminTokens } from './admin-tokens.ts';
import { ControlPlane } from './control-plane.ts';
import { possibleStates, stateRefusal } from './route-config.ts';

function checkConfig(config: CheckedConfig, env: Env): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const plan of config.routes) {
    const rc = config.gateway.routes[plan.operationId];
    if (!rc) continue;
    const route = { operationId: plan.operationId, legacy: plan.legacy !== undefined, modern: plan.modern !== undefined };
    const key = `routes.${plan.operationId}`;
    if (rc.gates) {
      rc.gates.steps.forEach((s, i) => {
        for (const [which, target] of [
          ['from', s.from],
          ['to', s.to],
        ] as const) {
          const why = stateRefusal(route, target);
          if (why) errors.push(new ConfigError(config.file, `${key}.gates.steps[${i}].${which}`, why, `use a state this route can take (${possibleStates(route)})`));
        }
      });
      if (rc.gates.rollback) {
        const why = stateRefusal(route, rc.gates.rollback.to);
        if (why) errors.push(new ConfigError(config.file, `${key}.gates.rollback.to`, why, `use a state this route can take (${possibleStates(route)})`));
      }
    }
    const canaryKey = rc.canary?.key;
    if (canaryKey) {
      const dot = canaryKey.indexOf('.');
      const where = canaryKey.slice(0, dot);
      const name = canaryKey.slice(dot + 1);
      const params = config.contract.operation(plan.operationId).parameters;
      // Headers may be any the callers send (a client id set by a proxy); path and query parameters must be the operation's.
      if (where !== 'header' && !params.some((p) => p.in === where && p.name === name)) {
        const known = params.filter((p) => p.in === 'path' || p.in === 'query').map((p) => `${p.in}.${p.name}`);
        errors.push(
          new ConfigError(
            config.file,
            `${key}.canary.key`,
            `${plan.operationId} has no ${where} parameter "${name}"`,
            known.length > 0 ? `use one of: ${known.join(', ')}, or header.<name>` : 'use header.<name> (this operation has no path or query parameters)',
          ),
        );
      }
    }
  }
  // /metrics and /readyz's details moved to the admin port need the admin port.
  if (!config.gateway.admin.enabled) {
    for (const key of ['metrics', 'readyzDetails'] as const) {
      if (config.gateway.server[key] === 'admin')
        errors.push(
          new ConfigError(
            config.file,
            `server.${key}`,
            `${key === 'metrics' ? '/metrics' : "/readyz's details"} would be served nowhere: the admin port is off (admin.enabled: false)`,
            `set server.${key}: public, or admin.enabled: true`,
          ),
        );
    }
  }
  try {
    parseAdminTokens(env.FICUS_ADMIN_TOKENS);
  } catch (err) {
    if (err instanceof ConfigErrors) errors.push(...err.errors);
    else throw err;
  }
  return errors;
}

/** Route state, shadow comparison, gates and the admin side: `gateway.feature<ControlPlane>('control')`. */
export const controlFeature: Feature<ControlPlane> = {
  name: 'control',
  checkConfig,
  async install(host) {
    const control = new ControlPlane(host);
    await control.start();
    return { api: control, drain: (graceMs) => control.stopAdmin(graceMs), close: () => control.close() };
  },
};
