/**
 * An sftp change feed: each new export file (the newest complete file matching the pattern of the
 * read operation it names) is compared key by key with what the feed last sent, which is the
 * previous file as the feed saw it (each key's hash in the state store): keys not sent before are
 * added, keys whose mapped resource has another hash are changed, keys the new file lacks are removed.
 * Nothing is asked of the mainframe but reads.
 *
 * Within the export reader's memory bound: the file is copied once to a local temporary file (unlinked
 * at once) while it is checked (its trailer's count must agree: a file still being written is left
 * for the next poll), then read again from the copy in batches of `batchSize` records. What the new
 * file holds is kept in an anonymous SQLite database on disk (its keys, for the removals), not in
 * memory; the previous file's hashes are in the state store. Each batch's events, the keys' new
 * hashes and (last) the file as the feed's watermark are committed in one transaction: after a
 * crash the same file is read again, and what was committed is recognised by its hash, so no change
 * is lost or sent twice, and every event has the id it would have had (feed, key, file, hash).
 *
 * A record the layout cannot read is quarantined with its record number, byte offset and reason
 * (and its key, when the key field itself can be read), and the feed goes on. Its key keeps its
 * previous hash: it is neither changed nor removed. When a bad record's key cannot be read, this
 * file's removals are held back (a removal that is not one would be worse than a late one).
 */
