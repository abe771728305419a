/**
 * The files of a recording: `<dir>/<operationId>/<start time>-<seq>.jsonl`, appended to in batches.
 * A file rolls when it reaches its size or age limit. Within a file, an exchange whose normalised
 * request was already written only raises that line's count; counts are written into the file
 * when it rolls and on flush (the file is rewritten then, never edited in place).
 */
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { collapseKey, formatExchange, type RecordedExchange } from './exchange-format.ts';
import { applyRetention, type RetentionLimits } from './retention.ts';

/** Recordings hold redacted requests and answers: readable by the gateway's user only. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export interface SegmentOptions {
  dir: string;
  maxFileBytes: number;
  rollEveryMs: number;
  now?: () => number;
  /** Retention of the whole folder, applied whenever a file rolls or closes (src/recording/retention.ts). */
  retention?: RetentionLimits;
}

interface Segment {
  file: string;
  openedAt: number;
  bytes: number;
  entries: Map<string, RecordedExchange>;
  /** Some counts changed since the file was last written whole. */
  dirty: boolean;
}

/** For each exchange of a batch: written as a new line, or collapsed into an earlier one's count. */
export type AppendOutcome = ('written' | 'collapsed')[];

export class SegmentFiles {
  private readonly segments = new Map<string, Segment>();
  private readonly madeDirs = new Set<string>();
  private seq = 0;
  /** Every file written to since start, per operation. */
  readonly files = new Map<string, string[]>();

  constructor(private readonly opts: SegmentOptions) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private queue: Promise<unknown> = Promise.resolve();

  /** One file operation at a time: a rewrite never races an append. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  append(batch: readonly RecordedExchange[]): Promise<AppendOutcome> {
    return this.serial(() => this.appendNow(batch));
  }

  private async appendNow(batch: readonly RecordedExchange[]): Promise<AppendOutcome> {
    const texts = new Map<Segment, string[]>();
    const outcome: AppendOutcome = [];
    for (const e of batch) {
      let seg = await this.current(e.operationId);
      const key = collapseKey(e);
      const seen = seg.entries.get(key);
      if (seen) {
        seen.count += e.count;
        seg.dirty = true;
        outcome.push('collapsed');
        continue;
      }
      const line = formatExchange(e) + '\n';
      const size = Buffer.byteLength(line);
      if (seg.bytes > 0 && seg.bytes + size > this.opts.maxFileBytes) {
        await this.flushTexts(texts);
        await this.roll(e.operationId);
        seg = await this.current(e.operationId);
      }
      seg.entries.set(key, { ...e });
      seg.bytes += size;
      const list = texts.get(seg);
      if (list) list.push(line);
      else texts.set(seg, [line]);
      outcome.push('written');
    }
    await this.flushTexts(texts);
    return outcome;
  }

  private async flushTexts(texts: Map<Segment, string[]>): Promise<void> {
    for (const [seg, lines] of texts) await appendFile(seg.file, lines.join(''), { mode: FILE_MODE });
    texts.clear();
  }

  private async current(operationId: string): Promise<Segment> {
    const seg = this.segments.get(operationId);
    if (seg && this.now() - seg.openedAt < this.opts.rollEveryMs) return seg;
    if (seg) await this.roll(operationId);
    const dir = join(this.opts.dir, operationId);
    if (!this.madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true, mode: DIR_MODE });
      this.madeDirs.add(dir);
    }
    const stamp = new Date(this.now())
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const file = join(dir, `${stamp}-${process.pid}-${String(++this.seq).padStart(4, '0')}.jsonl`);
    const fresh: Segment = { file, openedAt: this.now(), bytes: 0, entries: new Map(), dirty: false };
    this.segments.set(operationId, fresh);
    const list = this.files.get(operationId);
    if (list) list.push(file);
    else this.files.set(operationId, [file]);
    return fresh;
  }

  /** Writes the counts of an operation's current file and starts a new one on the next append. */
  private async roll(operationId: string): Promise<void> {
    const seg = this.segments.get(operationId);
    if (!seg) return;
    await this.rewrite(seg);
    this.segments.delete(operationId);
    this.retain();
  }

  /** Deletes what the retention limits no longer allow (never a file still open). */
  retain(): string[] {
    if (!this.opts.retention) return [];
    const open = new Set([...this.segments.values()].map((s) => s.file));
    return applyRetention(this.opts.dir, this.opts.retention, open, this.now());
  }

  private async rewrite(seg: Segment): Promise<void> {
    if (!seg.dirty) return;
    const text = [...seg.entries.values()].map((e) => formatExchange(e) + '\n').join('');
    const tmp = `${seg.file}.tmp`;
    await writeFile(tmp, text, { mode: FILE_MODE });
    await rename(tmp, seg.file);
    seg.bytes = Buffer.byteLength(text);
    seg.dirty = false;
  }

  /** Writes the current counts into every open file (they stay open). */
  flush(): Promise<void> {
    return this.serial(async () => {
      for (const seg of this.segments.values()) await this.rewrite(seg);
    });
  }

  /** Writes the counts and forgets the open files: the next exchange starts a new file. */
  close(): Promise<void> {
    return this.serial(async () => {
      for (const op of [...this.segments.keys()]) await this.roll(op);
    });
  }
}
