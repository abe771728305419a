/**
 * Loads ficus.yaml, the contract and every adapter folder, and checks them against each other:
 * wrong keys, missing environment variables, operationIds not in the contract, operations served by
 * no adapter, and every feature's own checks. All mistakes are collected and reported together,
 * each naming file, line, key and fix, with no follow-on errors: an operation whose adapter file is
 * broken is not then reported as unserved, and a value whose environment variable is missing is not
 * then reported as of the wrong type. The loaded config is frozen.
 */
import { accessSync, constants as fsConstants, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse as parseYaml, parseDocument } from 'yaml';
import type { z } from 'zod';
import { Contract } from '../contract/contract.ts';
import { ContractError } from '../contract/contract-loader.ts';
import { loadKind, KIND_NAMES } from '../kinds/registry.ts';
import { bodiesNotCarried } from './body-kinds.ts';
import type { RegisteredKind } from '../kinds/kind.ts';
import { policyOverridesSchema, type PolicyOverrides } from '../resilience/policy-config.ts';
import { ConfigError, ConfigErrors } from './config-error.ts';
import { checkSecretsFromEnv, interpolateEnv, type Env } from './env.ts';
import { adapterFileSchema, gatewayConfigSchema, type GatewayConfig, type ModeName } from './gateway-config.ts';
import { formatSize } from './units.ts';
import { zodToConfigErrors } from './zod-errors.ts';
import { YamlLines } from './yaml-lines.ts';
import type { Feature } from '../features/feature.ts';
import { BUILTIN_FEATURES } from '../features/index.ts';

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
  /** `changes:` of the adapter file as written (the changes feature checks it). */
  changes?: Record<string, unknown>;
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
  /** The features installed on the gateway, in order (their config is checked here). */
  features: readonly Feature[];
  /** The environment the config was read with (kinds and features read it from here, not process.env). */
  env: Env;
}

export interface LoadOptions {
  /** The gateway config file; default `<root>/ficus.yaml`. */
  file?: string;
  root?: string;
  env?: Env;
  /** Only these adapters (by folder name); default all. */
  onlyAdapters?: readonly string[];
  /** Features beyond the built-in ones (src/features/index.ts), installed after them. */
  features?: readonly Feature[];
  /** Changes ficus.yaml as read (after `${env:…}`), before it is checked (`ficus mock`: state in memory). */
  rewriteGateway?: (raw: Record<string, unknown>) => Record<string, unknown>;
  /**
   * Serves an adapter with another kind and connection (`ficus mock`: legacy adapters from recordings);
   * its bindings become `{}` of that kind, and its own connection is not read (no variables needed).
   */
  substituteAdapter?: (adapter: { name: string; kind: string; role: 'legacy' | 'modern' }) => { kind: string; connection: Record<string, unknown> } | undefined;
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

/** Keys (per file) whose value needed an environment variable that is missing: already reported. */
type Unset = Set<string>;

function readYamlLeniently(path: string): unknown {
  try {
    return parseDocument(readFileSync(path, 'utf8')).toJS();
  } catch {
    return undefined;
  }
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, display: string, base: string, errors: ConfigError[], unset?: Unset): T | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  // A value left empty by a missing environment variable is reported once, as the missing variable.
  errors.push(...zodToConfigErrors(r.error, schema, display, base).filter((e) => !unset?.has(`${display}#${e.key}`)));
  return undefined;
}

/**
 * Parses what it can: the mistakes of the first attempt are reported; then the values at fault are
 * taken out (defaults fill in) until the rest parses, so that checks of the rest still run. The
 * keys taken out are added to `removed`.
 */
