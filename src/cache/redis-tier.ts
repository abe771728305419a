/**
 * The cache shared by instances, in Redis: entries (`<prefix>e:<op>:<key>`, expiring when they can no
 * longer be served even stale), a set of keys per tag and operation (`<prefix>t:<op>:<tag>`), and a
 * channel (`<prefix>invalidations`) on which every instance hears every invalidation and drops its
 * memory copies. Redis is never in the way: a command that fails or takes longer than its timeout is
 * skipped (the backend and memory serve), the outage is logged once a minute and /readyz says so.
 * After an outage an instance drops its memory entries, since it may have missed invalidations.
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

const LOG_EVERY_MS = 60_000;
const ALL = '*';

export class RedisTier {
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private up = false;
  private lastError: string | undefined = 'not connected yet';
  private lastLoggedAt = 0;
  private wasDown = false;

  constructor(
    private readonly opts: { url: string; keyPrefix: string; commandTimeoutMs: number; origin: string; logger: Logger },
    private readonly handlers: { invalidated(m: InvalidationMessage): void; reconnected(): void },
  ) {
    const common = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      retryStrategy: (times: number) => Math.min(250 * times, 1_000),
      lazyConnect: true,
    };
    this.channel = `${opts.keyPrefix}invalidations`;
    this.client = new Redis(opts.url, { ...common, commandTimeout: opts.commandTimeoutMs });
    this.subscriber = new Redis(opts.url, { ...common, enableOfflineQueue: true });
    this.client.on('ready', () => this.becameUp());
    this.client.on('error', (err: Error) => this.failed(err));
    this.client.on('end', () => this.failed(new Error('connection closed')));
    this.client.on('close', () => {
      if (this.up) this.failed(new Error('connection lost'));
    });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      try {
        const m = JSON.parse(text) as InvalidationMessage;
        if (m.origin !== this.opts.origin) this.handlers.invalidated(m);
      } catch {
        // not ours
      }
    });
    // Subscribing again after a reconnect is ioredis's own (autoResubscribe).
  }

  /** Connects in the background: the gateway starts and serves whether Redis is there or not. */
  start(): void {
    this.client.connect().catch((err: unknown) => this.failed(err));
    this.subscriber
      .connect()
      .then(() => this.subscriber.subscribe(this.channel))
      .catch(() => undefined);
  }

  get status(): { ok: boolean; detail?: string } {
    return this.up ? { ok: true } : { ok: false, detail: `Redis ${this.opts.url} unreachable (${this.lastError ?? 'down'}): serving from the backends and memory` };
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
  }

  private failed(err: unknown): void {
    const message = err instanceof Error ? err.message || err.name : String(err);
    this.up = false;
    this.wasDown = true;
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

  async get(operationId: string, key: string): Promise<CacheEntry | undefined> {
    if (!this.up) return undefined;
    try {
      const text = await this.client.get(this.entryKey(operationId, key));
      return text === null ? undefined : (JSON.parse(text) as CacheEntry);
    } catch (err) {
      this.failed(err);
      return undefined;
    }
  }

  async set(operationId: string, key: string, entry: CacheEntry, keepMs: number): Promise<void> {
    if (!this.up) return;
    const ek = this.entryKey(operationId, key);
    const ttl = Math.max(1, Math.ceil(keepMs));
    try {
      const multi = this.client.multi().set(ek, JSON.stringify(entry), 'PX', ttl);
      for (const t of [ALL, ...entry.tags]) multi.sadd(this.tagKey(operationId, t), ek).pexpire(this.tagKey(operationId, t), ttl);
      await multi.exec();
    } catch (err) {
      this.failed(err);
    }
  }

  /** Drops the shared entries with `tag` (every entry without one) and tells every instance. */
  async invalidate(operationId: string, tag: string | undefined, at: number): Promise<void> {
    if (!this.up) return;
    const tk = this.tagKey(operationId, tag ?? ALL);
    try {
      const keys = await this.client.smembers(tk);
      const multi = this.client.multi();
      if (keys.length > 0) multi.del(...keys);
      multi.del(tk);
      multi.publish(this.channel, JSON.stringify({ operationId, tag, origin: this.opts.origin, at } satisfies InvalidationMessage));
      await multi.exec();
    } catch (err) {
      this.failed(err);
    }
  }

  async close(): Promise<void> {
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}
