/**
 * A gateway instance: config loaded and checked, adapters created and bound, the route table built,
 * the features installed (src/features: writes, recording, the control plane, ...), the HTTP app
 * built with their hooks, ready to listen. `ficus start` makes one; so do the tests. It knows no
 * feature by name: each plugs in through `Feature` and is reached with `feature(name)`.
 */
import type { RequestListener } from 'node:http';
import { ConfigError, ConfigErrors } from './config/config-error.ts';
import { loadConfig, loadConfigReport, placeErrors, type LoadOptions, type LoadedConfig } from './config/load-config.ts';
import type { AdminRouter, FeatureHost } from './features/feature.ts';
import { ResponseValidator } from './http/response-validator.ts';
import { buildApp, clientErrorHandler, type FeatureReadiness, type OperationHooks, type ReadinessReport } from './http/app.ts';
import type { Adapter, OperationHandler } from './kinds/kind.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import { resolveTracing } from './observability/tracing/tracing-config.ts';
import { BindingPolicy } from './resilience/binding-policy.ts';
import { BASE_POLICY, mergePolicy } from './resilience/policy-config.ts';
import { BoundBinding, Route, RouteTable } from './routing/route-table.ts';
import { openStore, type SqlStore } from './state/sql-store.ts';
import type { ControlPlane } from './control/control-plane.ts';
import type { Recorder } from './recording/recorder.ts';
import type { Writes } from './writes/install.ts';
import { drainingServer, refuseWhileShuttingDown, type ConnectionSource, type DrainingServer } from './http/draining-server.ts';
import { Singletons } from './cluster/singletons.ts';
import './routing/modes/index.ts';
import { isAbsolute, join } from 'node:path';

export interface GatewayOptions extends LoadOptions {
  logger?: Logger;
  /** Collect Node's process metrics too (default true; tests that make many gateways turn it off). */
  processMetrics?: boolean;
  /**
   * How the singleton loops (outbox delivery, reply polling, gates, change feeds) run: by default this
   * instance runs them; `lease: true` shares a lease in the state store with other instances (the
   * workers of `ficus start --workers N`), and only its holder runs them (src/cluster/singletons.ts).
   */
  singletons?: { lease: boolean; label?: string; renewMs?: number; ttlMs?: number };
  /**
   * Whether this instance starts alone on its state store, so that what a previous run left in flight
   * (SQLite: writes being delivered, idempotency keys, events) is its to take back at once. Default
   * true; false for a cluster's later workers, which start beside one that already serves.
   */
  startsAlone?: boolean;
}

export interface RunningAdapter {
  name: string;
  kind: string;
  role: 'legacy' | 'modern';
  operations: string[];
  adapter: Adapter<unknown>;
}

/** What the installed features gave the gateway. */
interface Installed {
  hooks: OperationHooks[];
  adminRouters: AdminRouter[];
  /** Close functions, in the reverse order of installation. */
  closers: (() => Promise<void>)[];
  /** Drain functions of features' own servers, run with the public server's at shutdown. */
  drains: ((graceMs: number) => Promise<void>)[];
  /** Features' parts of /readyz, by feature name. */
  readiness: Map<string, () => FeatureReadiness | undefined>;
  apis: Map<string, unknown>;
  /** The checks of backends' answers against the contract: one for the app and the features (the cache checks what it stores). */
  responses: ResponseValidator;
}

/** Every adapter's health check and the state store's, 3 s at most each; sets `ficus_adapter_up`. */
async function adapterReadiness(adapters: readonly RunningAdapter[], metrics: GatewayMetrics, store: SqlStore): Promise<ReadinessReport> {
  const report: ReadinessReport['adapters'] = {};
  // The state store too: without it no write can be taken (idempotency keys, outbox).
  const storePing = store.ping(3_000).then(
    () => ({ ok: true }),
    (err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }),
  );
  await Promise.all(
    adapters.map(async (a) => {
      let r;
      let timer: NodeJS.Timeout | undefined;
      try {
        r = await Promise.race([
          a.adapter.health(),
          new Promise<{ ok: false; detail: string }>((resolve) => {
            timer = setTimeout(() => resolve({ ok: false, detail: 'health check did not answer within 3 s' }), 3_000);
            timer.unref();
          }),
        ]);
      } catch (err) {
        r = { ok: false, detail: (err as Error).message };
      } finally {
        clearTimeout(timer);
      }
      metrics.adapterUp.set({ adapter: a.name, kind: a.kind }, r.ok ? 1 : 0);
      report[a.name] = { kind: a.kind, ...r };
    }),
  );
  const stateStore = await storePing;
  return { ready: stateStore.ok && Object.values(report).every((a) => a.ok), adapters: report, stateStore };
}

