/**
 * Reads of export files: the newest complete file of a folder that matches a pattern (a trailer
 * whose count and totals agree; an incomplete or broken newest file is skipped for the one before).
 *
 * A file is downloaded once into a local copy (a temporary file, unlinked at once, so nothing is left
 * behind) while it is decoded in a stream; what stays in memory is an index: each record's offset
 * and a hash of its key (about 20 bytes a record). get and list decode the few records they answer
 * from the local copy. The loaded files are shared by every operation of the adapter that reads the
 * same file (`ExportFiles`), keyed by the file's name, size and modification time: two operations
 * cause one download, and a poll that finds the same file decodes nothing. A file that was refused
 * (incomplete, bad records, over `maxBytes`) is remembered as refused until it changes.
 *
 * While a newer file loads, the previous snapshot is served (its age in the freshness headers); only
 * the first load is waited for. The decoding yields to the event loop every few milliseconds.
 */
import { mkdtemp, open, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from '../../observability/logger.ts';
import { describeProblem } from '../../records/errors.ts';
import type { RecordFileSpec } from '../../records/layout-file.ts';
import { decodeRecordStream, type FileSummary } from '../../records/record-file.ts';
import type { DecodedRecord, RecordCodec } from '../../records/record-codec.ts';
import type { RemoteFile, SftpPool } from './sftp-pool.ts';
import { SpooledCopy } from './spooled-copy.ts';

export interface ExportSource {
  dir: string;
  pattern: RegExp;
  spec: RecordFileSpec;
  /** The record type holding the data (default: the only detail type). */
  record: string;
  key: string;
  refreshMs: number;
  /** Header fields giving the export's own timestamp; default the file's modification time. */
  asOf?: { date: string; time?: string };
  /** How many older files to try when the newest is incomplete. */
  fallback: number;
  /** The largest file read, in bytes; a larger one is refused (and an older one served). */
  maxBytes?: number;
  /** How the limit reads in messages (default: `maxBytes` bytes). */
  maxBytesText?: string;
  /** The adapter, for messages. */
  adapter?: string;
}

export interface ExportSnapshot {
  file: string;
  asOf: Date;
  loadedAt: Date;
  /** How many records of the data type the file has. */
  count: number;
  /** The record with this key (the last one, if several have it). */
  get(key: string): Promise<DecodedRecord | undefined>;
  /** Records start … start+limit-1, in file order. */
  page(start: number, limit: number): Promise<DecodedRecord[]>;
  /** The position of the first record whose key sorts after `key` (count when none does). */
  indexAfter(key: string): Promise<number>;
  skipped: { file: string; reason: string }[];
}

/** FNV-1a over the key's UTF-16 code units. */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Decoding yields to the event loop when it has held it this long. */
const SLICE_MS = 10;
/** A file no operation uses any more is closed this long after (a request may still be reading it). */
const RETIRE_GRACE_MS = 10_000;

/**
 * One loaded export file: its local copy (open, already unlinked), each data record's offset (and
 * length, for files with newlines) and key hash, and an open-addressing table from key hash to record.
 */
export class LoadedExport {
  users = 0;
  private reading = 0;
  private retired = false;
  private closed = false;
  private readonly table: Int32Array;

  constructor(
    readonly id: string,
    readonly file: RemoteFile,
    private readonly handle: FileHandle,
    private readonly codec: RecordCodec,
    private readonly keyField: string,
    private readonly offsets: Float64Array,
    private readonly lengths: Uint32Array | number,
    private readonly hashes: Uint32Array,
    /** Keys were in ascending order. */
    private readonly ascending: boolean,
    readonly header: DecodedRecord | undefined,
    readonly bytes: number,
  ) {
    let cap = 16;
    while (cap < hashes.length * 2) cap *= 2;
    const table = new Int32Array(cap);
    const mask = cap - 1;
    for (let i = 0; i < hashes.length; i++) {
      let pos = hashes[i] & mask;
      while (table[pos] !== 0) pos = (pos + 1) & mask;
      table[pos] = i + 1;
    }
    this.table = table;
  }

  get count(): number {
    return this.offsets.length;
  }

  private lengthOf(i: number): number {
    return typeof this.lengths === 'number' ? this.lengths : this.lengths[i];
  }

  private async reads<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error(`the local copy of ${this.file.name} was closed (a newer export replaced it)`);
    this.reading++;
    try {
      return await fn();
    } finally {
      this.reading--;
      if (this.retired && this.reading === 0) this.retire();
    }
  }

  /** Records i … j-1, read in one go from the local copy. */
  async range(i: number, j: number): Promise<DecodedRecord[]> {
    if (i >= j) return [];
    return this.reads(async () => {
      const from = this.offsets[i];
      const to = this.offsets[j - 1] + this.lengthOf(j - 1);
      const buf = Buffer.allocUnsafe(to - from);
      const { bytesRead } = await this.handle.read(buf, 0, buf.length, from);
      if (bytesRead < buf.length) throw new Error(`the local copy of ${this.file.name} is short (${bytesRead} of ${buf.length} bytes at ${from})`);
      const out: DecodedRecord[] = [];
      for (let k = i; k < j; k++) out.push(this.codec.decode(buf, this.offsets[k] - from));
      return out;
    });
  }

  async get(key: string): Promise<DecodedRecord | undefined> {
    const h = hashKey(key);
    const mask = this.table.length - 1;
    const candidates: number[] = [];
    for (let pos = h & mask; this.table[pos] !== 0; pos = (pos + 1) & mask) {
      const i = this.table[pos] - 1;
      if (this.hashes[i] === h) candidates.push(i);
    }
    candidates.sort((a, b) => b - a);
    for (const i of candidates) {
      const [rec] = await this.range(i, i + 1);
      if (String(rec[this.keyField]) === key) return rec;
    }
    return undefined;
  }

  async indexAfter(key: string): Promise<number> {
    const keyAt = async (i: number) => String((await this.range(i, i + 1))[0][this.keyField]);
    if (this.ascending) {
      let lo = 0;
      let hi = this.count;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((await keyAt(mid)) > key) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    }
    for (let i = 0; i < this.count; i += 1024) {
      const recs = await this.range(i, Math.min(this.count, i + 1024));
      const at = recs.findIndex((r) => String(r[this.keyField]) > key);
      if (at >= 0) return i + at;
    }
    return this.count;
  }

  /** No operation serves it any more: close the local copy once the reads under way are done. */
  retire(graceMs = 0): void {
    if (graceMs > 0) {
      setTimeout(() => this.retire(), graceMs).unref();
      return;
    }
    this.retired = true;
    if (this.reading > 0 || this.closed) return;
    this.closed = true;
    void this.handle.close().catch(() => undefined);
  }
}