import Database from 'better-sqlite3';
import { mkdtemp, open, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type { AdapterConfig } from '../config/load-config.ts';
import { globToRegExp } from '../kinds/sftp/export-reader.ts';
import { toContract, type FieldMap } from '../kinds/sftp/field-map.ts';
import { createSftpPool, type SftpBinding, type SftpConnection } from '../kinds/sftp/sftp-kind.ts';
import type { RemoteFile, SftpPool } from '../kinds/sftp/sftp-pool.ts';
import type { Logger } from '../observability/logger.ts';
import { registerCodePages } from '../records/code-pages.ts';
import { describeProblem, type RecordProblem } from '../records/errors.ts';
import type { FieldItem } from '../records/layout.ts';
import { loadRecordFileSpec, type RecordFileSpec } from '../records/layout-file.ts';
import { makeFieldDecoder, type DecodedRecord } from '../records/record-codec.ts';
import { decodeRecordStream, type FileSummary } from '../records/record-file.ts';
import type { ChangeFeed, FeedStats } from './change-feed.ts';
import { cloudEvent, eventId, hashOf, type CloudEvent } from './cloud-event.ts';
import type { EventStore, QuarantinedRow, RowChange } from './event-store.ts';
import type { SftpFeedConfig } from './feed-config.ts';
import { SpooledCopy } from '../kinds/sftp/spooled-copy.ts';
import { PollLoop } from './poll-loop.ts';

export interface SftpFeedOptions {
  name: string;
  adapter: AdapterConfig;
  config: SftpFeedConfig;
  events: EventStore;
  source: string;
  logger: Logger;
  /** Told after each commit that queued events. */
  onEvents?: (n: number, events: readonly CloudEvent[]) => void;
  /** A pool made elsewhere (tests); default one of its own from the adapter's connection. */
  pool?: SftpPool;
  /** The project root (a relative known_hosts file is found from here). */
  root: string;
  /** Where the local copies are made (default the system's temporary folder). */
  tmpDir?: string;
}

interface FileMark {
  file: string;
  size: number;
  mtimeMs: number;
}

/** A checked local copy of one export file. */
interface LocalCopy {
  file: RemoteFile;
  handle: FileHandle;
  bytes: number;
  /** Bad records of the data type, by record number (at most maxBadRecords + 1 kept). */
  bad: Map<number, RecordProblem>;
}

/** Decoding yields to the event loop when it has held it this long. */
const SLICE_MS = 10;
/** Keys of the state store read per removal page. */
const REMOVAL_PAGE = 1_000;

const sameFile = (m: FileMark | undefined, f: RemoteFile) => m !== undefined && m.file === f.name && m.size === f.size && m.mtimeMs === f.mtimeMs;

export class SftpChangeFeed implements ChangeFeed {
  readonly name: string;
  readonly stats: FeedStats = { events: 0, quarantined: 0, rows: 0, heldBack: 0 };
  private pool: SftpPool | undefined;
  private readonly dir: string;
  private readonly pattern: RegExp;
  private readonly type: string;
  private readonly createdType: string;
  private readonly deletedType: string;
  private readonly maxBytes: number;
  private readonly keyDecoder: ((buf: Buffer, at: number) => unknown) | undefined;
  private readonly keyItem: FieldItem | undefined;
  /** Files refused (incomplete, too many bad records), by name, size and time: not read again until they change. */
  private readonly refused = new Map<string, string>();
  private readonly loop = new PollLoop(
    () => this.poll(),
    () => this.opts.config.pollInterval,
    (err: unknown) => this.opts.logger.warn({ feed: this.name, error: (err as Error).message }, 'change feed: a poll failed; trying again at the next'),
  );
  /** One read of the folder at a time (timer, admin API, backfill). */
  private lock: Promise<unknown> = Promise.resolve();
  private abort = new AbortController();

  private constructor(
    private readonly opts: SftpFeedOptions,
    private readonly spec: RecordFileSpec,
    private readonly record: string,
    private readonly key: string,
    private readonly map: FieldMap,
    read: NonNullable<SftpBinding['read']>,
  ) {
    const conn = opts.adapter.connection as SftpConnection;
    this.name = opts.name;
    this.pool = opts.pool;
    this.dir = read.dir ?? conn.folders.exports;
    this.pattern = globToRegExp(read.pattern);
    this.maxBytes = read.maxFileSize;
    this.type = opts.config.type;
    this.createdType = opts.config.createdType ?? opts.config.type;
    this.deletedType = opts.config.deletedType ?? opts.config.type.replace(/\.[^.]+$/, '.deleted');
    // The key of a record the layout cannot read, read on its own: a top-level field at a fixed place.
    const codec = spec.types.find((t) => t.name === record)!.codec;
    const item = codec.layout.variable ? undefined : codec.layout.items.find((i) => i.name === key);
    if (item && item.kind === 'field' && !item.occurs) {
      this.keyItem = item;
      this.keyDecoder = makeFieldDecoder(item, codec.page, codec.data);
    }
  }

  /** Reads the named read operation's layout and mapping (checked by the feature's config check). */
  static create(opts: SftpFeedOptions): SftpChangeFeed {
    registerCodePages();
    const a = opts.adapter;
    const binding = a.bindings.find((b) => b.operationId === opts.config.operation)?.binding as SftpBinding | undefined;
    const read = binding?.read;
    if (!binding || !read) throw new Error(`${a.file}: changes.${opts.name}.operation: ${opts.config.operation} is not a read operation of ${a.name}`);
    const path = isAbsolute(read.layout) ? read.layout : join(a.dir, read.layout);
    const spec = loadRecordFileSpec(path, {}, `${a.file.replace(/adapter\.yaml$/, '')}${read.layout}`);
    const details = spec.types.filter((t) => t.role === 'detail');
    const record = read.record ?? (details.length === 1 ? details[0].name : undefined);
    if (!record || !spec.types.some((t) => t.name === record)) throw new Error(`${a.file}: ${opts.config.operation}: no record type ${record ?? '(detail)'} in ${read.layout}`);
    return new SftpChangeFeed(opts, spec, record, read.key, binding.map, read);
  }

  private sftp(): SftpPool {
    const a = this.opts.adapter;
    this.pool ??= createSftpPool(a.connection as SftpConnection, this.opts.root, a.file);
    return this.pool;
  }

  start(): void {
    // Started again after a stop (a cluster's singletons may come back here): a signal of its own.
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop(() => this.abort.abort(new Error('the change feed is stopping')));
    await this.lock.catch(() => undefined);
    if (!this.opts.pool) {
      // Closed, and made again by the next poll if the feed starts again (a cluster's singletons may move back here).
      const pool = this.pool;
      this.pool = undefined;
      await pool?.close().catch(() => undefined);
    }
  }

  close(): Promise<void> {
    return this.stop();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.catch(() => undefined).then(fn);
    this.lock = run;
    return run;
  }

  /** Looks for a new export; compares it with the previous one when there is one. Returns the events queued. */
  poll(): Promise<number> {
    return this.exclusive(() => this.compareNewest(false));
  }

  /** Compares the newest export again, even when it was compared already (changes the state lost, a fixed mapping). */
  sweep(): Promise<number> {
    return this.exclusive(() => this.compareNewest(true));
  }

  /** The export files matching the pattern, newest (by name) first. */
  private async candidates(): Promise<RemoteFile[]> {
    const files = await this.sftp().use((s) => s.list(this.dir), { idempotent: true, signal: this.abort.signal });
    return files.filter((f) => this.pattern.test(f.name)).sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  }

  private async mark(): Promise<FileMark | undefined> {
    const text = await this.opts.events.watermark(this.name);
    return text ? (JSON.parse(text) as FileMark) : undefined;
  }

  private async compareNewest(force: boolean): Promise<number> {
    const newest = (await this.candidates())[0];
    if (!newest) return 0;
    const mark = await this.mark();
    if (!force && sameFile(mark, newest)) return 0;
    // The file compared last is gone and older ones are left: never go back to them.
    if (!force && mark && newest.name < mark.file) return 0;
    const copy = await this.localCopy(newest);
    if (!copy) return 0;
    try {
      const baseline = mark === undefined && this.opts.config.start === 'now';
      const queued = await this.compare(copy, { baseline });
      if (baseline) this.opts.logger.info({ feed: this.name, file: newest.name }, 'change feed: baseline taken from the newest export; changes from the next one on are sent');
      return queued;
    } finally {
      await copy.handle.close().catch(() => undefined);
    }
  }

  /**
   * Copies the file to an unlinked local file while checking it: undefined (and logged once) when it
   * is incomplete, broken beyond its data records, too large, or has more bad records than allowed.
   */
  private async localCopy(file: RemoteFile): Promise<LocalCopy | undefined> {
    const id = `${file.name}\0${file.size}\0${file.mtimeMs}`;
    if (this.refused.has(id)) return undefined;
    const refuse = (reason: string) => {
      this.refused.set(id, reason);
      if (this.refused.size > 64) this.refused.delete(this.refused.keys().next().value!);
      this.opts.logger.warn({ feed: this.name, file: file.name, reason }, 'change feed: export file not compared (the next one will be)');
      return undefined;
    };
    if (file.size > this.maxBytes) return refuse(`${file.size} bytes, more than read.maxFileSize`);
    const dir = await mkdtemp(join(this.opts.tmpDir ?? tmpdir(), 'ficus-feed-'));
    const path = join(dir, 'copy');
    const handle = await open(path, 'w+');
    // Unlinked at once: the open handle keeps the data; nothing is left behind, even after a crash.
    await unlink(path);
    await rmdir(dir);
    let keep = false;
    try {
      const checked = await this.sftp().use(
        async (s) => {
          const stream = s.readStream(`${this.dir}/${file.name}`);
          try {
            return await this.check(stream, handle);
          } finally {
            stream.destroy();
          }
        },
        { idempotent: true, signal: this.abort.signal },
      );
      if ('reason' in checked) return refuse(checked.reason);
      keep = true;
      return { file, handle, bytes: checked.bytes, bad: checked.bad };
    } finally {
      if (!keep) await handle.close().catch(() => undefined);
    }
  }

  /** Writes the stream to `handle` while decoding it: the bad data records, or why the file cannot be compared. */
  private async check(stream: Readable, handle: FileHandle): Promise<{ bytes: number; bad: Map<number, RecordProblem> } | { reason: string }> {
    const limit = this.maxBytes;
    const copy = new SpooledCopy(handle, limit, this.abort.signal);
    const summary: FileSummary = { records: 0, good: 0, bad: 0, bytes: 0, complete: false, problems: [] };
    const bad = new Map<number, RecordProblem>();
    const fatal: string[] = [];
    let slice = performance.now();
    for await (const batch of decodeRecordStream(copy.chunks(stream), this.spec, summary)) {
      for (const p of batch.problems) {
        if (this.isBadRecord(p)) {
          if (bad.size <= this.opts.config.maxBadRecords) bad.set(p.recordNo, p);
        } else if (!this.isUncheckedTotal(p) && fatal.length < 5) fatal.push(describeProblem(p));
      }
      if (performance.now() - slice > SLICE_MS) {
        await yieldToEventLoop();
        slice = performance.now();
      }
    }
    if (copy.over) return { reason: `more than read.maxFileSize (${limit} bytes)` };
    const hasTrailer = this.spec.types.some((t) => t.role === 'trailer');
    if (hasTrailer && !summary.trailer) fatal.push('no trailer record (a file still being written?)');
    if (fatal.length > 0) return { reason: fatal.join('; ') };
    if (bad.size > this.opts.config.maxBadRecords)
      return { reason: `more than ${this.opts.config.maxBadRecords} records the layout cannot read (changes.${this.name}.maxBadRecords); the first: ${describeProblem(bad.values().next().value!)}` };
    return { bytes: copy.written, bad };
  }

  /** A data record the layout cannot read (quarantined; the file is still compared). */
  private isBadRecord(p: RecordProblem): boolean {
    return p.recordType === this.record && p.reason !== 'record after the trailer';
  }

  /** The trailer's control totals cannot be checked when a counted record is bad: that follows from the bad record, already quarantined. */
  private isUncheckedTotal(p: RecordProblem): boolean {
    const t = this.spec.types.find((x) => x.name === p.recordType);
    return t?.role === 'trailer' && p.reason.startsWith('control total not checked');
  }

  /** The local copy's bytes, in chunks. */
  private async *chunks(copy: LocalCopy): AsyncGenerator<Buffer> {
    for (let pos = 0; pos < copy.bytes;) {
      if (this.abort.signal.aborted) throw this.abort.signal.reason;
      const buf = Buffer.allocUnsafe(Math.min(256 * 1024, copy.bytes - pos));
      const { bytesRead } = await copy.handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) throw new Error(`the local copy of ${copy.file.name} is short (${pos} of ${copy.bytes} bytes)`);
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  }

  /** The key of a bad record, read on its own from the local copy, when its place is known. */
  private async keyOfBad(copy: LocalCopy, p: RecordProblem): Promise<string | undefined> {
    if (!this.keyDecoder || !this.keyItem) return undefined;
    let start: number | undefined;
    if (this.spec.delimiter === 'none') start = (p.recordNo - 1) * this.spec.recordLength;
    else if (p.field === undefined) start = p.offset;
    if (start === undefined) return undefined;
    try {
      const buf = Buffer.alloc(this.keyItem.size);
      const { bytesRead } = await copy.handle.read(buf, 0, buf.length, start + this.keyItem.offset);
      if (bytesRead < buf.length) return undefined;
      const v = this.keyDecoder(buf, 0);
      return v === null || v === undefined || String(v).trim() === '' ? undefined : String(v);
    } catch {
      return undefined;
    }
  }

  /**
   * Every data record of the copy, batch by batch: events for those whose hash differs from the one
   * stored (none for a baseline), then the removals, then the file as the watermark.
   */
  private async compare(copy: LocalCopy, o: { baseline: boolean }): Promise<number> {
    const { events, source } = this.opts;
    const version = copy.file.name;
    // The keys of the new file, on disk: an anonymous SQLite database, deleted when closed.
    const seen = new Database('');
    seen.pragma('cache_size = -4000');
    seen.exec('CREATE TABLE k (key TEXT PRIMARY KEY) WITHOUT ROWID');
    const addSeen = seen.prepare('INSERT OR IGNORE INTO k (key) VALUES (?)');
    const isSeen = seen.prepare('SELECT 1 FROM k WHERE key = ?').pluck();
    const markSeen = seen.transaction((keys: string[]) => {
      for (const k of keys) addSeen.run(k);
    });
    let queued = 0;
    let holdRemovals = false;
    try {
      let pending = new Map<string, DecodedRecord>();
      let quarantined: QuarantinedRow[] = [];
      const flush = async () => {
        if (pending.size === 0 && quarantined.length === 0) return;
        const keys = [...pending.keys()];
        const stored = await events.hashes(this.name, keys);
        const out: CloudEvent[] = [];
        const rows: RowChange[] = [];
        for (const [key, rec] of pending) {
          const data = toContract(rec, this.map);
          const hash = hashOf(data);
          const before = stored.get(key);
          if (before === hash) continue;
          rows.push({ key, hash, version });
          if (!o.baseline) out.push(cloudEvent({ id: eventId(this.name, key, version, hash), source, type: before === undefined ? this.createdType : this.type, subject: key, data, feed: this.name }));
        }
        markSeen(keys);
        await events.commit(this.name, { events: out, rows, quarantined });
        this.stats.rows += pending.size;
        this.stats.events += out.length;
        this.stats.quarantined += quarantined.length;
        if (quarantined.length > 0)
          this.opts.logger.warn(
            { feed: this.name, file: version, records: quarantined.map((q) => ({ key: q.key, reason: q.reason })) },
            'change feed: records the layout cannot read were quarantined',
          );
        if (out.length > 0) this.opts.onEvents?.(out.length, out);
        queued += out.length;
        pending = new Map();
        quarantined = [];
      };
      let slice = performance.now();
      for await (const batch of decodeRecordStream(this.chunks(copy), this.spec)) {
        for (const r of batch.rows) {
          // A bad record is also a row when only a check failed; it was quarantined instead.
          if (r.type !== this.record || copy.bad.has(r.recordNo)) continue;
          const key = String(r.value[this.key]);
          // The last record of a key wins, as the export reader serves it.
          pending.delete(key);
          pending.set(key, r.value);
          if (pending.size >= this.opts.config.batchSize) await flush();
        }
        for (const p of batch.problems) {
          if (!copy.bad.has(p.recordNo)) continue;
          const key = await this.keyOfBad(copy, p);
          if (key === undefined) holdRemovals = true;
          else markSeen([key]);
          quarantined.push({
            feed: this.name,
            key: key ?? `(record ${p.recordNo})`,
            version,
            reason: describeProblem(p),
            row: { file: version, recordNo: p.recordNo, offset: p.offset, ...(p.field ? { field: p.field } : {}) },
            at: Date.now(),
          });
        }
        if (performance.now() - slice > SLICE_MS) {
          await yieldToEventLoop();
          slice = performance.now();
        }
      }
      await flush();
      queued += await this.removals(version, (k) => isSeen.get(k) !== undefined, o.baseline || holdRemovals);
      if (holdRemovals) this.opts.logger.warn({ feed: this.name, file: version }, 'change feed: removals held back: a quarantined record of this file has no readable key');
      const mark: FileMark = { file: copy.file.name, size: copy.file.size, mtimeMs: copy.file.mtimeMs };
      await events.commit(this.name, { events: [], rows: [], watermark: JSON.stringify(mark) });
      return queued;
    } finally {
      seen.close();
    }
  }

  /** The keys the feed sent before that the new file lacks: removed (sent unless `hold`), and forgotten. */
  private async removals(version: string, inFile: (key: string) => boolean, hold: boolean): Promise<number> {
    if (hold) return 0;
    let after: string | undefined;
    let queued = 0;
    for (;;) {
      const page = await this.opts.events.keysAfter(this.name, after, REMOVAL_PAGE);
      const gone = page.filter((k) => !inFile(k.key));
      if (gone.length > 0) {
        const out = gone.map((k) =>
          cloudEvent({ id: eventId(this.name, k.key, `removed:${version}`, k.hash), source: this.opts.source, type: this.deletedType, subject: k.key, data: null, feed: this.name }),
        );
        await this.opts.events.commit(this.name, { events: out, rows: [], removed: gone.map((k) => k.key) });
        this.stats.events += out.length;
        this.opts.onEvents?.(out.length, out);
        queued += out.length;
      }
      if (page.length < REMOVAL_PAGE) return queued;
      after = page[page.length - 1].key;
    }
  }

  /**
   * Every record of the newest export as events (to one subscription, or all), resumable: the
   * position (file and records sent) is kept under `backfill:<feed>:<subscription>`. `perSecond`
   * bounds the records sent a second.
   */
  backfill(opts: { subscription?: string; perSecond?: number; restart?: boolean }): Promise<number> {
    return this.exclusive(async () => {
      const markName = `backfill:${this.name}:${opts.subscription ?? '*'}`;
      const text = opts.restart ? undefined : await this.opts.events.watermark(markName);
      const mark = text ? (JSON.parse(text) as { file?: string; after?: number; done?: boolean }) : undefined;
      if (mark?.done) return 0;
      const newest = (await this.candidates()).find((f) => !this.refused.has(`${f.name}\0${f.size}\0${f.mtimeMs}`));
      if (!newest) return 0;
      const copy = await this.localCopy(newest);
      if (!copy) return 0;
      const version = newest.name;
      const skip = mark?.file === version ? (mark.after ?? 0) : 0;
      const batch = Math.min(this.opts.config.batchSize, opts.perSecond ? Math.max(1, Math.floor(opts.perSecond)) : Infinity);
      let sent = 0;
      let n = 0;
      let out: CloudEvent[] = [];
      let started = performance.now();
      const flush = async () => {
        await this.opts.events.commit(this.name, { events: out, rows: [], watermark: JSON.stringify({ file: version, after: n }), markAs: markName }, opts.subscription);
        sent += out.length;
        this.stats.events += out.length;
        if (out.length > 0) this.opts.onEvents?.(out.length, out);
        out = [];
        if (opts.perSecond) {
          const wait = (batch / opts.perSecond) * 1000 - (performance.now() - started);
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          started = performance.now();
        }
      };
      try {
        for await (const b of decodeRecordStream(this.chunks(copy), this.spec)) {
          for (const r of b.rows) {
            if (r.type !== this.record || copy.bad.has(r.recordNo)) continue;
            n++;
            if (n <= skip) continue;
            const key = String(r.value[this.key]);
            const data = toContract(r.value, this.map);
            const hash = hashOf(data);
            out.push(cloudEvent({ id: eventId(this.name, key, version, hash), source: this.opts.source, type: this.type, subject: key, data, feed: this.name }));
            if (out.length >= batch) await flush();
          }
        }
        await flush();
      } finally {
        await copy.handle.close().catch(() => undefined);
      }
      await this.opts.events.commit(markName, { events: [], rows: [], watermark: JSON.stringify({ done: true, file: version }) });
      return sent;
    });
  }
}