/** The adapters' readiness with the features' parts of /readyz added (a feature not ok makes the instance not ready). */
function withFeatures(report: ReadinessReport, parts: Installed['readiness']): ReadinessReport {
  if (parts.size === 0) return report;
  const features: Record<string, FeatureReadiness> = {};
  for (const [name, r] of parts) {
    const f = r();
    if (f) features[name] = f;
  }
  if (Object.keys(features).length === 0) return report;
  return { ...report, ready: report.ready && Object.values(features).every((f) => f.ok), features };
}

/**
 * Creates every adapter (connecting to nothing: that is `start`) and binds its operations; collects
 * the mistakes the kinds find in connections and bindings rather than stopping at the first.
 */
async function createAdapters(
  config: Pick<LoadedConfig, 'root' | 'contract' | 'adapters' | 'env'>,
  deps: { logger: Logger; metrics: GatewayMetrics; store: SqlStore; singletons: Singletons },
): Promise<{ running: RunningAdapter[]; handlers: Map<string, Map<string, OperationHandler>>; errors: ConfigError[] }> {
  const running: RunningAdapter[] = [];
  const errors: ConfigError[] = [];
  const handlers = new Map<string, Map<string, OperationHandler>>();
  try {
    for (const a of config.adapters) {
      let adapter: Adapter<unknown>;
      try {
        adapter = await a.kind.create({
          name: a.name,
          dir: a.dir,
          file: a.file,
          connection: a.connection,
          logger: deps.logger.child({ adapter: a.name }),
          metrics: deps.metrics,
          contract: config.contract,
          root: config.root,
          store: deps.store,
          env: config.env,
          singletons: deps.singletons,
        });
      } catch (err) {
        if (err instanceof ConfigError) errors.push(err);
        else if (err instanceof ConfigErrors) errors.push(...err.errors);
        else errors.push(new ConfigError(a.file, 'connection', (err as Error).message, 'correct the connection settings'));
        continue;
      }
      running.push({ name: a.name, kind: a.kind.name, role: a.role, operations: a.bindings.map((b) => b.operationId), adapter });
      const byOp = new Map<string, OperationHandler>();
      handlers.set(a.name, byOp);
      for (const b of a.bindings) {
        try {
          byOp.set(
            b.operationId,
            await adapter.bind({
              operation: config.contract.operation(b.operationId),
              binding: b.binding,
              key: b.key,
              fail: (subKey, problem, fix) => {
                throw new ConfigError(a.file, subKey === '' ? b.key : `${b.key}.${subKey}`, problem, fix);
              },
            }),
          );
        } catch (err) {
          if (err instanceof ConfigError) errors.push(err);
          else errors.push(new ConfigError(a.file, b.key, (err as Error).message, 'correct the binding'));
        }
      }
    }
  } catch (err) {
    await Promise.allSettled(running.map((r) => r.adapter.close()));
    throw err;
  }
  return { running, handlers, errors };
}

