/**
 * Reads of export files: the newest complete file of a folder that matches a pattern (a trailer
 * whose count and totals agree; an incomplete or broken newest file is skipped for the one before),
 * decoded in a stream and kept in memory, keyed, until a poll finds a newer file. Serves get (by
 * key) and list (pages with an opaque cursor) and says how fresh the data is.
 */
import type { Logger } from '../../observability/logger.ts';
import { describeProblem } from '../../records/errors.ts';
import type { RecordFileSpec } from '../../records/layout-file.ts';
import { decodeRecordStream, type FileSummary } from '../../records/record-file.ts';
import type { DecodedRecord } from '../../records/record-codec.ts';
import type { RemoteFile, SftpPool } from './sftp-pool.ts';

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
}

export interface ExportSnapshot {
  file: string;
  asOf: Date;
  loadedAt: Date;
  records: DecodedRecord[];
  byKey: Map<string, DecodedRecord>;
  skipped: { file: string; reason: string }[];
}

/** Glob with `*` and `?` → an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
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

export class ExportReader {
  private snapshot: ExportSnapshot | undefined;
  private lastCheck = 0;
  private refreshing: Promise<ExportSnapshot> | undefined;

  constructor(
    private readonly pool: SftpPool,
    readonly source: ExportSource,
    private readonly logger: Logger,
  ) {}

  /** The cached snapshot, refreshed first when the last check is older than refreshMs. */
  async current(signal?: AbortSignal): Promise<ExportSnapshot> {
    if (this.snapshot && Date.now() - this.lastCheck < this.source.refreshMs) return this.snapshot;
    this.refreshing ??= this.refresh(signal).finally(() => {
      this.refreshing = undefined;
    });
    try {
      return await this.refreshing;
    } catch (err) {
      if (this.snapshot) {
        // Serve what we have when the server is down; freshness headers tell the caller how old it is.
        this.logger.warn({ err: (err as Error).message, file: this.snapshot.file }, 'export refresh failed; serving the cached export');
        return this.snapshot;
      }
      throw err;
    }
  }

  private async refresh(signal?: AbortSignal): Promise<ExportSnapshot> {
    const src = this.source;
    const files = await this.pool.use((s) => s.list(src.dir), { idempotent: true, signal });
    const candidates = files.filter((f) => src.pattern.test(f.name)).sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    this.lastCheck = Date.now();
    if (candidates.length === 0) throw new Error(`no export file matching ${src.pattern.source} in ${src.dir}`);
    const newest = candidates[0];
    if (this.snapshot && this.snapshot.file === newest.name) return this.snapshot;
    const skipped: { file: string; reason: string }[] = [];
    for (const file of candidates.slice(0, src.fallback + 1)) {
      if (this.snapshot && this.snapshot.file === file.name) {
        this.snapshot.skipped = skipped;
        return this.snapshot;
      }
      const loaded = await this.load(file, signal);
      if ('reason' in loaded) {
        skipped.push({ file: file.name, reason: loaded.reason });
        this.logger.warn({ file: file.name, reason: loaded.reason }, 'export file skipped');
        continue;
      }
      loaded.skipped = skipped;
      this.snapshot = loaded;
      this.logger.info({ file: file.name, records: loaded.records.length, asOf: loaded.asOf.toISOString() }, 'export loaded');
      return loaded;
    }
    throw new Error(`no complete export in ${src.dir}: ${skipped.map((s) => `${s.file}: ${s.reason}`).join('; ')}`);
  }

  private async load(file: RemoteFile, signal?: AbortSignal): Promise<ExportSnapshot | { reason: string }> {
    const src = this.source;
    const path = `${src.dir}/${file.name}`;
    return this.pool.use(
      async (s) => {
        const summary: FileSummary = { records: 0, good: 0, bad: 0, bytes: 0, complete: false, problems: [] };
        const records: DecodedRecord[] = [];
        const byKey = new Map<string, DecodedRecord>();
        const problems: string[] = [];
        const stream = s.readStream(path);
        try {
          for await (const batch of decodeRecordStream(stream, src.spec, summary)) {
            for (const r of batch.rows) {
              if (r.type !== src.record) continue;
              records.push(r.value);
              byKey.set(String(r.value[src.key]), r.value);
            }
            for (const p of batch.problems) if (problems.length < 5) problems.push(describeProblem(p));
          }
        } finally {
          stream.destroy();
        }
        if (summary.bad > 0 || !summary.complete) return { reason: `${summary.bad} bad record(s) of ${summary.records}${summary.complete ? '' : ', incomplete'}: ${problems.join('; ')}` };
        return { file: file.name, asOf: asOfFrom(summary.header, src.asOf, file), loadedAt: new Date(), records, byKey, skipped: [] };
      },
      { idempotent: true, signal },
    );
  }
}
