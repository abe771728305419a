/**
 * A db change feed: reads the rows changed since the watermark (keyset on the version columns and the
 * key, in pages), maps each with the mapping of the contract operation it names (the same mapping the
 * gateway serves that operation with), and commits the events, the rows' hashes and the new
 * watermark in one state-store transaction. Nothing is asked of the legacy database but SELECTs.
 *
 * - A row already sent with the same content (same hash) is not sent again: the overlap window reads
 *   recent rows again each poll, so a row stamped in the past by a clock that went backwards is seen.
 * - A row the mapping cannot read is quarantined with the reason; the feed goes on.
 * - The sweep reads every row: a changed hash the version did not show is sent, and a key no longer
 *   there is sent as removed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { AdapterConfig } from '../config/load-config.ts';
import { createDriver } from '../kinds/db/db-kind.ts';
import type { DbBinding, DbConnection } from '../kinds/db/db-config.ts';
import { DIALECTS, keysetAfter, type Dialect, type SortKey } from '../kinds/db/dialects.ts';
import type { DbDriver } from '../kinds/db/drivers/driver.ts';
import type { SqlValue } from '../kinds/db/request-params.ts';
import { columnValue, compileMapping, RowMappingError, type Row } from '../kinds/db/row-mapping.ts';
import { checkSingleRead, parseNamed } from '../kinds/db/sql-text.ts';
import type { Logger } from '../observability/logger.ts';
import { cloudEvent, eventId, hashOf, type CloudEvent } from './cloud-event.ts';
import type { EventStore, QuarantinedRow, RowChange } from './event-store.ts';
import type { ChangeFeed, FeedStats } from './change-feed.ts';
import type { DbFeedConfig } from './feed-config.ts';
import { PollLoop } from './poll-loop.ts';

type Finisher = (mapped: Record<string, unknown>, row: Row) => unknown;
type Position = SqlValue[];

export type { FeedStats } from './change-feed.ts';

export interface DbFeedOptions {
  name: string;
  adapter: AdapterConfig;
  config: DbFeedConfig;
  events: EventStore;
  source: string;
  logger: Logger;
  /** Told after each commit that queued events (the events committed). */
  onEvents?: (n: number, events: readonly CloudEvent[]) => void;
  /** A driver made elsewhere (tests); default one of its own from the adapter's connection. */
  driver?: DbDriver;
}

function scalar(v: unknown): SqlValue {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || v === null) return v;
  return String(v);
}

/** A yyyymmdd and an hhmmss number moved back by `ms`. */
export function stampMinus(date: number, time: number, ms: number): [number, number] {
  const y = Math.floor(date / 10000);
  const mo = Math.floor(date / 100) % 100;
  const d = date % 100;
  const h = Math.floor(time / 10000);
  const mi = Math.floor(time / 100) % 100;
  const s = time % 100;
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s) - ms);
  return [t.getUTCFullYear() * 10000 + (t.getUTCMonth() + 1) * 100 + t.getUTCDate(), t.getUTCHours() * 10000 + t.getUTCMinutes() * 100 + t.getUTCSeconds()];
}

export class DbChangeFeed implements ChangeFeed {
  readonly name: string;
  private driver: DbDriver | undefined;
  private readonly dialect: Dialect;
  private readonly select: string;
  private readonly order: SortKey[];
  private readonly mapRow: (row: Row) => unknown;
  private readonly type: string;
  private readonly deletedType: string;
  private readonly loop = new PollLoop(
    () => this.poll(),
    () => this.opts.config.pollInterval,
    (err: unknown) => this.opts.logger.warn({ feed: this.name, error: (err as Error).message }, 'change feed: a poll failed; trying again at the next'),
  );
  private abort = new AbortController();
  /** Rows read, events queued and rows quarantined since start. */
  readonly stats: FeedStats = { events: 0, quarantined: 0, rows: 0, heldBack: 0 };

  private constructor(
    private readonly opts: DbFeedOptions,
    mapRow: (row: Row) => unknown,
    select: string,
  ) {
    const conn = opts.adapter.connection as DbConnection;
    this.name = opts.name;
    this.dialect = DIALECTS[conn.driver];
    this.driver = opts.driver;
    this.select = select;
    this.mapRow = mapRow;
    this.order = [...opts.config.version, opts.config.key].map((column) => ({ column, descending: false }));
    this.type = opts.config.type;
    this.deletedType = opts.config.deletedType ?? opts.config.type.replace(/\.[^.]+$/, '.deleted');
  }