function parseRepairing<T>(schema: z.ZodType<T>, value: unknown, display: string, errors: ConfigError[], unset: Unset, removed: string[]): T | undefined {
  const first = parseWith(schema, value, display, '', errors, unset);
  if (first !== undefined) return first;
  const copy: unknown = structuredClone(value);
  for (let round = 0; round < 20; round++) {
    const r = schema.safeParse(copy);
    if (r.success) return r.data;
    let took = false;
    for (const issue of r.error.issues) {
      const path = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
      for (const p of path) {
        if (p.length === 0) continue;
        const parent = p.slice(0, -1).reduce<unknown>((node, k) => (node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined), copy);
        if (parent && typeof parent === 'object') {
          if (Array.isArray(parent)) parent.splice(Number(p[p.length - 1]), 1);
          else delete (parent as Record<PropertyKey, unknown>)[p[p.length - 1] as PropertyKey];
          removed.push(p.map(String).join('.'));
          took = true;
        }
      }
    }
    if (!took) break;
  }
  return undefined;
}

function unsetKeysOf(before: number, errors: ConfigError[], display: string, unset: Unset): void {
  for (const e of errors.slice(before)) if (e.file === display && e.problem.startsWith('environment variable ')) unset.add(`${display}#${e.key}`);
}

/** Operation ids listed in an adapter file that could not be read as an adapter. */
function operationsOf(raw: unknown): string[] {
  const ops = raw && typeof raw === 'object' ? (raw as { operations?: unknown }).operations : undefined;
  return ops && typeof ops === 'object' ? Object.keys(ops) : [];
}

/** The config, or what could be read of it, with every mistake found (their lines filled in). */
export interface ConfigReport {
  /** The whole config, when there is no mistake. */
  config?: LoadedConfig;
  /** The adapters that could be read (and the contract), for checks that go on past mistakes (`ficus check` binds them). */
  partial?: { root: string; contract: Contract; adapters: AdapterConfig[]; env: Env };
  errors: ConfigError[];
}

export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const report = await loadConfigReport(opts);
  if (!report.config) throw new ConfigErrors(report.errors);
  return report.config;
}

/** Line numbers for errors found later (by the kinds, binding) in files the config named. */
export function placeErrors(errors: ConfigError[]): ConfigError[] {
  const files = new Map<string, string>();
  for (const e of errors) files.set(e.file, resolve(process.cwd(), e.file));
  return withLines(errors, files);
}

/**
 * `server.multipart`: a file part counts against the whole body's limit too, so fileLimit may not
 * exceed requestLimit; `tempDir`, made absolute (relative to the project) in place, must be a folder
 * the gateway can write, checked now rather than at the first upload.
 */
function checkMultipart(gateway: GatewayConfig, root: string, display: string): ConfigError[] {
  const m = gateway.server.multipart;
  const out: ConfigError[] = [];
  if (m.fileLimit > m.requestLimit) {
    out.push(
      new ConfigError(
        display,
        'server.multipart.fileLimit',
        `${formatSize(m.fileLimit)} is larger than server.multipart.requestLimit (${formatSize(m.requestLimit)}), which every file part counts against too`,
        `make fileLimit at most requestLimit (${formatSize(m.requestLimit)}), or raise requestLimit`,
      ),
    );
  }
  if (m.tempDir !== undefined) {
    const dir = resolve(root, m.tempDir);
    m.tempDir = dir;
    let problem: string | undefined;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) problem = `${dir} is not a folder`;
    else {
      try {
        accessSync(dir, fsConstants.W_OK);
      } catch {
        problem = `${dir} cannot be written by the gateway`;
      }
    }
    if (problem) out.push(new ConfigError(display, 'server.multipart.tempDir', problem, 'create the folder, writable by the gateway, or leave tempDir out to use the system temporary folder'));
  }
  return out;
}

