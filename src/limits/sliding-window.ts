/**
 * A sliding log: at most `limit` admissions in any `windowMs` (not per clock second), shared by every
 * instance through Redis (one sorted set per key, trimmed and counted in one Lua script on Redis's own
 * clock, so instances with skewed clocks still count together), or in memory for one instance (and as
 * the insurance while Redis does not answer, as the rate limiters do). The legacy ceiling uses it: a
 * count per clock second let a second's late calls and the next second's early ones reach the legacy
 * system in the same second (up to twice the ceiling), which a rolling window does not.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface Admission {
  allowed: boolean;
  /** When refused: until the oldest admission leaves the window (a place frees up). */
  msBeforeNext: number;
}

const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], win)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + win - now}
`;

export class SlidingWindows {
  private readonly memory = new Map<string, number[]>();

  constructor(
    private readonly redis: Redis | undefined,
    private readonly prefix: string,
  ) {}

  /** Admits one event under `key`, or says how long until a place frees up. */
  async admit(key: string, limit: number, windowMs: number): Promise<Admission> {
    if (this.redis) {
      try {
        const [ok, wait] = (await this.redis.eval(SCRIPT, 1, `${this.prefix}:sw:${key}`, windowMs, limit, randomUUID())) as [number, number];
        return { allowed: ok === 1, msBeforeNext: Math.max(1, Number(wait)) };
      } catch {
        // Redis does not answer: this instance counts alone until it does.
      }
    }
    return this.admitInMemory(key, limit, windowMs);
  }

  private admitInMemory(key: string, limit: number, windowMs: number): Admission {
    const now = Date.now();
    const log = (this.memory.get(key) ?? []).filter((t) => t > now - windowMs);
    this.memory.set(key, log);
    if (log.length < limit) {
      log.push(now);
      return { allowed: true, msBeforeNext: 0 };
    }
    return { allowed: false, msBeforeNext: Math.max(1, log[0] + windowMs - now) };
  }
}
