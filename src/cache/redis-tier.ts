/**
 * The cache shared by instances, in Redis: entries (`<prefix>e:<op>:<key>`, expiring when they can no
 * longer be served even stale), a set of keys per tag and operation (`<prefix>t:<op>:<tag>`), when each
 * tag was last invalidated (`<prefix>i:<op>:<tag>`, kept a few minutes: an answer fetched before a write
 * is never stored in Redis after it, whichever instance fetched it), and two channels:
 * `<prefix>invalidations`, on which every instance hears every invalidation and drops its memory
 * copies, and `<prefix>answers`, on which the instance that called the backend for a read coalesced
 * across instances (`coalesce: cluster`) gives its answer to the others waiting (cluster-flight.ts; its
 * lock is `<prefix>l:<id>`, its answer also kept under `<prefix>a:<id>:<token>` for as long as the lock).
 *
 * Redis is never in the way: a command that fails or takes longer than its timeout is skipped (the
 * backend and memory serve), the outage is logged once a minute and /readyz says so. After an outage of
 * either connection an instance drops its memory entries, since it may have missed invalidations, and
 * sends the invalidations it made meanwhile (the latest 10,000), so that the others and Redis hear them.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.ts';
import type { CacheEntry } from './cache-entry.ts';

export interface InvalidationMessage {
  operationId: string;
  /** Undefined: every entry of the operation. */
  tag?: string;
  /** The instance that sent it (it has dropped its own copies already). */
  origin: string;
  at: number;
}

/** A leader's answer to the instances waiting for it (cluster-flight.ts), as JSON text. */
export interface AnswerMessage {
  id: string;
  token: string;
  outcome: string;
}

/** What `lock` found: this instance holds the lock now, or another holder (its token) for `pttl` ms more. */
export type LockResult = { acquired: true } | { acquired: false; holder: string; pttl: number };

const LOG_EVERY_MS = 60_000;
const ALL = '*';
/** How long an invalidation's time is kept in Redis: longer than any backend call that could store an answer fetched before it. */
const MARK_MS = 10 * 60_000;
/** Invalidations made while Redis was unreachable, sent when it is back. */
const PENDING_MAX = 10_000;

/** Stores an entry unless one of its tags was invalidated after the call began; tag sets only ever live longer. */
const STORE_SCRIPT = `
local n = (#KEYS - 1) / 2
for i = 1, n do
  local at = redis.call('GET', KEYS[1 + n + i])
  if at and tonumber(at) >= tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 1, n do
  redis.call('SADD', KEYS[1 + i], KEYS[1])
  if redis.call('PTTL', KEYS[1 + i]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1 + i], ARGV[2]) end
end
return 1`;

