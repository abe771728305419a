/**
 * The response cache and request coalescing, as one `around` hook on every operation:
 *
 * - a safe operation's identical calls in flight share one backend call (single-flight.ts), cached or not;
 * - a cached route answers from memory (then Redis) while fresh (`ttl`), serves stale at once while one
 *   call refreshes it (`staleWhileRevalidate`), and serves stale when the backend fails (`staleIfError`),
 *   with `Age`, `ETag`, `Cache-Control`, `Warning` and 304 for `If-None-Match`;
 * - only 200 answers that pass the contract's response check are stored (a 404 for `negativeTtl`), and
 *   none larger than the route's `maxBytes`;
 * - a write that succeeds drops the entries its route's `invalidates` names, and an event of a change
 *   feed those its `invalidatedBy` names, here, in Redis and, through Redis pub/sub, in every other
 *   instance's memory;
 * - a route with `coalesce: cluster` makes one backend call per read across the instances sharing Redis
 *   (cluster-flight.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import type { OperationHooks } from '../http/app.ts';
import type { ResponseValidator } from '../http/response-validator.ts';
import type { OperationRequest } from '../kinds/kind.ts';
import type { Logger } from '../observability/logger.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { Problem, storedProblem } from '../problem.ts';
import type { Dispatched } from '../routing/dispatch.ts';
import type { Route, RouteTable } from '../routing/route-table.ts';
import type { CacheEntry } from './cache-entry.ts';
import { invalidationsOf, type CacheConfig, type CacheRouteConfig, type Invalidation } from './cache-config.ts';
import { cacheKey, paramNameOf, tagOf, tagsOf, valueAt, valueInEvent } from './cache-key.ts';
import { MemoryStore } from './memory-store.ts';
import { ClusterFlight, type ClusterFigures } from './cluster-flight.ts';
import { RedisTier, type InvalidationMessage } from './redis-tier.ts';
import { SingleFlight } from './single-flight.ts';

export const CACHE_HEADER = 'Ficus-Cache';
type Outcome = 'hit' | 'miss' | 'stale' | 'coalesced' | 'bypass';

/** Counts since start, per route (the dashboard and the admin API show them; /metrics has the same). */
export interface CacheFigures {
  hits: number;
  misses: number;
  stale: number;
  staleIfError: number;
  coalesced: number;
  bypassed: number;
  evictions: number;
  invalidated: number;
  notStored: number;
}

interface RouteCache {
  operationId: string;
  config: CacheRouteConfig;
  /** Undefined when the route only coalesces. */
  memory: MemoryStore | undefined;
  /** The parameters invalidations of writes name: entries are tagged with their values. */
  tagNames: string[];
  figures: CacheFigures;
  lastStaleAt: number | undefined;
  /** When a call to the backend last failed (cleared by the next success): stale entries are served without waiting. */
  failingSince: number | undefined;
  /** Called when a call of the route fails: callers holding a stale entry stop waiting for their own call. */
  onFailing: Set<() => void>;
}

interface Fill {
  dispatched: Dispatched;
  entry: CacheEntry | undefined;
  /** Answered by another instance's call (coalesce: cluster). */
  shared: boolean;
}

/** One invalidation as this instance applied it: by a write here, a change event here, the admin API, or another instance. */
export interface InvalidationEvent {
  operationId: string;
  /** Undefined: every entry. */
  tag: string | undefined;
  cause: 'write' | 'change-event' | 'admin' | 'other-instance';
  /** Memory entries dropped here. */
  dropped: number;
}

/** A change event as a feed gives it (src/changes/cloud-event.ts). */
export interface ChangeEventLike {
  subject: string;
  data: unknown;
}

export interface CacheOptions {
  config: CacheConfig;
  /** The app's checks of answers (server.writeOnly applied): an answer is stored only as the app would serve it. */
  responses: ResponseValidator;
  routes: RouteTable;
  metrics: GatewayMetrics;
  logger: Logger;
  now?: () => number;
}

/** How long after a failed backend call stale-if-error entries are served without waiting for the backend. */
const FAILING_FOR_MS = 5_000;
const NO_CACHE = /(?:^|,)\s*(?:no-cache|no-store|max-age\s*=\s*0)\s*(?:,|$)/i;