export class Gateway {
  /** The public side's request listener (src/http/app.ts). */
  readonly app: RequestListener;
  private server: DrainingServer | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly config: LoadedConfig,
    readonly logger: Logger,
    readonly metrics: GatewayMetrics,
    readonly adapters: RunningAdapter[],
    readonly routes: RouteTable,
    /** The state store (SQLite file or shared PostgreSQL): modes, audit, idempotency keys, outbox. */
    readonly store: SqlStore,
    /** The loops only one instance runs (outbox delivery, reply polling, gates, change feeds), and whether this one does. */
    readonly singletons: Singletons,
    private readonly installed: Installed,
  ) {
    this.app = buildApp({
      contract: config.contract,
      config: config.gateway,
      routes,
      metrics,
      logger,
      readiness: () => this.readiness(),
      hooks: installed.hooks,
      responses: installed.responses,
    });
  }

  static async create(opts: GatewayOptions = {}): Promise<Gateway> {
    const config = await loadConfig(opts);
    const logger = opts.logger ?? createLogger({ level: config.gateway.log.level });
    // What the contract loader read leniently or named itself (derived operationIds), said once at start-up.
    for (const notice of config.contract.notices) logger.warn({ contract: config.contract.file }, notice);
    // Traced: request latencies carry the trace id as an exemplar (OpenMetrics exposition).
    const metrics = new GatewayMetrics({ defaultMetrics: opts.processMetrics ?? true, exemplars: resolveTracing(config.gateway.tracing, config.env, config.file).settings !== undefined });
    const state = config.gateway.state;
    const store = await openStore(state.driver === 'sqlite' ? { ...state, file: state.file === ':memory:' || isAbsolute(state.file) ? state.file : join(config.root, state.file) } : state);
    const installed: Installed = {
      hooks: [],
      adminRouters: [],
      closers: [],
      drains: [],
      readiness: new Map(),
      apis: new Map(),
      responses: new ResponseValidator(config.contract, config.gateway.server.writeOnly),
    };
    const lease = opts.singletons?.lease === true;
    const singletons = new Singletons({ logger, metrics, store: lease ? store : undefined, label: opts.singletons?.label, renewMs: opts.singletons?.renewMs, ttlMs: opts.singletons?.ttlMs });
    let running: RunningAdapter[] = [];
    try {
      const made = await createAdapters(config, { logger, metrics, store, singletons });
      running = made.running;
      const handlers = made.handlers;
      if (made.errors.length > 0) throw new ConfigErrors(placeErrors(made.errors));

      const routes = new RouteTable();
      for (const plan of config.routes) {
        const operation = config.contract.operation(plan.operationId);
        const bind = (adapterName: string | undefined, backend: 'legacy' | 'modern'): BoundBinding | undefined => {
          if (!adapterName) return undefined;
          const a = config.adapters.find((x) => x.name === adapterName);
          const handler = handlers.get(adapterName)?.get(plan.operationId);
          if (!a || !handler) return undefined;
          const b = a.bindings.find((x) => x.operationId === plan.operationId);
          const policyConfig = mergePolicy(BASE_POLICY, a.kind.defaultPolicy, config.gateway.policy, a.policy, b?.policy);
          const policy = new BindingPolicy(policyConfig, {
            adapter: a.name,
            operation: plan.operationId,
            retryable: operation.safe || policyConfig.retry.unsafe,
            metrics,
          });
          return new BoundBinding(a.name, a.kind.name, backend, plan.operationId, policy, handler, metrics);
        };
        routes.add(new Route(operation, bind(plan.legacy, 'legacy'), bind(plan.modern, 'modern'), { mode: plan.mode, percent: 0 }));
      }
      await Promise.all(running.map((r) => r.adapter.start?.()));

      // The features, in order: each gets the narrow host and gives back hooks, admin routers and a close.
      const host: FeatureHost = {
        config,
        env: config.env,
        logger,
        metrics,
        routes,
        store,
        responses: installed.responses,
        readiness: async () => withFeatures(await adapterReadiness(running, metrics, store), installed.readiness),
        adminRouters: installed.adminRouters,
        featureApi: <T>(name: string) => installed.apis.get(name) as T | undefined,
        singletons,
        startsAlone: opts.startsAlone ?? true,
      };
      for (const feature of config.features) {
        const f = await feature.install(host);
        installed.apis.set(feature.name, f.api);
        if (f.close) installed.closers.unshift(f.close);
        if (f.drain) installed.drains.push(f.drain);
        if (f.readiness) installed.readiness.set(feature.name, f.readiness);
        installed.hooks.push(...(f.hooks ?? []));
        installed.adminRouters.push(...(f.adminRouters ?? []));
      }
      Object.freeze(installed.hooks);
      Object.freeze(installed.adminRouters);
      // Every loop is registered: this instance runs them now (alone), or once it holds the lease.
      await singletons.start();
      return new Gateway(config, logger, metrics, running, routes, store, singletons, installed);
    } catch (err) {
      await singletons.close().catch(() => undefined);
      for (const close of installed.closers) await close().catch(() => undefined);
      await Promise.allSettled(running.map((r) => r.adapter.close()));
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Every configuration mistake of the project, as `create` would find them, without starting
   * anything: the files, the features' checks, and each kind's checks of its connection and bindings
   * (adapters are created against a throw-away state store and closed, never started).
   */
  static async check(opts: GatewayOptions & { notices?: string[] } = {}): Promise<ConfigError[]> {
    const report = await loadConfigReport(opts);
    const readable = report.config ?? report.partial;
    const errors = [...report.errors];
    if (!readable) return errors;
    // What the contract loader read leniently or named itself (derived operationIds), for the caller to show.
    opts.notices?.push(...readable.contract.notices);
    const store = await openStore({ driver: 'sqlite', file: ':memory:' });
    try {
      const logger = opts.logger ?? createLogger({ level: 'silent' });
      const made = await createAdapters(readable, { logger, metrics: new GatewayMetrics({ defaultMetrics: false }), store, singletons: new Singletons({ logger }) });
      await Promise.allSettled(made.running.map((r) => r.adapter.close()));
      errors.push(...placeErrors(made.errors));
    } finally {
      await store.close().catch(() => undefined);
    }
    return errors;
  }

  /** What the feature called `name` gave as its interface; throws when no such feature is installed. */
  feature<T>(name: string): T {
    if (!this.installed.apis.has(name)) throw new Error(`no feature "${name}" is installed (installed: ${[...this.installed.apis.keys()].join(', ')})`);
    return this.installed.apis.get(name) as T;
  }

  /** Route state, shadow comparison, gates and the admin side (src/control). */
  get control(): ControlPlane {
    return this.feature<ControlPlane>('control');
  }

  /** Idempotency keys, the durable outbox and the dead-letter queue (src/writes). */
  get writes(): Writes {
    return this.feature<Writes>('writes');
  }

  /** Recording of exchanges for replay (src/recording). */
  get recorder(): Recorder {
    return this.feature<Recorder>('recording');
  }

  async readiness(): Promise<ReadinessReport> {
    return withFeatures(await adapterReadiness(this.adapters, this.metrics, this.store), this.installed.readiness);
  }

  /**
   * Starts listening, or with `through` (a cluster's worker: the primary listens for every worker)
   * serves the connections `through` hands over; resolves with the base URL.
   */
  async listen(port = this.config.gateway.server.port, host = this.config.gateway.server.host, through?: ConnectionSource): Promise<string> {
    const http = drainingServer(this.app, refuseWhileShuttingDown);
    const server = http.server;
    server.on('clientError', clientErrorHandler(this.logger));
    server.keepAliveTimeout = 65_000;
    const addr = await http.listen(port, host, through).catch((err: NodeJS.ErrnoException) => {
      throw new ListenError('the gateway', host, port, err, `--port, PORT or server.port in ${this.config.file}`);
    });
    this.server = http;
    const shownHost = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    return `http://${shownHost}:${addr.port}`;
  }

  get url(): string | undefined {
    const addr = this.server?.address;
    return addr ? `http://127.0.0.1:${addr.port}` : undefined;
  }

  /**
   * Stops taking requests at once (new connections refused, idle ones closed, every answer from now
   * on with `Connection: close`, a new request on a busy connection refused with 503), lets the
   * requests in flight finish within `graceMs` (resolving as soon as they have), then closes the
   * features and every adapter. Features' own servers (the admin server) drain the same way, alongside.
   */
  close(graceMs = 5_000): Promise<void> {
    this.closing ??= this.shutDown(graceMs);
    return this.closing;
  }

  private async shutDown(graceMs: number): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.singletons.beginShutdown();
    await Promise.all([server?.drain(graceMs), ...this.installed.drains.map((drain) => drain(graceMs).catch((err: unknown) => this.logger.error({ err }, 'a feature failed to drain')))]);
    // The singleton loops stop (finishing or handing back what they hold) and the lease is released for another instance.
    await this.singletons.close().catch((err: unknown) => this.logger.error({ err }, 'the singletons failed to stop'));
    for (const close of this.installed.closers) await close().catch((err: unknown) => this.logger.error({ err }, 'a feature failed to close'));
    await Promise.allSettled(this.adapters.map((a) => a.adapter.close()));
    await this.store.close().catch(() => undefined);
    this.logger.flush();
  }

  /** Where /metrics and /readyz are: on this port, or (server.metrics, server.readyzDetails: admin) on the admin port. */
  private opsLines(baseUrl: string): string[] {
    const server = this.config.gateway.server;
    const adminUrl = this.control?.adminUrl;
    const metrics = server.metrics === 'admin' ? `${adminUrl ?? '(the admin port)'}/metrics  (admin port only)` : `${baseUrl}/metrics`;
    const ready = server.readyzDetails === 'admin' ? `${baseUrl}/readyz  (ready or not; details at ${adminUrl ?? '(the admin port)'}/readyz)` : `${baseUrl}/readyz`;
    return [`  Metrics               ${metrics}`, `  Health / readiness    ${baseUrl}/healthz  ${ready}`];
  }

  /** The start-up block: which URL serves what, which adapters are up, each route's mode. */
  async banner(baseUrl: string): Promise<string> {
    const ready = await this.readiness();
    const bound = this.server?.address?.address;
    const reach =
      bound === undefined
        ? []
        : bound === '0.0.0.0' || bound === '::'
          ? [`  Bound to ${bound}: every interface, reachable from other machines`]
          : [`  Bound to ${bound}${bound === '127.0.0.1' || bound === '::1' ? ': this machine only (set HOST or server.host to open it)' : ''}`];
    const lines = [
      `Ficus gateway listening on ${baseUrl}`,
      ...reach,
      `  API (${this.routes.all().length} operations)  ${baseUrl}/`,
      `  API reference         ${baseUrl}/docs`,
      ...this.opsLines(baseUrl),
      ...(this.control?.adminUrl
        ? [`  Admin API, dashboard  ${this.control.adminUrl}/  (tokens: ${this.control.tokens.names.length > 0 ? this.control.tokens.names.join(', ') : 'none; set FICUS_ADMIN_TOKENS'})`]
        : []),
      '',
      '  Adapters:',
      ...this.adapters.map((a) => {
        const r = ready.adapters[a.name];
        return `    ${r?.ok ? 'up  ' : 'DOWN'}  ${a.name.padEnd(20)} ${a.kind.padEnd(7)} ${a.role.padEnd(7)} ${a.operations.join(', ')}${r?.ok ? '' : `  (${r?.detail ?? 'down'})`}`;
      }),
      '',
      '  Routes:',
      ...this.routes
        .all()
        .map(
          (r) =>
            `    ${r.operation.method.toUpperCase().padEnd(6)} ${r.operation.path.padEnd(36)} ${r.operationId.padEnd(22)} ${r.state.mode === 'canary' ? `canary ${r.state.percent}%` : r.state.mode}  (legacy: ${r.legacy?.adapter ?? '-'}, modern: ${r.modern?.adapter ?? '-'})`,
        ),
    ];
    return lines.join('\n');
  }
}
/** A server of the gateway could not listen: which one, on which address, why, and what to do. */
export class ListenError extends Error {
  readonly code: string | undefined;
  constructor(what: string, host: string, port: number, cause: NodeJS.ErrnoException, setting: string) {
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const why =
      cause.code === 'EADDRINUSE'
        ? `${where} is already in use (another Ficus, or another program, listens there)`
        : cause.code === 'EACCES'
          ? `${where} needs privileges this process does not have (ports below 1024 do)`
          : cause.code === 'EADDRNOTAVAIL'
            ? `${host} is not an address of this machine`
            : `${where}: ${cause.code ?? cause.message}`;
    super(`${what} cannot listen: ${why}. Stop the other program, or choose another port with ${setting}`, { cause });
    this.name = 'ListenError';
    this.code = cause.code;
  }
}
