/**
 * Counters for limits, with rate-limiter-flexible: in memory (one instance) or in Redis (every
 * instance sharing the URL and prefix counts together; a memory counter insures each one while
 * Redis does not answer). One limiter per distinct (points, window), made on first use.
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LimitsConfig } from './limits-config.ts';
import { SlidingWindows, type Admission } from './sliding-window.ts';

export interface Taken {
  allowed: boolean;
  remaining: number;
  /** Until the window starts again. */
  msBeforeNext: number;
}

export class Limiters {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  readonly redis: Redis | undefined;
  private readonly prefix: string;
  private readonly windows: SlidingWindows;

  constructor(store: LimitsConfig['store']) {
    if (store.driver === 'redis') {
      this.redis = new Redis(store.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: false });
      // Errors surface as rejected commands (and the memory insurance takes over); the client reconnects on its own.
      this.redis.on('error', () => undefined);
      this.prefix = store.keyPrefix;
    } else this.prefix = 'ficus';
    this.windows = new SlidingWindows(this.redis, this.prefix);
  }

  /** Admits one event of `key` when fewer than `limit` were admitted in the last `windowMs` (a rolling window). */
  slide(key: string, limit: number, windowMs: number): Promise<Admission> {
    return this.windows.admit(key, limit, windowMs);
  }

  /** Waits (up to `timeoutMs`) for Redis to be connected; until then the memory insurance counts. True when connected. */
  async ready(timeoutMs = 2_000): Promise<boolean> {
    const redis = this.redis;
    if (!redis) return true;
    if (redis.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(t);
        redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      redis.on('ready', onReady);
    });
  }

  private limiter(points: number, windowMs: number): RateLimiterAbstract {
    const id = `${points}/${windowMs}`;
    let l = this.limiters.get(id);
    if (!l) {
      const duration = Math.max(1, Math.round(windowMs / 1000));
      const keyPrefix = `${this.prefix}:rl:${id}`;
      const memory = new RateLimiterMemory({ points, duration, keyPrefix });
      l = this.redis ? new RateLimiterRedis({ storeClient: this.redis, points, duration, keyPrefix, insuranceLimiter: memory, rejectIfRedisNotReady: true }) : memory;
      this.limiters.set(id, l);
    }
    return l;
  }

  /** Takes one point of `key` under a limit of `points` per `windowMs`. */
  async take(key: string, points: number, windowMs: number): Promise<Taken> {
    try {
      const r = await this.limiter(points, windowMs).consume(key, 1);
      return { allowed: true, remaining: r.remainingPoints, msBeforeNext: r.msBeforeNext };
    } catch (err) {
      if (err instanceof RateLimiterRes) return { allowed: false, remaining: 0, msBeforeNext: err.msBeforeNext };
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.redis) this.redis.disconnect();
  }
}