type Refused = { reason: string };

/**
 * The export files an adapter has loaded, shared by its operations: one download and decode per
 * file (name, size, modification time, layout, record type and key), however many operations read it.
 */
export class ExportFiles {
  private readonly loaded = new Map<string, Promise<LoadedExport | Refused>>();
  private readonly refused = new Map<string, string>();
  private readonly abort = new AbortController();
  /** Downloads (and decodes) started, for tests and benchmarks. */
  loads = 0;

  /** Where local copies are made (default: the system's temporary folder). */
  constructor(private readonly dir: string = tmpdir()) {}

  idOf(src: ExportSource, file: RemoteFile): string {
    return [src.dir, file.name, file.size, file.mtimeMs, src.spec.source, src.record, src.key].join('\0');
  }

  /** The reason a file was refused before, if it is unchanged since. */
  refusedBefore(src: ExportSource, file: RemoteFile): string | undefined {
    return this.refused.get(this.idOf(src, file));
  }

  /** The loaded file (its user count raised: `release` it when done), or why it was refused. */
  async acquire(pool: SftpPool, src: ExportSource, file: RemoteFile, logger: Logger): Promise<LoadedExport | Refused> {
    const id = this.idOf(src, file);
    const known = this.refused.get(id);
    if (known !== undefined) return { reason: known };
    let loading = this.loaded.get(id);
    if (!loading) {
      loading = this.load(pool, src, file, id, logger);
      this.loaded.set(id, loading);
      loading.then(
        (r) => {
          if ('reason' in r) {
            this.loaded.delete(id);
            this.refuse(id, r.reason);
          }
        },
        () => this.loaded.delete(id),
      );
    }
    const out = await loading;
    if (!('reason' in out)) out.users++;
    return out;
  }

  /** One user fewer; the last one closes the local copy after `graceMs` (requests may still read it). */
  release(data: LoadedExport, graceMs = RETIRE_GRACE_MS): void {
    data.users--;
    if (data.users > 0) return;
    this.loaded.delete(data.id);
    data.retire(graceMs);
  }