  /** Reads the feed's SQL and the named operation's mapping (checked by the feature's config check). */
  static async create(opts: DbFeedOptions): Promise<DbChangeFeed> {
    const a = opts.adapter;
    const binding = a.bindings.find((b) => b.operationId === opts.config.operation)?.binding as DbBinding | undefined;
    if (!binding) throw new Error(`${a.file}: changes.${opts.name}.operation: ${opts.config.operation} is not served by ${a.name}`);
    const sqlPath = isAbsolute(opts.config.sql) ? opts.config.sql : join(a.dir, opts.config.sql);
    const select = checkSingleRead(readFileSync(sqlPath, 'utf8'));
    const spec: unknown = typeof binding.map === 'string' ? parseYaml(readFileSync(join(a.dir, binding.map), 'utf8')) : binding.map;
    const mapper = compileMapping(spec);
    let finisher: Finisher | undefined;
    if (binding.mapper) {
      const path = isAbsolute(binding.mapper) ? binding.mapper : join(a.dir, binding.mapper);
      if (existsSync(path)) finisher = ((await import(pathToFileURL(path).href)) as { default: Finisher }).default;
    }
    const mapRow = (row: Row) => {
      const mapped = mapper.map(row);
      return finisher ? finisher(mapped, row) : mapped;
    };
    return new DbChangeFeed(opts, mapRow, select);
  }

  private async db(): Promise<DbDriver> {
    this.driver ??= await createDriver(this.opts.adapter.connection as DbConnection, `${this.opts.adapter.name}-changes`, this.opts.adapter.dir);
    return this.driver;
  }

  start(): void {
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop(() => this.abort.abort(new Error('the change feed is stopping')));
    if (!this.opts.driver) {
      // Closed, and opened again by the next poll if the feed starts again (a cluster's singletons may move back here).
      const driver = this.driver;
      this.driver = undefined;
      await driver?.close().catch(() => undefined);
    }
  }

  private keyOf(row: Row): string {
    const v = columnValue(row, this.opts.config.key);
    return (typeof v === 'string' ? v.trim() : String(v)).trim();
  }

  private positionOf(row: Row): Position {
    return this.order.map((k) => scalar(columnValue(row, k.column)));
  }

  private versionOf(row: Row): string {
    const cols = this.opts.config.version;
    let v = String(scalar(columnValue(row, cols[0])));
    for (let i = 1; i < cols.length; i++) v += `-${String(scalar(columnValue(row, cols[i])))}`;
    return v;
  }

  /** Statement for a page: after a position, at or after a version, or from the start; sorted by version then key. */
  private statement(from: { after: Position } | { atOrAfter: SqlValue[] } | undefined, limit: number): { text: string; values: SqlValue[] } {
    let where = '';
    const named: Record<string, SqlValue> = { ficus_limit: limit };
    if (from && 'after' in from) {
      // The first column's bound again, on its own: lets every engine seek its index instead of scanning from the start.
      where = ` WHERE ${this.order[0].column} >= :ficus_after_0 AND ${keysetAfter(this.order)}`;
      from.after.forEach((v, i) => (named[`ficus_after_${i}`] = v));
    } else if (from) {
      const cols = this.opts.config.version;
      where = cols.length === 1 ? ` WHERE ${cols[0]} >= :ficus_lo_0` : ` WHERE (${cols[0]} > :ficus_lo_0 OR (${cols[0]} = :ficus_lo_0 AND ${cols[1]} >= :ficus_lo_1))`;
      from.atOrAfter.forEach((v, i) => (named[`ficus_lo_${i}`] = v));
    }
    const compiled = this.dialect.compile(parseNamed(`SELECT * FROM (\n${this.select}\n) ficus_feed${where} ${this.dialect.pageTail(this.order, false)}`));
    return { text: compiled.text, values: compiled.order.map((n) => named[n]) };
  }

  /** The version `overlap` before a position's version. */
  private lowOf(pos: Position): SqlValue[] {
    const c = this.opts.config;
    if (c.versionAs === 'yyyymmdd-hhmmss') return stampMinus(Number(pos[0]), Number(pos[1]), c.overlap);
    return [Number(pos[0]) - c.overlap / 1000];
  }