export async function loadConfigReport(opts: LoadOptions = {}): Promise<ConfigReport> {
  const root = resolve(opts.root ?? process.cwd());
  const env = opts.env ?? process.env;
  const file = resolve(root, opts.file ?? 'ficus.yaml');
  const display = relative(process.cwd(), file) || file;
  const errors: ConfigError[] = [];
  const unset: Unset = new Set();
  /** The YAML files read, by the name errors give them, to find each error's line. */
  const files = new Map<string, string>();
  const fail = (partial?: ConfigReport['partial']): ConfigReport => ({ errors: withLines(errors, files), partial });

  let rawGateway: unknown = {};
  if (existsSync(file)) {
    files.set(display, file);
    rawGateway = readYaml(file, display, errors) ?? {};
  } else if (opts.file) return { errors: [new ConfigError(display, '', 'file not found', 'give the path of an existing gateway config, or leave --config out to use ficus.yaml')] };
  let before = errors.length;
  let interpolated = interpolateEnv(rawGateway, env, display, errors);
  if (opts.rewriteGateway && interpolated && typeof interpolated === 'object') interpolated = opts.rewriteGateway(interpolated as Record<string, unknown>);
  unsetKeysOf(before, errors, display, unset);
  const removed: string[] = [];
  const gateway = parseRepairing(gatewayConfigSchema, interpolated, display, errors, unset, removed);
  if (!gateway) return fail();

  errors.push(...checkMultipart(gateway, root, display));

  const contractFile = resolve(root, gateway.contract);
  let contract: Contract;
  try {
    contract = await Contract.open(contractFile);
  } catch (err) {
    errors.push(...contractErrors(err, display));
    return fail();
  }

  const adaptersRoot = resolve(root, gateway.adaptersDir);
  const adapters: AdapterConfig[] = [];
  /** Adapters as far as routing goes: also those with a mistake in their connection. */
  const routing: AdapterConfig[] = [];
  /** Operations listed by adapter files that have mistakes, or whose route settings had to be left out: not reported again. */
  const unsure = new Set<string>(removed.filter((k) => k.startsWith('routes.')).map((k) => k.split('.')[1]));
  const folders = existsSync(adaptersRoot)
    ? readdirSync(adaptersRoot)
        .filter((d) => statSync(join(adaptersRoot, d)).isDirectory() && existsSync(join(adaptersRoot, d, 'adapter.yaml')))
        .sort()
    : [];
  for (const name of folders) {
    if (opts.onlyAdapters && !opts.onlyAdapters.includes(name)) continue;
    const dir = join(adaptersRoot, name);
    const adapterPath = join(dir, 'adapter.yaml');
    const adapterDisplay = relative(process.cwd(), adapterPath) || adapterPath;
    files.set(adapterDisplay, adapterPath);
    let raw = readYaml(adapterPath, adapterDisplay, errors);
    const substitute = raw === undefined ? undefined : await substituteFor(raw, name, opts);
    if (substitute) raw = { ...(raw as Record<string, unknown>), connection: substitute.connection };
    if (raw === undefined) {
      // Not valid YAML: what can still be read of it says which operations not to report as unserved.
      for (const op of operationsOf(readYamlLeniently(adapterPath))) unsure.add(contract.resolve(op) ?? op);
      continue;
    }
    const broken = () => {
      for (const op of operationsOf(raw)) unsure.add(contract.resolve(op) ?? op);
    };
    if (raw && typeof raw === 'object' && 'connection' in raw) checkSecretsFromEnv((raw as { connection: unknown }).connection, adapterDisplay, errors, 'connection');
    before = errors.length;
    const interpolatedAdapter = interpolateEnv(raw, env, adapterDisplay, errors);
    unsetKeysOf(before, errors, adapterDisplay, unset);
    const parsed = parseRepairing(adapterFileSchema, interpolatedAdapter, adapterDisplay, errors, unset, []);
    if (!parsed) {
      broken();
      continue;
    }
    const kind = await loadKind(substitute?.kind ?? parsed.kind);
    if (!kind) {
      errors.push(new ConfigError(adapterDisplay, 'kind', `unknown kind "${parsed.kind}"`, `use one of: ${KIND_NAMES.join(', ')}`));
      broken();
      continue;
    }
    const connection = parseWith(kind.connectionSchema, parsed.connection, adapterDisplay, 'connection', errors, unset);
    const bindings: BindingConfig[] = [];
    for (const [name, rawBinding] of Object.entries(parsed.operations)) {
      const key = `operations.${name}`;
      // An operation is named by its operationId or as `METHOD /path`.
      const operationId = contract.resolve(name);
      if (operationId === undefined) {
        errors.push(
          new ConfigError(adapterDisplay, key, `operation "${name}" is not in ${gateway.contract}`, `use an operationId of the contract, or "METHOD /path": ${contract.operationIds.join(', ')}`),
        );
        continue;
      }
      const { policy: rawPolicy, ...rest } = rawBinding;
      const binding = parseWith(kind.bindingSchema, substitute ? {} : rest, adapterDisplay, key, errors, unset);
      let policy: PolicyOverrides | undefined;
      if (rawPolicy !== undefined) {
        policy = parseWith(policyOverridesSchema, rawPolicy, adapterDisplay, `${key}.policy`, errors, unset);
      }
      if (binding === undefined) {
        unsure.add(operationId);
        continue;
      }
      const notCarried = bodiesNotCarried(kind, operationId, contract);
      if (notCarried) {
        errors.push(new ConfigError(adapterDisplay, key, notCarried.problem, notCarried.fix));
        unsure.add(operationId);
        continue;
      }
      bindings.push({ operationId, key, binding, policy });
    }
    const role = parsed.role ?? substitute?.role ?? kind.defaultRole;
    // A substituted adapter (ficus mock: recordings stand in for the legacy system) has no change feed.
    const changes = substitute ? undefined : parsed.changes;
    const adapter = { name, dir, file: adapterDisplay, kind, role, description: parsed.description, connection, policy: parsed.policy, bindings, changes };
    // With a mistake in its connection, it still says which operations it serves (no follow-on "unserved"), but is not created.
    routing.push(adapter);
    if (connection === undefined) continue;
    adapters.push({ name, dir, file: adapterDisplay, kind, role, description: parsed.description, connection, policy: parsed.policy, bindings, changes });
  }

  const routes = planRoutes(contract, gateway, routing, display, errors, unsure);
  const features = [...BUILTIN_FEATURES, ...(opts.features ?? [])];
  // Each feature checks its part against routes that are known for sure (none of an adapter with mistakes).
  const checked = { root, file: display, gateway, contract, adapters, routes: routes.filter((r) => !unsure.has(r.operationId)), env };
  for (const feature of features) errors.push(...feature.checkConfig(checked, env));
  if (errors.length > 0) return fail({ root, contract, adapters, env });
  return { config: deepFreeze({ root, file: display, gateway, contract, adapters, routes, features, env }), errors: [] };
}