  private refuse(id: string, reason: string): void {
    this.refused.set(id, reason);
    // Remember the last few refusals only.
    if (this.refused.size > 64) this.refused.delete(this.refused.keys().next().value!);
  }

  close(): void {
    this.abort.abort(new Error('the adapter is closing'));
    for (const p of this.loaded.values())
      p.then(
        (d) => ('reason' in d ? undefined : d.retire()),
        () => undefined,
      );
    this.loaded.clear();
  }

  private async load(pool: SftpPool, src: ExportSource, file: RemoteFile, id: string, logger: Logger): Promise<LoadedExport | Refused> {
    const limit = src.maxBytes ?? Infinity;
    const tooBig = (bytes: number) => ({
      reason: `${bytes} bytes, more than the limit of ${src.maxBytesText ?? `${limit} bytes`} (read.maxFileSize${src.adapter ? ` of adapter ${src.adapter}` : ''})`,
    });
    if (file.size > limit) return tooBig(file.size);
    const type = src.spec.types.find((t) => t.name === src.record);
    if (!type) throw new Error(`no record type ${src.record} in ${src.spec.source}`);
    const path = `${src.dir}/${file.name}`;
    const signal = this.abort.signal;
    this.loads++;
    return pool.use(
      async (s) => {
        const dir = await mkdtemp(join(this.dir, 'ficus-export-'));
        const copy = join(dir, 'copy');
        const handle = await open(copy, 'w+');
        // Unlinked at once: the open handle keeps the data; nothing is left behind, even after a crash.
        await unlink(copy);
        await rmdir(dir);
        let keep = false;
        const stream = s.readStream(path);
        try {
          const summary: FileSummary = { records: 0, good: 0, bad: 0, bytes: 0, complete: false, problems: [] };
          const fixed = src.spec.delimiter === 'none';
          let n = 0;
          let offsets = new Float64Array(1024);
          let lengths = new Uint32Array(fixed ? 0 : 1024);
          let hashes = new Uint32Array(1024);
          let ascending = true;
          let lastKey: string | undefined;
          const problems: string[] = [];
          const copy = new SpooledCopy(handle, limit, signal);
          let slice = performance.now();
          for await (const batch of decodeRecordStream(copy.chunks(stream), src.spec, summary)) {
            for (const r of batch.rows) {
              if (r.type !== src.record) continue;
              if (n === offsets.length) {
                const grow = <A extends Float64Array | Uint32Array>(a: A, make: (len: number) => A): A => {
                  const b = make(a.length * 2);
                  b.set(a);
                  return b;
                };
                offsets = grow(offsets, (l) => new Float64Array(l));
                hashes = grow(hashes, (l) => new Uint32Array(l));
                if (!fixed) lengths = grow(lengths, (l) => new Uint32Array(l));
              }
              const key = String(r.value[src.key]);
              offsets[n] = r.offset;
              hashes[n] = hashKey(key);
              if (!fixed) lengths[n] = r.length;
              if (lastKey !== undefined && key < lastKey) ascending = false;
              lastKey = key;
              n++;
            }
            for (const p of batch.problems) if (problems.length < 5) problems.push(describeProblem(p));
            if (performance.now() - slice > SLICE_MS) {
              await yieldToEventLoop();
              slice = performance.now();
            }
          }
          if (copy.over) return tooBig(copy.written + 1);
          if (summary.bad > 0 || !summary.complete) return { reason: `${summary.bad} bad record(s) of ${summary.records}${summary.complete ? '' : ', incomplete'}: ${problems.join('; ')}` };
          keep = true;
          const data = new LoadedExport(
            id,
            file,
            handle,
            type.codec,
            src.key,
            offsets.slice(0, n),
            fixed ? src.spec.recordLength : lengths.slice(0, n),
            hashes.slice(0, n),
            ascending,
            summary.header,
            copy.written,
          );
          logger.debug({ file: file.name, records: n, bytes: copy.written }, 'export file indexed');
          return data;
        } finally {
          stream.destroy();
          if (!keep) await handle.close().catch(() => undefined);
        }
      },
      { idempotent: true, signal },
    );
  }
}