function zeroFigures(): CacheFigures {
  return { hits: 0, misses: 0, stale: 0, staleIfError: 0, coalesced: 0, bypassed: 0, evictions: 0, invalidated: 0, notStored: 0 };
}

export class ResponseCache {
  private readonly routeCaches = new Map<string, RouteCache>();
  private readonly writeInvalidations = new Map<string, Invalidation[]>();
  private readonly flights = new SingleFlight<Fill>();
  private readonly validator: ResponseValidator;
  private readonly recentInvalidations = new Map<string, number>();
  private readonly redis: RedisTier | undefined;
  private readonly cluster: ClusterFlight | undefined;
  private readonly invalidationListeners = new Set<(e: InvalidationEvent) => void>();
  private readonly origin = randomUUID();
  private readonly now: () => number;
  private readonly lookups: Counter<'operation' | 'outcome'>;
  private readonly coalescedCounter: Counter<'operation'>;
  private readonly evictionCounter: Counter<'operation'>;
  private readonly notStoredCounter: Counter<'operation' | 'reason'>;

  constructor(private readonly opts: CacheOptions) {
    this.now = opts.now ?? Date.now;
    this.validator = opts.responses;
    for (const route of opts.routes.all()) this.configure(route.operationId, opts.config.routes[route.operationId]);
    const registers = [opts.metrics.registry];
    this.lookups = new Counter({
      name: 'ficus_cache_requests_total',
      help: 'Cached routes: answers by outcome (hit, miss, stale, bypass: client no-cache)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.coalescedCounter = new Counter({ name: 'ficus_cache_coalesced_total', help: 'Calls answered by joining an identical call in flight (single flight)', labelNames: ['operation'], registers });
    this.evictionCounter = new Counter({ name: 'ficus_cache_evictions_total', help: 'Entries dropped from memory to make room (LRU by entries and bytes)', labelNames: ['operation'], registers });
    this.notStoredCounter = new Counter({ name: 'ficus_cache_not_stored_total', help: 'Answers of cached routes not stored, by reason', labelNames: ['operation', 'reason'], registers });
    const caches = this.routeCaches;
    new Gauge({
      name: 'ficus_cache_bytes',
      help: 'Bytes of cached answers held in memory',
      labelNames: ['operation'],
      registers,
      collect() {
        for (const rc of caches.values()) if (rc.memory) this.set({ operation: rc.operationId }, rc.memory.bytes);
      },
    });
    new Gauge({
      name: 'ficus_cache_entries',
      help: 'Cached answers held in memory',
      labelNames: ['operation'],
      registers,
      collect() {
        for (const rc of caches.values()) if (rc.memory) this.set({ operation: rc.operationId }, rc.memory.size);
      },
    });
    const redis = opts.config.redis;
    if (redis) {
      this.redis = new RedisTier(
        { url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: redis.commandTimeout, origin: this.origin, logger: opts.logger },
        {
          invalidated: (m) => this.invalidatedElsewhere(m),
          answered: (m) => this.cluster?.answered(m.id, m.outcome),
          reconnected: () => {
            for (const rc of this.routeCaches.values()) rc.memory?.invalidate();
          },
        },
      );
      this.cluster = new ClusterFlight(this.redis, redis.lockTtl);
    }
  }

  /** Hears every invalidation this instance applies (tests wait on it; returns the way to stop listening). */
  onInvalidated(listener: (e: InvalidationEvent) => void): () => void {
    this.invalidationListeners.add(listener);
    return () => this.invalidationListeners.delete(listener);
  }

  start(): void {
    this.redis?.start();
  }

  async close(): Promise<void> {
    await this.redis?.close();
  }

  /** Sets (or, with undefined, clears) a route's cache settings; memory entries are dropped when its bounds change. */
  configure(operationId: string, config: CacheRouteConfig | undefined): void {
    const old = this.routeCaches.get(operationId);
    this.writeInvalidations.delete(operationId);
    if (!config) {
      this.routeCaches.delete(operationId);
      this.retag();
      return;
    }
    const invs = invalidationsOf(config);
    if (invs.length > 0) this.writeInvalidations.set(operationId, invs);
    const figures = old?.figures ?? zeroFigures();
    const sameBounds = old?.memory && old.config.maxEntries === config.maxEntries && old.config.maxBytes === config.maxBytes;
    const memory = config.ttl === undefined ? undefined : sameBounds ? old.memory : new MemoryStore(config.maxEntries, config.maxBytes, () => this.evicted(operationId));
    this.routeCaches.set(operationId, {
      operationId,
      config,
      memory,
      tagNames: old?.tagNames ?? [],
      figures,
      lastStaleAt: old?.lastStaleAt,
      failingSince: old?.failingSince,
      onFailing: old?.onFailing ?? new Set(),
    });
    this.retag();
  }

  /** Which parameters each read's entries are tagged with: those the writes' invalidations name. */
  private retag(): void {
    const names = new Map<string, Set<string>>();
    for (const invs of this.writeInvalidations.values())
      for (const i of invs) {
        if (i.from === undefined) continue;
        let s = names.get(i.operationId);
        if (!s) names.set(i.operationId, (s = new Set()));
        s.add(paramNameOf(i.from));
      }
    for (const rc of this.routeCaches.values())
      for (const by of rc.config.invalidatedBy) {
        if (by.key === undefined) continue;
        let s = names.get(rc.operationId);
        if (!s) names.set(rc.operationId, (s = new Set()));
        s.add(paramNameOf(by.key));
      }
    for (const rc of this.routeCaches.values()) rc.tagNames = [...(names.get(rc.operationId) ?? [])];
  }

  private evicted(operationId: string): void {
    const rc = this.routeCaches.get(operationId);
    if (rc) rc.figures.evictions++;
    this.evictionCounter.inc({ operation: operationId });
  }

  /** Shared calls in flight now, and the callers waiting on them. */
  inFlight(): { calls: number; waiting: number; following: number } {
    return { calls: this.flights.size, waiting: this.flights.waiting, following: this.cluster?.following ?? 0 };
  }

  routeConfig(operationId: string): CacheRouteConfig | undefined {
    return this.routeCaches.get(operationId)?.config;
  }

  status(): {
    redis: { ok: boolean; detail?: string } | null;
    /** Coalescing across instances (routes with coalesce: cluster), when Redis is set. */
    cluster: ClusterFigures | null;
    routes: { operationId: string; config: CacheRouteConfig; entries: number; bytes: number; figures: CacheFigures; servingStale: boolean; lastStaleAt: string | null }[];
  } {
    return {
      redis: this.redis ? this.redis.status : null,
      cluster: this.cluster ? { ...this.cluster.figures } : null,
      routes: [...this.routeCaches.values()]
        .sort((a, b) => (a.operationId < b.operationId ? -1 : 1))
        .map((rc) => ({
          operationId: rc.operationId,
          config: rc.config,
          entries: rc.memory?.size ?? 0,
          bytes: rc.memory?.bytes ?? 0,
          figures: { ...rc.figures, evictions: rc.figures.evictions },
          servingStale: this.servingStale(rc),
          lastStaleAt: rc.lastStaleAt === undefined ? null : new Date(rc.lastStaleAt).toISOString(),
        })),
    };
  }

  private servingStale(rc: RouteCache): boolean {
    return rc.lastStaleAt !== undefined && this.now() - rc.lastStaleAt < this.opts.config.staleReportFor;
  }

  /** What /readyz says: the routes answering from stale entries because their backend fails, and Redis. */
  readiness(): { ok: boolean; detail?: string; servingStale: string[]; redis?: { ok: boolean; detail?: string } } | undefined {
    if (!this.redis && ![...this.routeCaches.values()].some((rc) => rc.memory)) return undefined;
    const stale = [...this.routeCaches.values()].filter((rc) => this.servingStale(rc)).map((rc) => rc.operationId);
    const redis = this.redis?.status;
    const notes = [...(stale.length > 0 ? [`serving stale answers (backend failing): ${stale.join(', ')}`] : []), ...(redis && !redis.ok ? [redis.detail ?? 'Redis down'] : [])];
    return { ok: true, ...(notes.length > 0 ? { detail: notes.join('; ') } : {}), servingStale: stale, ...(redis ? { redis } : {}) };
  }

  hook(): OperationHooks {
    return { around: (route, req, next) => this.serve(route, req, next) };
  }

  /** A call the cache has nothing to do with goes straight on, without an async step of its own. */
  private serve(route: Route, req: OperationRequest, next: (req?: OperationRequest) => Promise<Dispatched>): Promise<Dispatched> {
    if (!route.operation.safe) {
      const invs = this.writeInvalidations.get(route.operationId);
      return invs ? this.invalidating(invs, req, next) : next();
    }
    const rc = this.routeCaches.get(route.operationId);
    // Only the reads a route lists under cache.routes coalesce: sharing one call between callers is a
    // choice per route (a canary split or a per-caller answer must not be shared unasked).
    if (!rc || (!rc.memory && !rc.config.coalesce)) return next();
    return this.serveRead(route, rc, req, next);
  }

  /** A write that makes cached reads stale: they are dropped once it succeeded. */
  private async invalidating(invs: Invalidation[], req: OperationRequest, next: () => Promise<Dispatched>): Promise<Dispatched> {
    const d = await next();
    if (d.result.status < 400) await this.invalidateFor(invs, req);
    return d;
  }

  private async serveRead(route: Route, rc: RouteCache, req: OperationRequest, next: (req?: OperationRequest) => Promise<Dispatched>): Promise<Dispatched> {
    const operationId = route.operationId;
    const key = cacheKey(route.operation, req, rc.config.vary);
    if (!rc.memory) {
      // Coalescing only.
      const { promise, joined } = this.flights.run(key, req.signal, async (signal) => ({ ...(await this.callBackend(rc, key, { ...req, signal }, next)), entry: undefined }));
      const fill = await promise;
      if (joined || fill.shared) {
        this.coalescedCounter.inc({ operation: operationId });
        rc.figures.coalesced++;
      }
      return fill.dispatched;
    }
    const cfg = rc.config;
    const ttl = cfg.ttl ?? 0;
    const bypass = cfg.clientNoCache === 'pass' && NO_CACHE.test(req.headers['cache-control'] ?? req.headers.pragma ?? '');
    let stale: CacheEntry | undefined;
    if (!bypass) {
      const e = rc.memory.get(key) ?? (this.redis ? await this.fromRedis(rc, key) : undefined);
      if (e) {
        const age = this.now() - e.storedAt;
        if (age < (e.problem ? (cfg.negativeTtl ?? 0) : ttl)) {
          this.count(rc, 'hit');
          return this.answer(rc, e, req, 'hit', age);
        }
        if (!e.problem && age < ttl + cfg.staleWhileRevalidate) {
          this.count(rc, 'stale');
          this.refresh(route, rc, key, req, next);
          return this.answer(rc, e, req, 'stale', age, '110 - "Response is Stale"');
        }
        if (!e.problem && age < ttl + cfg.staleIfError) {
          // The backend failed a moment ago: answer stale at once and let one call per key find out
          // whether it is back, rather than queueing every caller behind a failing backend.
          if (rc.failingSince !== undefined && this.now() - rc.failingSince < FAILING_FOR_MS) {
            rc.figures.staleIfError++;
            rc.lastStaleAt = this.now();
            this.count(rc, 'stale');
            this.refresh(route, rc, key, req, next);
            return this.answer(rc, e, req, 'stale', age, '111 - "Revalidation Failed"');
          }
          stale = e;
        }
      }
    }
    this.count(rc, bypass ? 'bypass' : 'miss');
    try {
      const { promise, joined } = this.flights.run(key, req.signal, (signal) => this.fill(route, rc, key, { ...req, signal }, next));
      if (joined) {
        rc.figures.coalesced++;
        this.coalescedCounter.inc({ operation: operationId });
      }
      // Holding a stale entry: a failure of another call of the route answers this caller stale at once.
      const fill = stale ? await this.untilFailing(rc, promise) : await promise;
      if (fill.shared && !joined) {
        rc.figures.coalesced++;
        this.coalescedCounter.inc({ operation: operationId });
      }
      const outcome: Outcome = joined || fill.shared ? 'coalesced' : bypass ? 'bypass' : 'miss';
      if (fill.entry) return this.answer(rc, fill.entry, req, outcome, Math.max(0, this.now() - fill.entry.storedAt));
      const d = fill.dispatched;
      return { ...d, result: { ...d.result, headers: { ...d.result.headers, [CACHE_HEADER]: outcome } } };
    } catch (err) {
      if (stale && backendCannotAnswer(err) && !req.signal.aborted) {
        rc.figures.staleIfError++;
        rc.lastStaleAt = this.now();
        this.count(rc, 'stale');
        return this.answer(rc, stale, req, 'stale', this.now() - stale.storedAt, '111 - "Revalidation Failed"');
      }
      throw err;
    }
  }

  private untilFailing<T>(rc: RouteCache, promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const failing = () => reject(new Error('the backend is failing'));
      rc.onFailing.add(failing);
      promise.then(
        (v) => {
          rc.onFailing.delete(failing);
          resolve(v);
        },
        (err: unknown) => {
          rc.onFailing.delete(failing);
          reject(err);
        },
      );
    });
  }

