/**
 * The reply poller: while orders wait, looks at the reply folder every interval, applies each reply
 * file (decides its orders in the pending-requests store and wakes their waiters), and moves it to the
 * archive folder, or to the quarantine folder with the reason beside it when it cannot be parsed.
 */
import type { Logger } from '../../observability/logger.ts';
import { describeProblem } from '../../records/errors.ts';
import type { RecordFileSpec } from '../../records/layout-file.ts';
import { decodeRecordFile } from '../../records/record-file.ts';
import type { DecodedRecord } from '../../records/record-codec.ts';
import { toContract, type FieldMap } from './field-map.ts';
import type { PendingRequests } from './pending-requests.ts';
import { ConnectionLost, isNoSuchFile, type SftpPool, type SftpSession } from './sftp-pool.ts';
import type { Waiters } from './waiters.ts';

export interface ReplyConfig {
  spec: RecordFileSpec;
  record: string;
  /** File-name template with `{fileId}`. */
  file: string;
  key: string;
  status: { field: string; accepted: readonly (string | number)[]; rejected: readonly (string | number)[] };
  map: FieldMap;
  rejection?: { code: string; reason: string };
  timeoutMs: number;
}

export interface ReplyFolders {
  replies: string;
  archive: string;
  quarantine: string;
}

/** What the poller needs of a request binding: which operation, and how its reply reads. */
export interface ReplyBinding {
  operationId: string;
  reply: ReplyConfig;
}

export function templateToRegExp(t: string): RegExp {
  const parts = t.split('{fileId}').map((p) => p.replace(/[.+^${}()|[\]\\*?]/g, '\\$&'));
  return new RegExp('^' + parts.join('(.+?)') + '$');
}