  /**
   * One poll: every page after the watermark (from `overlap` before it), until a short page.
   * Returns the number of events queued.
   */
  async poll(): Promise<number> {
    const { events, config } = this.opts;
    const mark = await events.watermark(this.name);
    if (mark === undefined && config.start === 'now') {
      await this.baseline();
      return 0;
    }
    let position: Position | undefined = mark ? ((JSON.parse(mark) as { after: Position }).after ?? undefined) : undefined;
    let from: { after: Position } | { atOrAfter: SqlValue[] } | undefined = position ? (config.overlap > 0 ? { atOrAfter: this.lowOf(position) } : { after: position }) : undefined;
    let queued = 0;
    let held = false;
    for (let page = 0; ; page++) {
      // Other work (delivery, requests) runs between pages: a SQLite legacy and state store answer without I/O.
      if (page > 0) await yieldToLoop();
      if (this.abort.signal.aborted) break;
      // Backpressure: the next page waits until delivery has caught up (the next poll looks again).
      if (config.maxBacklog > 0 && (await events.backlog(this.name, config.maxBacklog)) >= config.maxBacklog) {
        held = true;
        this.stats.heldBack++;
        break;
      }
      const st = this.statement(from, config.batchSize);
      const rows = await (await this.db()).query(st.text, st.values, { signal: this.abort.signal });
      if (rows.length === 0) break;
      const last = this.positionOf(rows[rows.length - 1]);
      // The watermark only moves forward (the overlap reads rows behind it again).
      const ahead = position === undefined || compare(last, position) > 0;
      queued += await this.send(rows, { watermark: ahead ? JSON.stringify({ after: last }) : undefined, compareHash: true });
      if (ahead) position = last;
      if (rows.length < config.batchSize) break;
      from = { after: last };
    }
    if (!held && config.sweep !== undefined && Date.now() - (await events.lastSweep(this.name)) >= config.sweep) queued += await this.sweep();
    return queued;
  }

  /** Maps rows, sends those whose content changed (or all, `compareHash: false`), commits with the watermark. */
  private async send(rows: readonly Row[], o: { watermark?: string; markAs?: string; compareHash: boolean; onlySubscription?: string; sweptAt?: number }): Promise<number> {
    const { events, source } = { events: this.opts.events, source: this.opts.source };
    const mapped: (RowChange & { data: unknown })[] = [];
    const quarantined: QuarantinedRow[] = [];
    for (const row of rows) {
      const key = this.keyOf(row);
      const version = this.versionOf(row);
      try {
        const data = this.mapRow(row);
        mapped.push({ key, version, data, hash: hashOf(data) });
      } catch (err) {
        const reason = err instanceof RowMappingError ? `field ${err.field || '(row)'}: ${err.message}` : `the mapper failed: ${(err as Error).message}`;
        quarantined.push({ feed: this.name, key, version, reason, row: Object.fromEntries(Object.entries(row).map(([k, v]) => [k, scalar(v)])), at: Date.now() });
      }
    }
    const stored = o.compareHash ? await events.hashes(this.name, [...new Set(mapped.map((m) => m.key))]) : new Map<string, string>();
    const out: CloudEvent[] = [];
    const changed: RowChange[] = [];
    // One time for the page's events: read together.
    const time = new Date().toISOString();
    for (const m of mapped) {
      if (o.compareHash && stored.get(m.key) === m.hash) continue;
      stored.set(m.key, m.hash);
      changed.push(m);
      out.push(cloudEvent({ id: eventId(this.name, m.key, m.version, m.hash), source, type: this.type, subject: m.key, data: m.data, feed: this.name, time }));
    }
    await events.commit(this.name, { events: out, rows: changed, quarantined, watermark: o.watermark, markAs: o.markAs, sweptAt: o.sweptAt }, o.onlySubscription);
    this.stats.rows += rows.length;
    this.stats.events += out.length;
    this.stats.quarantined += quarantined.length;
    if (quarantined.length > 0)
      this.opts.logger.warn({ feed: this.name, rows: quarantined.map((q) => ({ key: q.key, reason: q.reason })) }, 'change feed: rows the mapping cannot read were quarantined');
    if (out.length > 0) this.opts.onEvents?.(out.length, out);
    return out.length;
  }

  /** Every row in version order, a page at a time. */
  private async *allRows(): AsyncGenerator<Row[]> {
    let from: { after: Position } | undefined;
    for (;;) {
      const st = this.statement(from, this.opts.config.batchSize);
      const rows = await (await this.db()).query(st.text, st.values, { signal: this.abort.signal });
      if (rows.length > 0) yield rows;
      if (rows.length < this.opts.config.batchSize) return;
      from = { after: this.positionOf(rows[rows.length - 1]) };
    }
  }