  private count(rc: RouteCache, outcome: 'hit' | 'miss' | 'stale' | 'bypass'): void {
    if (outcome === 'hit') rc.figures.hits++;
    else if (outcome === 'miss') rc.figures.misses++;
    else if (outcome === 'stale') rc.figures.stale++;
    else rc.figures.bypassed++;
    this.lookups.inc({ operation: rc.operationId, outcome });
  }

  private async fromRedis(rc: RouteCache, key: string): Promise<CacheEntry | undefined> {
    const e = await this.redis?.get(rc.operationId, key);
    if (e && rc.memory && !this.invalidatedSince(rc.operationId, e.tags, e.storedAt)) rc.memory.set(key, e, this.keepMs(rc.config, e) - (this.now() - e.storedAt));
    return e;
  }

  /** A stale entry's refresh, off the caller's path; callers meanwhile get the stale entry (or join it on a miss). */
  private refresh(route: Route, rc: RouteCache, key: string, req: OperationRequest, next: (req?: OperationRequest) => Promise<Dispatched>): void {
    const { promise } = this.flights.run(key, undefined, (signal) => this.fill(route, rc, key, { ...req, signal }, next));
    promise.catch((err: unknown) =>
      this.opts.logger.warn({ operation: rc.operationId, err: err instanceof Error ? err.message : String(err) }, 'cache: a background refresh failed; the stale entry is kept'),
    );
  }

