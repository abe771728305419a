/**
 * A gateway instance: config loaded and checked, adapters created and bound, the route table built,
 * the HTTP app ready to listen. `ficus start` makes one; so do the tests.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express, Router } from 'express';
import { ConfigError, ConfigErrors } from './config/config-error.ts';
import { loadConfig, type LoadOptions, type LoadedConfig } from './config/load-config.ts';
import { buildApp, type OperationHooks, type ReadinessReport } from './http/app.ts';
import type { Adapter, OperationHandler } from './kinds/kind.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import { BindingPolicy } from './resilience/binding-policy.ts';
import { BASE_POLICY, mergePolicy } from './resilience/policy-config.ts';
import { BoundBinding, Route, RouteTable } from './routing/route-table.ts';
import { openStore, type SqlStore } from './state/sql-store.ts';
import { installWrites, type Writes } from './writes/install.ts';
import { attachRecording } from './recording/attach.ts';
import type { Recorder } from './recording/recorder.ts';
import { ControlPlane } from './control/control-plane.ts';
import './routing/modes/index.ts';
import { isAbsolute, join } from 'node:path';

export interface GatewayOptions extends LoadOptions {
  logger?: Logger;
  /** Collect Node's process metrics too (default true; tests that make many gateways turn it off). */
  processMetrics?: boolean;
}

export interface RunningAdapter {
  name: string;
  kind: string;
  role: 'legacy' | 'modern';
  operations: string[];
  adapter: Adapter<unknown>;
}

export class Gateway {
  readonly hooks: OperationHooks[] = [];
  /** Routers mounted on the admin side (behind its authentication) by features: routes, DLQ, recording. */
  readonly adminRoutes: { prefix: string; router: Router }[] = [];
  /** Run on close, before adapters and the store are closed (outbox workers, recorders flush here). */
  readonly closeHooks: (() => Promise<void>)[] = [];
  readonly app: Express;
  /** Route state, shadow comparison, gates and the admin server (src/control); set by `create`. */
  control!: ControlPlane;
  /** Idempotency keys, the durable outbox and the dead-letter queue (src/writes); set by `create`. */
  writes!: Writes;
  /** Recording of exchanges for replay (src/recording); set by `create`. */
  recorder!: Recorder;
  private server: Server | undefined;

  private constructor(
    readonly config: LoadedConfig,
    readonly logger: Logger,
    readonly metrics: GatewayMetrics,
    readonly adapters: RunningAdapter[],
    readonly routes: RouteTable,
    /** The state store (SQLite file or shared PostgreSQL): modes, audit, idempotency keys, outbox. */
    readonly store: SqlStore,
  ) {
    this.app = buildApp({
      contract: config.contract,
      config: config.gateway,
      routes,
      metrics,
      logger,
      readiness: () => this.readiness(),
      hooks: this.hooks,
    });
  }