  /** First start with `start: now`: the current rows' hashes are the baseline, the watermark the newest; nothing is sent. */
  private async baseline(): Promise<void> {
    let last: Position | undefined;
    for await (const rows of this.allRows()) {
      const changes: RowChange[] = [];
      for (const row of rows) {
        try {
          changes.push({ key: this.keyOf(row), version: this.versionOf(row), hash: hashOf(this.mapRow(row)) });
        } catch {
          // quarantined when it changes next
        }
      }
      last = this.positionOf(rows[rows.length - 1]);
      await this.opts.events.commit(this.name, { events: [], rows: changes });
    }
    // Every row was just read: that counts as a sweep.
    await this.opts.events.commit(this.name, { events: [], rows: [], watermark: JSON.stringify({ after: last ?? null }), sweptAt: Date.now() });
    this.opts.logger.info({ feed: this.name }, 'change feed: baseline taken; changes from now on are sent');
  }

  /** Reads every row: sends those whose hash changed without the version showing it, and the keys gone. */
  async sweep(): Promise<number> {
    const seen = new Set<string>();
    let queued = 0;
    const startedAt = Date.now();
    for await (const rows of this.allRows()) {
      for (const r of rows) seen.add(this.keyOf(r));
      queued += await this.send(rows, { compareHash: true });
    }
    const removed: string[] = [];
    const out: CloudEvent[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.opts.events.keysAfter(this.name, after, 1000);
      for (const k of page) {
        if (seen.has(k.key)) continue;
        removed.push(k.key);
        out.push(cloudEvent({ id: eventId(this.name, k.key, 'deleted', k.hash), source: this.opts.source, type: this.deletedType, subject: k.key, data: null, feed: this.name }));
      }
      if (page.length < 1000) break;
      after = page[page.length - 1].key;
    }
    await this.opts.events.commit(this.name, { events: out, rows: [], removed, sweptAt: startedAt });
    if (out.length > 0) this.opts.onEvents?.(out.length, out);
    this.stats.events += out.length;
    return queued + out.length;
  }

  /**
   * Sends every current row (to one subscription, or all), resumable: the position is kept under
   * `backfill:<feed>:<subscription>`. `perSecond` bounds the rows read a second.
   */
  async backfill(opts: { subscription?: string; perSecond?: number; restart?: boolean }): Promise<number> {
    const markName = `backfill:${this.name}:${opts.subscription ?? '*'}`;
    const mark = opts.restart ? undefined : await this.opts.events.watermark(markName);
    let from: { after: Position } | undefined = mark ? (JSON.parse(mark) as { after: Position }) : undefined;
    if (mark && (JSON.parse(mark) as { done?: boolean }).done) return 0;
    let sent = 0;
    const batch = Math.min(this.opts.config.batchSize, opts.perSecond ? Math.max(1, Math.floor(opts.perSecond)) : Infinity);
    for (;;) {
      const started = performance.now();
      const st = this.statement(from, batch);
      const rows = await (await this.db()).query(st.text, st.values, { signal: this.abort.signal });
      if (rows.length === 0) break;
      const last = this.positionOf(rows[rows.length - 1]);
      // The page's events and the backfill's position in one transaction: a restart goes on from here.
      sent += await this.send(rows, { compareHash: false, onlySubscription: opts.subscription, watermark: JSON.stringify({ after: last }), markAs: markName });
      if (rows.length < batch) break;
      from = { after: last };
      if (opts.perSecond) {
        const wait = (rows.length / opts.perSecond) * 1000 - (performance.now() - started);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
    await this.opts.events.commit(markName, { events: [], rows: [], watermark: JSON.stringify({ done: true }) });
    return sent;
  }

  close(): Promise<void> {
    return this.stop();
  }
}

function compare(a: Position, b: Position): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    const sx = String(x);
    const sy = String(y);
    if (/^-?\d+$/.test(sx) && /^-?\d+$/.test(sy)) {
      const bx = BigInt(sx);
      const by = BigInt(sy);
      if (bx !== by) return bx < by ? -1 : 1;
      continue;
    }
    if (sx !== sy) return sx < sy ? -1 : 1;
  }
  return 0;
}