  /** Calls the backend once for every waiter, and stores what may be stored. */
  private async fill(route: Route, rc: RouteCache, key: string, req: OperationRequest, next: (req?: OperationRequest) => Promise<Dispatched>): Promise<Fill> {
    const started = this.now();
    const tags = tagsOf(req, rc.tagNames);
    let dispatched: Dispatched;
    let shared: boolean;
    try {
      ({ dispatched, shared } = await this.callBackend(rc, key, req, next));
      rc.failingSince = undefined;
    } catch (err) {
      if (backendCannotAnswer(err) && !req.signal.aborted) {
        rc.failingSince = this.now();
        const listeners = [...rc.onFailing];
        rc.onFailing.clear();
        for (const l of listeners) l();
      }
      const negative = rc.config.negativeTtl;
      if (negative !== undefined && err instanceof Problem && err.status === 404 && rc.memory) {
        const body = JSON.stringify({ type: err.typeName, detail: err.detail });
        const route404: CacheEntry = {
          status: 404,
          headers: {},
          backend: route.state.mode === 'modern' ? 'modern' : 'legacy',
          adapter: '',
          storedAt: this.now(),
          etag: etagOf(body),
          bytes: body.length,
          tags,
          problem: { type: err.typeName, detail: err.detail },
        };
        this.store(rc, key, route404, started, true);
      }
      throw err;
    }
    const result = dispatched.result;
    if (result.status !== 200 || !rc.memory) return { dispatched, entry: undefined, shared };
    const cc = result.headers?.['cache-control'] ?? result.headers?.['Cache-Control'];
    if (cc && /no-store|private/i.test(cc) && rc.config.shared) return this.notStored(rc, dispatched, 'backend-no-store', shared);
    if (this.validator.check(route.operationId, result).length > 0) return this.notStored(rc, dispatched, 'contract-violation', shared);
    const json = result.body === undefined ? '' : JSON.stringify(result.body);
    const bytes = Buffer.byteLength(json);
    if (bytes > rc.config.maxBytes) return this.notStored(rc, dispatched, 'too-large', shared);
    const entry: CacheEntry = {
      status: 200,
      body: result.body,
      headers: { ...result.headers },
      backend: dispatched.backend,
      adapter: dispatched.adapter,
      storedAt: this.now(),
      etag: etagOf(json),
      bytes,
      tags,
    };
    // The leader of a read coalesced across instances has stored it in Redis already.
    this.store(rc, key, entry, started, !shared);
    return { dispatched, entry, shared };
  }