/** What `substituteAdapter` makes of an adapter file (its role: as declared, else its own kind's default). */
async function substituteFor(raw: unknown, name: string, opts: LoadOptions): Promise<{ kind: string; connection: Record<string, unknown>; role: 'legacy' | 'modern' } | undefined> {
  if (!opts.substituteAdapter || !raw || typeof raw !== 'object') return undefined;
  const r = raw as { kind?: unknown; role?: unknown };
  if (typeof r.kind !== 'string') return undefined;
  const role = r.role === 'legacy' || r.role === 'modern' ? r.role : (await loadKind(r.kind))?.defaultRole;
  if (!role) return undefined;
  const s = opts.substituteAdapter({ name, kind: r.kind, role });
  return s ? { ...s, role } : undefined;
}

/** Each error's line in its file, where the file is YAML Ficus read and the key (or a parent) is in it. */
function withLines(errors: ConfigError[], files: Map<string, string>): ConfigError[] {
  const lines = new Map<string, YamlLines | undefined>();
  for (const e of errors) {
    const path = files.get(e.file);
    if (!path) continue;
    if (!lines.has(path)) lines.set(path, YamlLines.ofFile(path));
    e.at(lines.get(path)?.lineOf(e.key));
  }
  return errors;
}

/** Freezes the config's own data (not the contract, kinds or features: objects with behaviour of their own). */
function deepFreeze<T extends LoadedConfig>(config: T): T {
  const freeze = (v: unknown): void => {
    if (!v || typeof v !== 'object' || Object.isFrozen(v)) return;
    Object.freeze(v);
    for (const x of Object.values(v)) freeze(x);
  };
  freeze(config.gateway);
  freeze(config.routes);
  for (const a of config.adapters) {
    freeze(a.connection);
    freeze(a.policy);
    for (const b of a.bindings) freeze(b);
    Object.freeze(a.bindings);
  }
  Object.freeze(config.adapters);
  return Object.freeze(config);
}