  static async create(opts: GatewayOptions = {}): Promise<Gateway> {
    const config = await loadConfig(opts);
    const logger = opts.logger ?? createLogger({ level: config.gateway.log.level });
    const metrics = new GatewayMetrics({ defaultMetrics: opts.processMetrics ?? true });
    const running: RunningAdapter[] = [];
    const errors: ConfigError[] = [];
    const handlers = new Map<string, Map<string, OperationHandler>>();
    const state = config.gateway.state;
    const store = await openStore(
      state.driver === 'sqlite'
        ? { ...state, file: state.file === ':memory:' || isAbsolute(state.file) ? state.file : join(config.root, state.file) }
        : state,
    );
    try {
      for (const a of config.adapters) {
        const adapter = await a.kind.create({
          name: a.name,
          dir: a.dir,
          file: a.file,
          connection: a.connection,
          logger: logger.child({ adapter: a.name }),
          metrics,
          contract: config.contract,
          root: config.root,
          store,
        });
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
      if (errors.length > 0) throw new ConfigErrors(errors);

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
      const gateway = new Gateway(config, logger, metrics, running, routes, store);
      // Idempotency keys, the outbox and its worker, the dead-letter queue (src/writes); its hooks go outermost.
      gateway.writes = await installWrites(gateway);
      // Recording exchanges for replay (src/recording): off on every route unless config or the admin API turns it on.
      gateway.recorder = attachRecording(gateway, { env: opts.env ?? process.env });
      // The control plane: modes from the state store, shadow comparison, gates, the admin side.
      gateway.control = new ControlPlane(gateway, opts.env ?? process.env);
      await gateway.control.start();
      return gateway;
    } catch (err) {
      await Promise.allSettled(running.map((r) => r.adapter.close()));
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  async readiness(): Promise<ReadinessReport> {
    const adapters: ReadinessReport['adapters'] = {};
    // The state store too: without it no write can be taken (idempotency keys, outbox).
    const storePing = this.store.ping(3_000).then(
      () => ({ ok: true }),
      (err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }),
    );
    await Promise.all(
      this.adapters.map(async (a) => {
        let report;
        try {
          report = await Promise.race([
            a.adapter.health(),
            new Promise<{ ok: false; detail: string }>((resolve) => setTimeout(() => resolve({ ok: false, detail: 'health check did not answer within 3 s' }), 3_000).unref()),
          ]);
        } catch (err) {
          report = { ok: false, detail: (err as Error).message };
        }
        this.metrics.adapterUp.set({ adapter: a.name, kind: a.kind }, report.ok ? 1 : 0);
        adapters[a.name] = { kind: a.kind, ...report };
      }),
    );
    const stateStore = await storePing;
    return { ready: stateStore.ok && Object.values(adapters).every((a) => a.ok), adapters, stateStore };
  }

  /** Starts listening; resolves with the base URL. */
  async listen(port = this.config.gateway.server.port, host = this.config.gateway.server.host): Promise<string> {
    const server = this.app.listen(port, host);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    server.keepAliveTimeout = 65_000;
    const addr = server.address() as AddressInfo;
    const shownHost = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    return `http://${shownHost}:${addr.port}`;
  }

  get url(): string | undefined {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    return addr ? `http://127.0.0.1:${addr.port}` : undefined;
  }

  /** Stops taking requests, lets in-flight ones finish within `graceMs`, then closes every adapter. */
  async close(graceMs = 5_000): Promise<void> {
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      this.server = undefined;
    }
    for (const hook of this.closeHooks) await hook().catch((err: unknown) => this.logger.error({ err }, 'a close hook failed'));
    await Promise.allSettled(this.adapters.map((a) => a.adapter.close()));
    await this.store.close().catch(() => undefined);
    this.logger.flush();
  }

  /** The start-up block: which URL serves what, which adapters are up, each route's mode. */
  async banner(baseUrl: string): Promise<string> {
    const ready = await this.readiness();
    const lines = [
      `Ficus gateway listening on ${baseUrl}`,
      `  API (${this.routes.all().length} operations)  ${baseUrl}/`,
      `  API reference         ${baseUrl}/docs`,
      `  Metrics               ${baseUrl}/metrics`,
      `  Health / readiness    ${baseUrl}/healthz  ${baseUrl}/readyz`,
      ...(this.control?.adminUrl ? [`  Admin API, dashboard  ${this.control.adminUrl}/  (tokens: ${this.control.tokens.names.length > 0 ? this.control.tokens.names.join(', ') : 'none; set FICUS_ADMIN_TOKENS'})`] : []),
      '',
      '  Adapters:',
      ...this.adapters.map((a) => {
        const r = ready.adapters[a.name];
        return `    ${r?.ok ? 'up  ' : 'DOWN'}  ${a.name.padEnd(20)} ${a.kind.padEnd(7)} ${a.role.padEnd(7)} ${a.operations.join(', ')}${r?.ok ? '' : `  (${r?.detail ?? 'down'})`}`;
      }),
      '',
      '  Routes:',
      ...this.routes.all().map((r) => `    ${r.operation.method.toUpperCase().padEnd(6)} ${r.operation.path.padEnd(36)} ${r.operationId.padEnd(22)} ${r.state.mode === 'canary' ? `canary ${r.state.percent}%` : r.state.mode}  (legacy: ${r.legacy?.adapter ?? '-'}, modern: ${r.modern?.adapter ?? '-'})`),
    ];
    return lines.join('\n');
  }
}