  /** The backend call of a read: once across the instances for a route with coalesce: cluster, else here. */
  private async callBackend(rc: RouteCache, key: string, req: OperationRequest, next: (req?: OperationRequest) => Promise<Dispatched>): Promise<{ dispatched: Dispatched; shared: boolean }> {
    if (rc.config.coalesce === 'cluster' && this.cluster) return this.cluster.run(rc.operationId, key, req.signal, () => next(req));
    return { dispatched: await next(req), shared: false };
  }

  private notStored(rc: RouteCache, dispatched: Dispatched, reason: string, shared = false): Fill {
    rc.figures.notStored++;
    this.notStoredCounter.inc({ operation: rc.operationId, reason });
    return { dispatched, entry: undefined, shared };
  }

  private keepMs(cfg: CacheRouteConfig, e: CacheEntry): number {
    return e.problem ? (cfg.negativeTtl ?? 0) : (cfg.ttl ?? 0) + Math.max(cfg.staleWhileRevalidate, cfg.staleIfError);
  }

  private store(rc: RouteCache, key: string, entry: CacheEntry, started: number, toRedis: boolean): void {
    // A write that invalidated these entries after this call began: its answer may predate the write.
    if (this.invalidatedSince(rc.operationId, entry.tags, started) || !rc.memory) return;
    const keep = this.keepMs(rc.config, entry);
    if (!rc.memory.set(key, entry, keep)) {
      this.notStored(rc, { result: { status: entry.status }, backend: entry.backend, adapter: entry.adapter }, 'too-large');
      return;
    }
    if (toRedis) void this.redis?.set(rc.operationId, key, entry, keep, started);
  }

