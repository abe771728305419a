/**
 * Loads ficus.yaml, the contract and every adapter folder, and checks them against each other:
 * wrong keys, missing environment variables, operationIds not in the contract, operations served by
 * no adapter. All mistakes are collected and reported together, each naming file, key and fix.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { Contract } from '../contract/contract.ts';
import { loadKind, KIND_NAMES } from '../kinds/registry.ts';
import type { RegisteredKind } from '../kinds/kind.ts';
import { policyOverridesSchema, type PolicyOverrides } from '../resilience/policy-config.ts';
import { ConfigError, ConfigErrors } from './config-error.ts';
import { checkSecretsFromEnv, interpolateEnv, type Env } from './env.ts';
import { adapterFileSchema, gatewayConfigSchema, type GatewayConfig, type ModeName } from './gateway-config.ts';
import { zodToConfigErrors } from './zod-errors.ts';

export interface BindingConfig {
  operationId: string;
  /** `operations.<operationId>` */
  key: string;
  binding: unknown;
  policy?: PolicyOverrides;
}

export interface AdapterConfig {
  name: string;
  dir: string;
  file: string;
  kind: RegisteredKind;
  role: 'legacy' | 'modern';
  description?: string;
  connection: unknown;
  policy?: PolicyOverrides;
  bindings: BindingConfig[];
}

export interface RoutePlan {
  operationId: string;
  legacy?: string;
  modern?: string;
  mode: ModeName;
}

export interface LoadedConfig {
  root: string;
  file: string;
  gateway: GatewayConfig;
  contract: Contract;
  adapters: AdapterConfig[];
  routes: RoutePlan[];
}

export interface LoadOptions {
  /** The gateway config file; default `<root>/ficus.yaml`. */
  file?: string;
  root?: string;
  env?: Env;
  /** Only these adapters (by folder name); default all. */
  onlyAdapters?: readonly string[];
}

function readYaml(path: string, display: string, errors: ConfigError[]): unknown {
  try {
    return parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    const e = err as { message?: string; linePos?: { line: number; col: number }[] };
    const where = e.linePos?.[0] ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    errors.push(new ConfigError(display, '', `not valid YAML${where}: ${e.message ?? String(err)}`, 'correct the YAML syntax at that line'));
    return undefined;
  }
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, display: string, base: string, errors: ConfigError[]): T | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  errors.push(...zodToConfigErrors(r.error, schema, display, base));
  return undefined;
}

export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const root = resolve(opts.root ?? process.cwd());
  const env = opts.env ?? process.env;
  const file = resolve(root, opts.file ?? 'ficus.yaml');
  const display = relative(process.cwd(), file) || file;
  const errors: ConfigError[] = [];

  let rawGateway: unknown = {};
  if (existsSync(file)) rawGateway = readYaml(file, display, errors) ?? {};
  else if (opts.file) throw new ConfigErrors([new ConfigError(display, '', 'file not found', 'give the path of an existing gateway config, or leave --config out to use ficus.yaml')]);
  const gateway = parseWith(gatewayConfigSchema, interpolateEnv(rawGateway, env, display, errors), display, '', errors);
  if (!gateway) throw new ConfigErrors(errors);

  const contractFile = resolve(root, gateway.contract);
  let contract: Contract;
  try {
    contract = Contract.load(contractFile);
  } catch (err) {
    throw new ConfigErrors([...errors, new ConfigError(display, 'contract', (err as Error).message, 'point contract at a valid OpenAPI 3.1 file')]);
  }

  const adaptersRoot = resolve(root, gateway.adaptersDir);
  const adapters: AdapterConfig[] = [];
  const folders = existsSync(adaptersRoot)
    ? readdirSync(adaptersRoot).filter((d) => statSync(join(adaptersRoot, d)).isDirectory() && existsSync(join(adaptersRoot, d, 'adapter.yaml'))).sort()
    : [];
  for (const name of folders) {
    if (opts.onlyAdapters && !opts.onlyAdapters.includes(name)) continue;
    const dir = join(adaptersRoot, name);
    const adapterPath = join(dir, 'adapter.yaml');
    const adapterDisplay = relative(process.cwd(), adapterPath) || adapterPath;
    const raw = readYaml(adapterPath, adapterDisplay, errors);
    if (raw === undefined) continue;
    if (raw && typeof raw === 'object' && 'connection' in raw) checkSecretsFromEnv((raw as { connection: unknown }).connection, adapterDisplay, errors, 'connection');
    const parsed = parseWith(adapterFileSchema, interpolateEnv(raw, env, adapterDisplay, errors), adapterDisplay, '', errors);
    if (!parsed) continue;
    const kind = await loadKind(parsed.kind);
    if (!kind) {
      errors.push(new ConfigError(adapterDisplay, 'kind', `unknown kind "${parsed.kind}"`, `use one of: ${KIND_NAMES.join(', ')}`));
      continue;
    }
    const connection = parseWith(kind.connectionSchema, parsed.connection, adapterDisplay, 'connection', errors);
    const bindings: BindingConfig[] = [];
    for (const [operationId, rawBinding] of Object.entries(parsed.operations)) {
      const key = `operations.${operationId}`;
      if (!contract.has(operationId)) {
        errors.push(new ConfigError(adapterDisplay, key, `operation "${operationId}" is not in ${gateway.contract}`, `use an operationId of the contract: ${contract.operationIds.join(', ')}`));
        continue;
      }
      const { policy: rawPolicy, ...rest } = rawBinding;
      const binding = parseWith(kind.bindingSchema, rest, adapterDisplay, key, errors);
      if (binding === undefined) continue;
      let policy: PolicyOverrides | undefined;
      if (rawPolicy !== undefined) {
        policy = parseWith(policyOverridesSchema, rawPolicy, adapterDisplay, `${key}.policy`, errors);
      }
      bindings.push({ operationId, key, binding, policy });
    }
    if (connection === undefined) continue;
    adapters.push({ name, dir, file: adapterDisplay, kind, role: parsed.role ?? kind.defaultRole, description: parsed.description, connection, policy: parsed.policy, bindings });
  }

  const routes = planRoutes(contract, gateway, adapters, display, errors);
  if (errors.length > 0) throw new ConfigErrors(errors);
  return { root, file: display, gateway, contract, adapters, routes };
}

