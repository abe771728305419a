/**
 * How a switch made on one instance reaches the others. PostgreSQL: each instance LISTENs on one
 * channel and the switch's transaction NOTIFYs it (delivered at commit, typically within
 * milliseconds); a slow poll re-reads every route's state as a safety net for notifications lost
 * while the listening connection was down. SQLite (one file, possibly shared by processes on one
 * machine): polling only. `onChange(operationId)` is called for a notified route, `onChange()` to
 * re-read all. The channel is the route states' unless given (the cache's settings use one of their own).
 */
import type pg from 'pg';
import type { Logger } from '../observability/logger.ts';
import type { SqlStore } from '../state/sql-store.ts';
import { NOTIFY_CHANNEL } from './control-store.ts';

export class StatePropagation {
  private client: pg.PoolClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: SqlStore,
    private readonly pollMs: number,
    private readonly logger: Logger,
    private readonly onChange: (operationId?: string) => void,
    private readonly channel: string = NOTIFY_CHANNEL,
  ) {}

  /** How propagation works here, for the banner and the admin API. */
  get method(): string {
    return this.store.pgPool ? `PostgreSQL LISTEN/NOTIFY (poll every ${this.pollMs} ms as a safety net)` : `polling every ${this.pollMs} ms`;
  }

  async start(): Promise<void> {
    if (this.store.pgPool) await this.listen();
    this.timer = setInterval(() => this.onChange(), this.pollMs);
    this.timer.unref();
  }

  private async listen(): Promise<void> {
    const pool = this.store.pgPool;
    if (!pool || this.closed) return;
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      const c = client;
      client.on('notification', (msg) => {
        if (msg.channel === this.channel) this.onChange(msg.payload || undefined);
      });
      client.on('error', (err) => {
        this.logger.warn({ error: err.message }, 'the route-state listener lost its connection; reconnecting');
        this.drop(c, err);
      });
      await client.query(`LISTEN ${this.channel}`);
      this.client = client;
      this.onChange(); // catch up on anything missed while not listening
    } catch (err) {
      this.logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'cannot listen for route-state changes; retrying in 1 s (polling meanwhile)');
      // A client that failed its LISTEN (a query timeout, say) goes back broken, not kept for ever.
      if (client) this.drop(client, err instanceof Error ? err : new Error(String(err)));
      else this.scheduleReconnect();
    }
  }

  private readonly dropped = new WeakSet<pg.PoolClient>();

  private drop(client: pg.PoolClient, err: Error): void {
    if (this.client === client) this.client = undefined;
    // Once only: the 'error' event and the failed LISTEN may both report one broken connection, and
    // an error may still come after close() gave the connection back.
    if (!this.dropped.has(client)) {
      this.dropped.add(client);
      client.release(err);
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnect) return;
    this.reconnect = setTimeout(() => {
      this.reconnect = undefined;
      void this.listen();
    }, 1_000);
    this.reconnect.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.reconnect) clearTimeout(this.reconnect);
    const client = this.client;
    this.client = undefined;
    if (client && !this.dropped.has(client)) {
      // Given back once: its 'error' listener stays (a late error must not go unheard) but finds it dropped.
      this.dropped.add(client);
      await client.query(`UNLISTEN ${this.channel}`).catch(() => undefined);
      client.release();
    }
  }
}
