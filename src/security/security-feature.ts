/**
 * The front door as a feature: its config checks (every scheme the contract's operations use can be
 * verified: a JWT issuer's keys, basic credentials), then the consumer store, the JWT verifiers, the
 * door itself (an `admit` hook, before the request check), its metrics and the admin routes of
 * consumers and keys. `gateway.feature<SecurityApi>('security')`.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve, dirname } from 'node:path';
import { Counter } from 'prom-client';
import { ConfigError } from '../config/config-error.ts';
import type { Env } from '../config/env.ts';
import type { CheckedConfig, Feature } from '../features/feature.ts';
import { BasicCredentials, loadCredentials } from './basic-credentials.ts';
import { ConsumerStore } from './consumer-store.ts';
import { consumerCalls } from './consumer-calls.ts';
import { consumersRouter } from './consumers-router.ts';
import { operationSecurity, securitySchemes, type SecurityScheme } from './contract-security.ts';
import { FrontDoor } from './front-door.ts';
import { JwtVerifier, readKeyFile } from './jwt-verifier.ts';
import { basicSchemeConfigSchema, type BasicSchemeConfig, type JwtSchemeConfig, type SecurityConfig } from './security-config.ts';

/** Consumers named on metric labels, at most; the rest are `other`. */
const MAX_CONSUMER_LABELS = 200;

export interface SecurityApi {
  consumers: ConsumerStore;
  door: FrontDoor;
  verifiers: ReadonlyMap<string, JwtVerifier>;
  /** The metric label of a consumer: its name when it is a known consumer, `anonymous`, or `other`. */
  consumerLabel(name: string | undefined): string;
}

function isBasicConfig(c: SecurityConfig['schemes'][string] | undefined): c is BasicSchemeConfig {
  return c !== undefined && 'credentialsEnv' in c;
}

/** The schemes the contract's operations use, with their definitions. */
function usedSchemes(config: Pick<CheckedConfig, 'contract'>): Map<string, SecurityScheme> {
  const all = securitySchemes(config.contract);
  const used = new Map<string, SecurityScheme>();
  for (const op of config.contract.all()) for (const alt of operationSecurity(config.contract, op).alternatives) for (const { scheme } of alt) used.set(scheme, all.get(scheme) as SecurityScheme);
  return used;
}

function pathOf(configFile: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dirname(configFile), p);
}

function checkConfig(config: CheckedConfig, env: Env): ConfigError[] {
  const sec = config.gateway.security;
  const errors: ConfigError[] = [];
  const file = config.file;
  let schemes: Map<string, SecurityScheme>;
  let used: Map<string, SecurityScheme>;
  try {
    schemes = securitySchemes(config.contract);
    used = usedSchemes(config);
  } catch (err) {
    return [new ConfigError(config.contract.file, 'components.securitySchemes', (err as Error).message, 'use a scheme Ficus enforces: apiKey, http basic, http bearer, oauth2, openIdConnect')];
  }
  for (const op of config.contract.all()) {
    for (const alt of operationSecurity(config.contract, op).alternatives) {
      for (const { scheme } of alt) {
        if (!schemes.has(scheme))
          errors.push(
            new ConfigError(
              config.contract.file,
              `paths.${op.path}.${op.method}.security`,
              `names scheme "${scheme}", which components.securitySchemes does not define`,
              `define it, or use one of: ${[...schemes.keys()].join(', ') || 'none'}`,
            ),
          );
      }
    }
  }
  for (const name of Object.keys(sec.schemes)) {
    if (!schemes.has(name))
      errors.push(
        new ConfigError(file, `security.schemes.${name}`, `the contract has no security scheme "${name}"`, `use one of: ${[...schemes.keys()].join(', ') || 'none (remove security.schemes)'}`),
      );
  }
  if (!sec.enforce) return errors;
  for (const [name, s] of used) {
    if (!s) continue;
    const key = `security.schemes.${name}`;
    const cfg = sec.schemes[name];
    if (s.kind === 'basic') {
      const b = isBasicConfig(cfg) ? cfg : basicSchemeConfigSchema.parse({});
      try {
        const users = loadCredentials({ file: b.credentialsFile && pathOf(file, b.credentialsFile), envValue: env[b.credentialsEnv] });
        if (users.size === 0)
          errors.push(
            new ConfigError(
              file,
              key,
              `the contract's basic scheme "${name}" has no credentials`,
              `set ${b.credentialsEnv}=user:hash (ficus consumers hash-password makes a hash) or ${key}.credentialsFile`,
            ),
          );
      } catch (err) {
        errors.push(
          new ConfigError(file, `${key}${b.credentialsFile ? '.credentialsFile' : ''}`, `the basic credentials cannot be read: ${(err as Error).message}`, `fix the file, or ${b.credentialsEnv}`),
        );
      }
    } else if (s.kind === 'bearer' || s.kind === 'oauth') {
      if (!cfg || isBasicConfig(cfg)) {
        errors.push(
          new ConfigError(
            file,
            key,
            `the contract's scheme "${name}" takes JWTs, and nothing says whose keys verify them`,
            `add ${key}: { jwksUrl: https://issuer/.well-known/jwks.json, issuer: ..., audience: ... }`,
          ),
        );
        continue;
      }
      const sources = [cfg.jwksUrl, cfg.jwksFile, cfg.secret].filter((x) => x !== undefined).length;
      if (sources !== 1) {
        errors.push(
          new ConfigError(
            file,
            key,
            sources === 0 ? 'no keys: none of jwksUrl, jwksFile or secret is set' : 'more than one of jwksUrl, jwksFile and secret is set',
            'set exactly one (a secret never together with public keys: an HS token must not be checked against an RSA key)',
          ),
        );
        continue;
      }
      const hs = (cfg.algorithms ?? []).filter((a) => a.startsWith('HS'));
      if (cfg.secret && cfg.algorithms && hs.length !== cfg.algorithms.length)
        errors.push(new ConfigError(file, `${key}.algorithms`, 'a shared secret verifies HS algorithms only', 'list only HS256, HS384 or HS512'));
      if (!cfg.secret && hs.length > 0)
        errors.push(
          new ConfigError(
            file,
            `${key}.algorithms`,
            `${hs.join(', ')} needs a shared secret, and this scheme verifies with public keys`,
            'remove the HS algorithms (or use a separate scheme with a secret)',
          ),
        );
      if (cfg.jwksFile) {
        const p = pathOf(file, cfg.jwksFile);
        if (!existsSync(p)) errors.push(new ConfigError(file, `${key}.jwksFile`, `${p} does not exist`, 'give the path of a JWKS document or a PEM public key'));
        else {
          try {
            readKeyFile(p);
          } catch (err) {
            errors.push(new ConfigError(file, `${key}.jwksFile`, `${p} is not a JWKS document or a PEM public key: ${(err as Error).message}`, 'give the path of a JWKS document or a PEM public key'));
          }
        }
      }
    }
  }
  return errors;
}