  private answer(rc: RouteCache, e: CacheEntry, req: OperationRequest, outcome: Outcome, ageMs: number, warning?: string): Dispatched {
    const cfg = rc.config;
    const headers: Record<string, string> = { ...e.headers };
    const ttlS = Math.floor((e.problem ? (cfg.negativeTtl ?? 0) : (cfg.ttl ?? 0)) / 1000);
    let cc = `${cfg.shared ? 'public' : 'private'}, max-age=${ttlS}`;
    if (cfg.staleWhileRevalidate > 0) cc += `, stale-while-revalidate=${Math.floor(cfg.staleWhileRevalidate / 1000)}`;
    if (cfg.staleIfError > 0) cc += `, stale-if-error=${Math.floor(cfg.staleIfError / 1000)}`;
    headers['Cache-Control'] = cc;
    headers.Age = String(Math.max(0, Math.floor(ageMs / 1000)));
    headers.ETag = e.etag;
    headers[CACHE_HEADER] = outcome;
    const varyHeaders = cfg.vary.filter((v) => v.startsWith('header.')).map((v) => v.slice(7));
    if (varyHeaders.length > 0) headers.Vary = varyHeaders.join(', ');
    if (warning) headers.Warning = warning;
    if (e.problem) throw storedProblem(e.problem.type, e.status, { detail: e.problem.detail, headers });
    const inm = req.headers['if-none-match'];
    if (inm !== undefined && matchesEtag(inm, e.etag)) return { result: { status: 304, headers }, backend: e.backend, adapter: e.adapter };
    return { result: { status: e.status, body: e.body, headers }, backend: e.backend, adapter: e.adapter };
  }