function planRoutes(contract: Contract, gateway: GatewayConfig, adapters: AdapterConfig[], display: string, errors: ConfigError[]): RoutePlan[] {
  for (const operationId of Object.keys(gateway.routes)) {
    if (!contract.has(operationId)) {
      errors.push(new ConfigError(display, `routes.${operationId}`, `operation "${operationId}" is not in ${gateway.contract}`, `use an operationId of the contract: ${contract.operationIds.join(', ')}`));
    }
  }
  const plans: RoutePlan[] = [];
  for (const op of contract.all()) {
    const routeConfig = gateway.routes[op.operationId] ?? {};
    const servers = adapters.filter((a) => a.bindings.some((b) => b.operationId === op.operationId));
    const pick = (role: 'legacy' | 'modern'): string | undefined => {
      const candidates = servers.filter((a) => a.role === role).map((a) => a.name);
      const chosen = routeConfig[role];
      if (chosen !== undefined) {
        if (!candidates.includes(chosen)) {
          errors.push(new ConfigError(display, `routes.${op.operationId}.${role}`, `adapter "${chosen}" is not a ${role} adapter serving ${op.operationId}`, candidates.length > 0 ? `use one of: ${candidates.join(', ')}` : `add ${op.operationId} to the operations of a ${role} adapter, or remove this key`));
        }
        return chosen;
      }
      if (candidates.length > 1) {
        errors.push(new ConfigError(display, `routes.${op.operationId}.${role}`, `${candidates.length} ${role} adapters serve ${op.operationId} (${candidates.join(', ')})`, `say which one: routes.${op.operationId}.${role}: <adapter>`));
      }
      return candidates[0];
    };
    const legacy = pick('legacy');
    const modern = pick('modern');
    if (!legacy && !modern) {
      errors.push(new ConfigError(gateway.contract, `paths.${op.path}.${op.method}`, `operation "${op.operationId}" is served by no adapter`, `add "${op.operationId}" under operations: in an adapter's adapter.yaml (${gateway.adaptersDir}/<name>/adapter.yaml)`));
      continue;
    }
    const mode: ModeName = routeConfig.mode ?? (legacy ? 'legacy' : 'modern');
    if (mode !== 'legacy' && !modern) {
      errors.push(new ConfigError(display, `routes.${op.operationId}.mode`, `mode ${mode} needs a modern backend, and no modern adapter serves ${op.operationId}`, `use mode: legacy, or add ${op.operationId} to a modern adapter`));
    }
    if (mode !== 'modern' && !legacy) {
      errors.push(new ConfigError(display, `routes.${op.operationId}.mode`, `mode ${mode} needs a legacy backend, and no legacy adapter serves ${op.operationId}`, `use mode: modern, or add ${op.operationId} to a legacy adapter`));
    }
    plans.push({ operationId: op.operationId, legacy, modern, mode });
  }
  return plans;
}