export const securityFeature: Feature<SecurityApi> = {
  name: 'security',
  checkConfig,
  async install(host) {
    const sec = host.config.gateway.security;
    const registers = [host.metrics.registry];
    const checks = new Counter({
      name: 'ficus_auth_checks_total',
      help: 'Credentials checked at the front door, by scheme and outcome (ok, or why refused)',
      labelNames: ['scheme', 'outcome'],
      registers,
    });
    const jwks = new Counter({ name: 'ficus_jwks_fetches_total', help: 'JWKS fetches, by scheme and outcome', labelNames: ['scheme', 'outcome'], registers });
    const byConsumer = new Counter({
      name: 'ficus_consumer_requests_total',
      help: 'Requests by consumer (known consumers by name; anonymous; other), operation and status',
      labelNames: ['consumer', 'operation', 'status'],
      registers,
    });

    const consumers = new ConsumerStore(host.store);
    await consumers.start();
    const verifiers = new Map<string, JwtVerifier>();
    const basic = new Map<string, BasicCredentials>();
    const file = host.config.file;
    if (sec.enforce) {
      for (const [name, s] of usedSchemes(host.config)) {
        const cfg = sec.schemes[name];
        if (s.kind === 'basic') {
          const b = isBasicConfig(cfg) ? cfg : basicSchemeConfigSchema.parse({});
          basic.set(name, new BasicCredentials(loadCredentials({ file: b.credentialsFile && pathOf(file, b.credentialsFile), envValue: host.env[b.credentialsEnv] })));
        } else if (s.kind !== 'apiKey' && cfg && !isBasicConfig(cfg)) {
          const jwtCfg: JwtSchemeConfig = cfg.jwksFile ? { ...cfg, jwksFile: pathOf(file, cfg.jwksFile) } : cfg;
          const v = new JwtVerifier(name, jwtCfg, host.logger, (ok) => jwks.inc({ scheme: name, outcome: ok ? 'ok' : 'failed' }));
          await v.start();
          verifiers.set(name, v);
        }
      }
    }
    const door = new FrontDoor(host.config.contract, { keys: consumers, verifiers, basic, counted: (scheme, outcome) => checks.inc({ scheme, outcome }) });
    const labels = new Set<string>();
    const consumerLabel = (name: string | undefined): string => {
      if (name === undefined) return 'anonymous';
      if (labels.has(name)) return name;
      if (labels.size < MAX_CONSUMER_LABELS && consumers.isConsumer(name)) {
        labels.add(name);
        return name;
      }
      return 'other';
    };
    const api: SecurityApi = { consumers, door, verifiers, consumerLabel };
    return {
      api,
      hooks: [
        {
          admit: (route, req, res) => {
            const operation = route.operationId;
            res.once('close', () => byConsumer.inc({ consumer: consumerLabel(res.locals.consumer as string | undefined), operation, status: String(res.writableFinished ? res.statusCode : 499) }));
            if (!sec.enforce || !door.guards(operation)) return undefined;
            const url = req.url ?? '';
            const q = url.indexOf('?');
            return door.admit(operation, req.headers, q === -1 ? '' : url.slice(q + 1)).then((a) => {
              res.locals.consumer = a.consumer;
            });
          },
        },
      ],
      adminRouters: [{ prefix: '/consumers', router: consumersRouter(consumers, host, () => consumerCalls(byConsumer)) }],
      close: async () => {
        consumers.close();
        for (const v of verifiers.values()) v.close();
      },
    };
  },
};