/** Takes the lock (returns {1}) or says who holds it and for how long ({0, holder, pttl}). */
const LOCK_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}`;

/** Keeps the answer for late followers, gives the lock back if still ours, and tells the waiting instances. */
const RELEASE_SCRIPT = `
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', KEYS[3], ARGV[4])
return 1`;

export class RedisTier {
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private readonly answers: string;
  private up = false;
  private listening = false;
  private lastError: string | undefined = 'not connected yet';
  private lastLoggedAt = 0;
  private wasDown = false;
  private subscriberWasDown = false;
  private probe: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly pending = new Map<string, { operationId: string; tag: string | undefined; at: number }>();

  constructor(
    private readonly opts: { url: string; keyPrefix: string; commandTimeoutMs: number; origin: string; logger: Logger },
    private readonly handlers: { invalidated(m: InvalidationMessage): void; answered(m: AnswerMessage): void; reconnected(): void },
  ) {
    const common = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      retryStrategy: (times: number) => Math.min(250 * times, 1_000),
      lazyConnect: true,
    };
    this.channel = `${opts.keyPrefix}invalidations`;
    this.answers = `${opts.keyPrefix}answers`;
    this.client = new Redis(opts.url, { ...common, commandTimeout: opts.commandTimeoutMs });
    this.subscriber = new Redis(opts.url, { ...common, enableOfflineQueue: true });
    this.client.on('ready', () => this.becameUp());
    this.client.on('error', (err: Error) => this.failed(err));
    this.client.on('end', () => this.failed(new Error('connection closed')));
    this.client.on('close', () => {
      if (this.up) this.failed(new Error('connection lost'));
    });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('close', () => {
      this.listening = false;
      this.subscriberWasDown = true;
    });
    // Subscribed on every 'ready' (ioredis's own resubscription goes first; this one answers once Redis
    // has taken both): only then is the instance listening, and after a loss its memory is dropped.
    this.subscriber.on('ready', () => {
      this.subscriber
        .subscribe(this.channel, this.answers)
        .then(() => {
          this.listening = true;
          if (this.subscriberWasDown) {
            this.subscriberWasDown = false;
            this.opts.logger.warn({ redis: this.opts.url }, 'cache: listening for invalidations again; memory entries dropped (invalidations may have been missed)');
            this.handlers.reconnected();
          }
        })
        .catch(() => undefined);
    });
    this.subscriber.on('message', (channel: string, text: string) => {
      try {
        if (channel === this.channel) {
          const m = JSON.parse(text) as InvalidationMessage;
          if (m.origin !== this.opts.origin) this.handlers.invalidated(m);
        } else if (channel === this.answers) {
          this.handlers.answered(JSON.parse(text) as AnswerMessage);
        }
      } catch {
        // not ours
      }
    });
  }

  /** Connects in the background: the gateway starts and serves whether Redis is there or not. */
  start(): void {
    this.client.connect().catch((err: unknown) => this.failed(err));
    this.subscriber.connect().catch(() => undefined);
  }

  /** Commands go to Redis now. */
  get isUp(): boolean {
    return this.up;
  }

  get status(): { ok: boolean; detail?: string } {
    if (!this.up) return { ok: false, detail: `Redis ${this.opts.url} unreachable (${this.lastError ?? 'down'}): serving from the backends and memory` };
    if (!this.listening) return { ok: false, detail: `Redis ${this.opts.url}: not yet listening for invalidations` };
    return { ok: true };
  }

  private becameUp(): void {
    const was = this.wasDown;
    this.up = true;
    this.lastError = undefined;
    if (was) {
      this.opts.logger.warn({ redis: this.opts.url }, 'cache: Redis is reachable again; memory entries dropped (invalidations may have been missed)');
      this.handlers.reconnected();
    }
    this.wasDown = false;
    if (this.pending.size > 0) void this.sendPending();
  }

  private async sendPending(): Promise<void> {
    const list = [...this.pending.values()];
    this.pending.clear();
    for (const p of list) await this.invalidate(p.operationId, p.tag, p.at);
  }

  /**
   * A command failed or timed out on a connection that may still be up (a slow moment, a stalled event
   * loop): Redis is left alone until a PING answers (once a second), then used again. Nothing was missed
   * on the listening connection, so memory is kept; invalidations not sent are sent then.
   */
  private commandFailed(err: unknown): void {
    const wasUp = this.up;
    this.failed(err, false);
    if (!wasUp || this.probe || this.closed) return;
    const look = () => {
      this.probe = setTimeout(() => {
        this.probe = undefined;
        if (this.closed || this.up) return;
        if (this.client.status !== 'ready') return; // the connection itself went: its 'ready' brings Redis back
        this.client.ping().then(
          () => {
            if (this.up || this.closed) return;
            this.up = true;
            this.lastError = undefined;
            this.opts.logger.warn({ redis: this.opts.url }, 'cache: Redis answers again');
            if (this.pending.size > 0) void this.sendPending();
          },
          () => look(),
        );
      }, 1_000);
      this.probe.unref();
    };
    look();
  }

  private failed(err: unknown, connectionLost = true): void {
    const message = err instanceof Error ? err.message || err.name : String(err);
    this.up = false;
    if (connectionLost) this.wasDown = true;
    this.lastError = message;
    const now = Date.now();
    if (now - this.lastLoggedAt >= LOG_EVERY_MS) {
      this.lastLoggedAt = now;
      this.opts.logger.error({ redis: this.opts.url, err: message }, 'cache: Redis is unreachable; serving from the backends and memory (logged once a minute)');
    }
  }

  private entryKey(operationId: string, key: string): string {
    return `${this.opts.keyPrefix}e:${operationId}:${key}`;
  }

  private tagKey(operationId: string, tag: string): string {
    return `${this.opts.keyPrefix}t:${operationId}:${tag}`;
  }

  private markKey(operationId: string, tag: string): string {
    return `${this.opts.keyPrefix}i:${operationId}:${tag}`;
  }

  async get(operationId: string, key: string): Promise<CacheEntry | undefined> {
    if (!this.up) return undefined;
    try {
      const text = await this.client.get(this.entryKey(operationId, key));
      return text === null ? undefined : (JSON.parse(text) as CacheEntry);
    } catch (err) {
      this.commandFailed(err);
      return undefined;
    }
  }

  /** Stores an entry for `keepMs`, unless one of its tags was invalidated (by any instance) since `startedAt`. */
  async set(operationId: string, key: string, entry: CacheEntry, keepMs: number, startedAt: number): Promise<void> {
    if (!this.up) return;
    const ek = this.entryKey(operationId, key);
    const ttl = Math.max(1, Math.ceil(keepMs));
    const tags = [ALL, ...entry.tags];
    try {
      await this.client.eval(
        STORE_SCRIPT,
        1 + 2 * tags.length,
        ek,
        ...tags.map((t) => this.tagKey(operationId, t)),
        ...tags.map((t) => this.markKey(operationId, t)),
        JSON.stringify(entry),
        ttl,
        startedAt,
      );
    } catch (err) {
      this.commandFailed(err);
    }
  }

  /** Drops the shared entries with `tag` (every entry without one), notes when, and tells every instance. */
  async invalidate(operationId: string, tag: string | undefined, at: number): Promise<void> {
    if (!this.up) {
      this.keepPending(operationId, tag, at);
      return;
    }
    const tk = this.tagKey(operationId, tag ?? ALL);
    try {
      const keys = await this.client.smembers(tk);
      const multi = this.client.multi();
      multi.set(this.markKey(operationId, tag ?? ALL), at, 'PX', MARK_MS);
      if (keys.length > 0) multi.del(...keys);
      multi.del(tk);
      multi.publish(this.channel, JSON.stringify({ operationId, tag, origin: this.opts.origin, at } satisfies InvalidationMessage));
      await multi.exec();
    } catch (err) {
      this.commandFailed(err);
      this.keepPending(operationId, tag, at);
    }
  }

  private keepPending(operationId: string, tag: string | undefined, at: number): void {
    const k = `${operationId}|${tag ?? ALL}`;
    this.pending.delete(k);
    this.pending.set(k, { operationId, tag, at });
    if (this.pending.size > PENDING_MAX) this.pending.delete(this.pending.keys().next().value as string);
  }

  private lockKey(id: string): string {
    return `${this.opts.keyPrefix}l:${id}`;
  }

  private answerKey(id: string, token: string): string {
    return `${this.opts.keyPrefix}a:${id}:${token}`;
  }

  /** SET NX PX of a read's lock; undefined when Redis cannot say. */
  async lock(id: string, token: string, ms: number): Promise<LockResult | undefined> {
    if (!this.up) return undefined;
    try {
      const r = (await this.client.eval(LOCK_SCRIPT, 1, this.lockKey(id), token, Math.max(1, Math.ceil(ms)))) as [number, string?, number?];
      return r[0] === 1 ? { acquired: true } : { acquired: false, holder: String(r[1] ?? ''), pttl: Number(r[2] ?? -2) };
    } catch (err) {
      this.commandFailed(err);
      return undefined;
    }
  }

  /** Who holds a read's lock now ('' nobody); undefined when Redis cannot say. */
  async lockHolder(id: string): Promise<string | undefined> {
    if (!this.up) return undefined;
    try {
      return (await this.client.get(this.lockKey(id))) ?? '';
    } catch (err) {
      this.commandFailed(err);
      return undefined;
    }
  }

  /** The answer a leader left (its token), if it finished within the last `keepMs`. */
  async answerOf(id: string, token: string): Promise<string | undefined> {
    if (!this.up) return undefined;
    try {
      return (await this.client.get(this.answerKey(id, token))) ?? undefined;
    } catch (err) {
      this.commandFailed(err);
      return undefined;
    }
  }

  /** The leader's answer: kept for late followers for `keepMs`, the lock given back, the waiting instances told. */
  async release(id: string, token: string, outcome: string, keepMs: number): Promise<void> {
    if (!this.up) return;
    try {
      const message = JSON.stringify({ id, token, outcome } satisfies AnswerMessage);
      await this.client.eval(RELEASE_SCRIPT, 3, this.lockKey(id), this.answerKey(id, token), this.answers, token, outcome, Math.max(1, Math.ceil(keepMs)), message);
    } catch (err) {
      this.commandFailed(err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probe) clearTimeout(this.probe);
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}