function planRoutes(contract: Contract, gateway: GatewayConfig, adapters: AdapterConfig[], display: string, allErrors: ConfigError[], unsure: ReadonlySet<string>): RoutePlan[] {
  const errors: ConfigError[] = [];
  // Route settings may name an operation as `METHOD /path` too: keyed by operationId from here on.
  for (const name of Object.keys(gateway.routes)) {
    const id = contract.resolve(name);
    if (id !== undefined && id !== name && gateway.routes[id] === undefined) {
      gateway.routes[id] = gateway.routes[name];
      delete gateway.routes[name];
    }
  }
  for (const operationId of Object.keys(gateway.routes)) {
    if (contract.resolve(operationId) === undefined) {
      errors.push(
        new ConfigError(display, `routes.${operationId}`, `operation "${operationId}" is not in ${gateway.contract}`, `use an operationId of the contract: ${contract.operationIds.join(', ')}`),
      );
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
          errors.push(
            new ConfigError(
              display,
              `routes.${op.operationId}.${role}`,
              `adapter "${chosen}" is not a ${role} adapter serving ${op.operationId}`,
              candidates.length > 0 ? `use one of: ${candidates.join(', ')}` : `add ${op.operationId} to the operations of a ${role} adapter, or remove this key`,
            ),
          );
        }
        return chosen;
      }
      if (candidates.length > 1) {
        errors.push(
          new ConfigError(
            display,
            `routes.${op.operationId}.${role}`,
            `${candidates.length} ${role} adapters serve ${op.operationId} (${candidates.join(', ')})`,
            `say which one: routes.${op.operationId}.${role}: <adapter>`,
          ),
        );
      }
      return candidates[0];
    };
    const legacy = pick('legacy');
    const modern = pick('modern');
    if (!legacy && !modern) {
      errors.push(
        new ConfigError(
          gateway.contract,
          `paths.${op.path}.${op.method}`,
          `operation "${op.operationId}" is served by no adapter`,
          `add "${op.operationId}" under operations: in an adapter's adapter.yaml (${gateway.adaptersDir}/<name>/adapter.yaml)`,
        ),
      );
      continue;
    }
    const mode: ModeName = routeConfig.mode ?? (legacy ? 'legacy' : 'modern');
    if (mode !== 'legacy' && !modern) {
      errors.push(
        new ConfigError(
          display,
          `routes.${op.operationId}.mode`,
          `mode ${mode} needs a modern backend, and no modern adapter serves ${op.operationId}`,
          `use mode: legacy, or add ${op.operationId} to a modern adapter`,
        ),
      );
    }
    if (mode !== 'modern' && !legacy) {
      errors.push(
        new ConfigError(
          display,
          `routes.${op.operationId}.mode`,
          `mode ${mode} needs a legacy backend, and no legacy adapter serves ${op.operationId}`,
          `use mode: modern, or add ${op.operationId} to a legacy adapter`,
        ),
      );
    }
    plans.push({ operationId: op.operationId, legacy, modern, mode });
  }
  // Where an adapter file that lists the operation has mistakes, its backends are not known for sure:
  // those mistakes are reported, not their consequences.
  allErrors.push(...errors.filter((e) => !unsure.has(operationOfRouteError(e, contract))));
  return plans;
}

/** A contract that cannot be loaded: each mistake in its file (with pointer and line), or the one reason. */
function contractErrors(err: unknown, display: string): ConfigError[] {
  if (err instanceof ContractError) {
    return err.mistakes.map((m) => new ConfigError(relative(process.cwd(), m.file) || m.file, m.pointer === '' ? '' : `#${m.pointer}`, m.problem, m.fix, m.line));
  }
  return [new ConfigError(display, 'contract', (err as Error).message, 'point contract at an OpenAPI 3.0 or 3.1 document that loads')];
}

function operationOfRouteError(e: ConfigError, contract: Contract): string {
  const m = /^routes\.([^.]+)\./.exec(e.key);
  if (m) return m[1];
  const op = contract.all().find((o) => e.key === `paths.${o.path}.${o.method}`);
  return op?.operationId ?? '';
}