function get(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const p of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

export class ReplyPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  /** Reply files applied, quarantined; for tests and health. */
  readonly counts = { applied: 0, quarantined: 0, polls: 0 };
  lastPollError: string | undefined;

  /** `bindings` is read at every look: bindings added later are polled for too. */
  constructor(
    private readonly bindings: readonly ReplyBinding[],
    private readonly pool: SftpPool,
    private readonly pending: PendingRequests,
    private readonly waiters: Waiters,
    private readonly folders: ReplyFolders,
    private readonly pollIntervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    // Polls start one interval apart (start to start, not end to start): a reply is seen at most
    // one interval (plus one listing) after it lands, however long applying the last one took.
    const loop = (waitMs: number) => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        const started = Date.now();
        void this.pollOnce().finally(() => loop(Math.max(0, this.pollIntervalMs - (Date.now() - started))));
      }, waitMs);
      this.timer.unref();
    };
    loop(this.pollIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  private async hasPending(): Promise<boolean> {
    if (this.waiters.size > 0) return true;
    return this.pending.anyWrittenPending();
  }

  /** One look at the reply folder: applies every reply file found. */
  pollOnce(): Promise<void> {
    this.polling ??= (async () => {
      try {
        if (!(await this.hasPending())) return;
        this.counts.polls++;
        const patterns = [...new Map(this.bindings.map((c) => [c.reply.file, c])).values()].map((c) => ({ re: templateToRegExp(c.reply.file), config: c }));
        // One session for the whole look (list, then read and move each reply): a poll does not queue
        // for a connection once per file behind the writes, which would let replies pile up under load.
        await this.pool.use(
          async (s) => {
            const files = await s.list(this.folders.replies);
            for (const f of files.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
              for (const p of patterns) {
                const m = p.re.exec(f.name);
                if (m) {
                  await this.applyReplyFile(s, f.name, m[1], p.config);
                  break;
                }
              }
            }
          },
          { idempotent: true },
        );
        this.lastPollError = undefined;
      } catch (err) {
        this.lastPollError = err instanceof Error ? err.message : String(err);
        this.logger.warn({ err: this.lastPollError }, 'reply poll failed');
      }
    })().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async applyReplyFile(s: SftpSession, name: string, fileId: string, fallback: ReplyBinding): Promise<void> {
    const path = `${this.folders.replies}/${name}`;
    let bytes: Buffer;
    try {
      bytes = await s.read(path);
    } catch (err) {
      if (isNoSuchFile(err)) return; // another gateway instance took it
      throw err;
    }
    const rows = await this.pending.ofFile(fileId);
    const config = this.bindings.find((c) => c.operationId === rows[0]?.operation) ?? fallback;
    const reply = config.reply;
    const { rows: records, summary } = await decodeRecordFile([bytes], reply.spec);
    const now = new Date().toISOString();
    const seen = new Set<string>();
    for (const r of records) {
      if (r.type !== reply.record) continue;
      const id = String(r.value[reply.key]);
      seen.add(id);
      await this.applyReply(id, r.value, reply, now);
    }
    if (summary.bad > 0 || !summary.complete) {
      const reason = summary.problems.map(describeProblem).join('\n');
      await this.moveAside(s, name, this.folders.quarantine, `${reason}\n`);
      this.counts.quarantined++;
      this.logger.error({ file: name, problems: summary.problems.length }, `reply file quarantined: ${summary.problems[0] ? describeProblem(summary.problems[0]) : 'incomplete'}`);
    } else {
      // Orders of this file the reply does not mention will never be answered: they failed.
      for (const row of rows) {
        if (row.status !== 'pending' || seen.has(row.id)) continue;
        await this.finish(row.id, 'failed', { rejection: { code: 'NO-REPLY', reason: `the reply file ${name} has no record for this order` } }, now);
      }
      await this.moveAside(s, name, this.folders.archive);
      this.counts.applied++;
    }
  }

  private async applyReply(id: string, rec: DecodedRecord, reply: ReplyConfig, now: string): Promise<void> {
    const raw = rec[reply.status.field] as string | number;
    const status = reply.status.accepted.includes(raw) ? 'accepted' : reply.status.rejected.includes(raw) ? 'rejected' : 'failed';
    const extra: Record<string, unknown> = toContract(rec, reply.map);
    if (status !== 'accepted') {
      const code = reply.rejection ? String(get(rec, reply.rejection.code) ?? '') : '';
      const reason = reply.rejection ? String(get(rec, reply.rejection.reason) ?? '') : '';
      extra.rejection = { code: code || String(raw), reason: reason || `status ${JSON.stringify(raw)}` };
    }
    await this.finish(id, status, extra, now);
  }

  private async finish(id: string, status: string, extra: Record<string, unknown>, now: string): Promise<void> {
    if (!(await this.pending.decide(id, status, extra, now))) {
      this.logger.warn({ id }, 'a reply for an unknown request');
      return;
    }
    this.waiters.wake(id);
  }

  /** Moves a reply file aside: one rename in the usual case; the folder is made, or another name chosen, when that fails. */
  private async moveAside(s: SftpSession, name: string, folder: string, reason?: string): Promise<void> {
    const from = `${this.folders.replies}/${name}`;
    let target = `${folder}/${name}`;
    try {
      await s.rename(from, target);
    } catch (err) {
      if (err instanceof ConnectionLost) throw err;
      if (!(await s.exists(from))) return; // moved by another instance
      await s.mkdirs(folder);
      if (await s.exists(target)) target = `${folder}/${name}.${Date.now()}`;
      try {
        await s.rename(from, target);
      } catch (again) {
        if (!(await s.exists(from))) return;
        throw again;
      }
    }
    if (reason !== undefined) {
      // A quarantined file holds customers' data: readable by the transfer user only, as its reason.
      await s.chmod(target, 0o600);
      // Under a temporary name, then renamed: nobody sees a half-written reason.
      await s.write(`${target}.reason.txt.part`, Buffer.from(reason), 0o600);
      await s.rename(`${target}.reason.txt.part`, `${target}.reason.txt`);
    }
  }
}