/** Glob with `*` and `?` → an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(
    '^' +
      glob
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
  );
}

function asOfFrom(header: DecodedRecord | undefined, spec: ExportSource['asOf'], file: RemoteFile): Date {
  if (header && spec) {
    const d = header[spec.date];
    if (typeof d === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(d)) {
      const t = spec.time ? String(header[spec.time] ?? 0).padStart(6, '0') : '000000';
      return new Date(`${d}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}Z`);
    }
  }
  return new Date(file.mtimeMs);
}

class Snapshot implements ExportSnapshot {
  readonly loadedAt = new Date();
  skipped: { file: string; reason: string }[] = [];
  constructor(
    readonly data: LoadedExport,
    readonly asOf: Date,
  ) {}
  get file(): string {
    return this.data.file.name;
  }
  get count(): number {
    return this.data.count;
  }
  get(key: string): Promise<DecodedRecord | undefined> {
    return this.data.get(key);
  }
  page(start: number, limit: number): Promise<DecodedRecord[]> {
    return this.data.range(Math.max(0, start), Math.min(this.data.count, start + limit));
  }
  indexAfter(key: string): Promise<number> {
    return this.data.indexAfter(key);
  }
}

function waitFor<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class ExportReader {
  private snapshot: Snapshot | undefined;
  private lastCheck = 0;
  private refreshing: Promise<ExportSnapshot> | undefined;

  constructor(
    private readonly pool: SftpPool,
    readonly source: ExportSource,
    private readonly logger: Logger,
    private readonly files: ExportFiles = new ExportFiles(),
  ) {}

  /**
   * The snapshot to serve. When the last check is older than refreshMs a refresh starts; the
   * previous snapshot is served meanwhile. Only the first load is waited for (until `signal` fires;
   * the load itself goes on for the next caller).
   */
  async current(signal?: AbortSignal): Promise<ExportSnapshot> {
    if (!this.snapshot || Date.now() - this.lastCheck >= this.source.refreshMs) {
      if (!this.refreshing) {
        this.lastCheck = Date.now();
        const refreshing = this.refresh().finally(() => {
          this.refreshing = undefined;
        });
        this.refreshing = refreshing;
        refreshing.catch((err: unknown) => {
          // Serve what we have when the server is down or the file is refused; freshness headers tell the caller how old it is.
          if (this.snapshot) this.logger.warn({ err: err instanceof Error ? err.message : String(err), file: this.snapshot.file }, 'export refresh failed; serving the cached export');
        });
      }
    }
    if (this.snapshot) return this.snapshot;
    return waitFor(this.refreshing!, signal);
  }

  /** Lets go of the snapshot (the adapter is closing). */
  close(): void {
    if (this.snapshot) this.files.release(this.snapshot.data, 0);
    this.snapshot = undefined;
  }

  private same(file: RemoteFile): boolean {
    const s = this.snapshot?.data.file;
    return s !== undefined && s.name === file.name && s.size === file.size && s.mtimeMs === file.mtimeMs;
  }

  private async refresh(): Promise<ExportSnapshot> {
    const src = this.source;
    const files = await this.pool.use((s) => s.list(src.dir), { idempotent: true });
    const candidates = files.filter((f) => src.pattern.test(f.name)).sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    this.lastCheck = Date.now();
    if (candidates.length === 0) throw new Error(`no export file matching ${src.pattern.source} in ${src.dir}`);
    const skipped: { file: string; reason: string }[] = [];
    for (const file of candidates.slice(0, src.fallback + 1)) {
      if (this.snapshot && this.same(file)) {
        this.snapshot.skipped = skipped;
        return this.snapshot;
      }
      const before = this.files.refusedBefore(src, file);
      const loaded = await this.files.acquire(this.pool, src, file, this.logger);
      if ('reason' in loaded) {
        skipped.push({ file: file.name, reason: loaded.reason });
        if (before === undefined) this.logger.warn({ file: file.name, reason: loaded.reason }, 'export file skipped');
        continue;
      }
      const next = new Snapshot(loaded, asOfFrom(loaded.header, src.asOf, file));
      next.skipped = skipped;
      const previous = this.snapshot;
      this.snapshot = next;
      if (previous) this.files.release(previous.data);
      this.logger.info({ file: file.name, records: loaded.count, asOf: next.asOf.toISOString() }, 'export loaded');
      return next;
    }
    throw new Error(`no complete export in ${src.dir}: ${skipped.map((s) => `${s.file}: ${s.reason}`).join('; ')}`);
  }
}
