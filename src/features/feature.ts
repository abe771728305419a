/**
 * How an optional part of the gateway (writes, recording, the control plane, and what later issues
 * add) plugs in. A feature checks its own part of the config together with everything else, before
 * anything starts, and then installs itself on a narrow host: it gets the contract, the routes, the
 * state store, metrics and the logger, and gives back its hooks, its admin routers and what must run
 * on close. It never reaches into the gateway, and the gateway knows no feature by name.
 */
import type { ResponseValidator } from '../http/response-validator.ts';
import type { Router } from 'express';
import type { ConfigError } from '../config/config-error.ts';
import type { Env } from '../config/env.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import type { FeatureReadiness, OperationHooks, ReadinessReport } from '../http/app.ts';
import type { Logger } from '../observability/logger.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { RouteTable } from '../routing/route-table.ts';
import type { SqlStore } from '../state/sql-store.ts';
import type { Singletons } from '../cluster/singletons.ts';

/** A router a feature serves on the admin side, behind the admin API's authentication. */
export interface AdminRouter {
  /** Mount point, e.g. `/dlq`. */
  prefix: string;
  router: Router;
}

/** The config as a feature's check sees it: everything loaded and checked except the features. */
export type CheckedConfig = Omit<LoadedConfig, 'features'>;

/** What a feature may use of the gateway while it installs itself. */
export interface FeatureHost {
  readonly config: LoadedConfig;
  readonly env: Env;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly routes: RouteTable;
  readonly store: SqlStore;
  /** The checks of backends' answers against the contract, the app's own (server.writeOnly applied). */
  readonly responses: ResponseValidator;
  /** Every adapter's health, the state store's and the features' parts, as /readyz reports it. */
  readiness(): Promise<ReadinessReport>;
  /** The admin routers of every feature (filled in as features install; complete once the gateway is created). */
  readonly adminRouters: readonly AdminRouter[];
  /** What an earlier feature (by name) gave as its `api`, for features that build on another. */
  featureApi<T>(name: string): T | undefined;
  /** Where a loop only one instance may run (a delivery worker, a poller) is registered, instead of started. */
  readonly singletons: Singletons;
  /** Whether this instance starts alone on its state store: what a previous run left in flight is its to take back at once. */
  readonly startsAlone: boolean;
}

/** What a feature gives back when it installs. */
export interface InstalledFeature<Api> {
  /** The feature's own interface (the gateway exposes it as `gateway.feature(name)`). */
  api: Api;
  /** Hooks on serving an operation; features earlier in the list wrap the later ones. */
  hooks?: OperationHooks[];
  /** Routers mounted on the admin side. */
  adminRouters?: AdminRouter[];
  /** Run at the start of shutdown, with the public server's drain: a feature's own server stops taking requests and finishes those in flight within `graceMs`. */
  drain?: (graceMs: number) => Promise<void>;
  /** The feature's part of /readyz (under `features.<name>`; undefined: nothing to report); `ok: false` makes the instance not ready. */
  readiness?: () => FeatureReadiness | undefined;
  /** Run on close, in the reverse order of installation, before adapters and the store close. */
  close?: () => Promise<void>;
}

export interface Feature<Api = unknown> {
  readonly name: string;
  /** Checks the feature's part of the config against the contract and the routes; starts nothing. */
  checkConfig(config: CheckedConfig, env: Env): ConfigError[];
  /** Creates its tables, timers and workers; called once, after every adapter has started. */
  install(host: FeatureHost): Promise<InstalledFeature<Api>>;
}