  /** After a successful write: drops the entries its invalidations name, everywhere. */
  private async invalidateFor(invs: readonly Invalidation[], req: OperationRequest): Promise<void> {
    await Promise.all(
      invs.map((i) => {
        if (i.from === undefined) return this.invalidate(i.operationId, undefined, 'write');
        const v = valueAt(req, i.from);
        return v === undefined ? Promise.resolve() : this.invalidate(i.operationId, tagOf(paramNameOf(i.from), v), 'write');
      }),
    );
  }

  /** Drops the entries of `operationId` with `tag` (all without one) here, in Redis, and in every instance. */
  async invalidate(operationId: string, tag: string | undefined, cause: InvalidationEvent['cause'] = 'admin'): Promise<number> {
    const at = this.now();
    const n = this.dropLocal(operationId, tag, at, cause);
    await this.redis?.invalidate(operationId, tag, at);
    return n;
  }

  /**
   * Events of change feed `feed`: drops the entries of the reads whose `invalidatedBy` names it (those
   * whose parameter is the event's value, or every entry), here, in Redis and in every instance.
   */
  async changeEvents(feed: string, events: readonly ChangeEventLike[]): Promise<number> {
    let dropped = 0;
    const work: Promise<number>[] = [];
    for (const rc of this.routeCaches.values()) {
      for (const by of rc.config.invalidatedBy) {
        if (by.feed !== feed || events.length === 0) continue;
        if (by.key === undefined) {
          work.push(this.invalidate(rc.operationId, undefined, 'change-event'));
          continue;
        }
        const tags = new Set<string>();
        for (const e of events) {
          const v = valueInEvent(e, by.from);
          if (v !== undefined && v !== null) tags.add(tagOf(paramNameOf(by.key), v));
        }
        for (const t of tags) work.push(this.invalidate(rc.operationId, t, 'change-event'));
      }
    }
    for (const n of await Promise.all(work)) dropped += n;
    return dropped;
  }

  private dropLocal(operationId: string, tag: string | undefined, at: number, cause: InvalidationEvent['cause']): number {
    this.recentInvalidations.set(`${operationId}|${tag ?? '*'}`, at);
    if (this.recentInvalidations.size > 10_000) {
      for (const [k, t] of this.recentInvalidations) if (at - t > 60_000) this.recentInvalidations.delete(k);
    }
    const rc = this.routeCaches.get(operationId);
    const n = rc?.memory?.invalidate(tag) ?? 0;
    if (rc) rc.figures.invalidated += n;
    for (const l of this.invalidationListeners) l({ operationId, tag, cause, dropped: n });
    return n;
  }

  private invalidatedElsewhere(m: InvalidationMessage): void {
    this.dropLocal(m.operationId, m.tag, Math.min(m.at, this.now()), 'other-instance');
  }

  private invalidatedSince(operationId: string, tags: readonly string[], since: number): boolean {
    if (this.recentInvalidations.size === 0) return false;
    const all = this.recentInvalidations.get(`${operationId}|*`);
    if (all !== undefined && all >= since) return true;
    for (const t of tags) {
      const at = this.recentInvalidations.get(`${operationId}|${t}`);
      if (at !== undefined && at >= since) return true;
    }
    return false;
  }
}

function etagOf(json: string): string {
  return `"${createHash('sha1').update(json).digest('base64url')}"`;
}

function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  for (const part of header.split(',')) {
    const t = part.trim();
    if ((t.startsWith('W/') ? t.slice(2) : t) === etag) return true;
  }
  return false;
}

/** The backend could not answer now (failing, timing out, circuit open, overloaded): a stale entry may stand in. A 4xx is an answer. */
function backendCannotAnswer(err: unknown): boolean {
  return !(err instanceof Problem && err.isClientError);
}
