/**
 * Request/reply over files. A POST becomes records in an inbound file, written under a temporary
 * name and renamed, so the legacy job never sees half a file; the gateway then waits (up to a
 * timeout) for the reply file carrying the same file id and answers from it; past the timeout it
 * answers 202 with a status resource that resolves later. Each request is a row of the state store
 * (pending, then accepted, rejected or failed), so pending requests survive a restart; a poller
 * reads reply files, applies them, and moves them to the archive folder, or to the quarantine
 * folder with the reason beside them when they cannot be parsed.
 *
 * Exactly once: ids are derived from the Idempotency-Key (see order-ids.ts). A request whose id is
 * already known is not written again: a decided one gets its original answer, a pending one waits
 * for the same reply; one that was never written completely is written again under the same ids,
 * which the legacy job de-duplicates.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '../../observability/logger.ts';
import { PROBLEMS, Problem, UpstreamError, problems } from '../../problem.ts';
import { describeProblem, FieldError } from '../../records/errors.ts';
import type { RecordFileSpec } from '../../records/layout-file.ts';
import { decodeRecordFile, RecordFileWriter } from '../../records/record-file.ts';
import type { DecodedRecord } from '../../records/record-codec.ts';
import type { SqlStore } from '../../state/sql-store.ts';
import type { OperationRequest, OperationResult } from '../kind.ts';
import { toContract, toRecord, type FieldMap } from './field-map.ts';
import { deriveId } from './order-ids.ts';
import { ConnectionLost, isNoSuchFile, type SftpPool, type SftpSession } from './sftp-pool.ts';

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

export interface RequestConfig {
  operationId: string;
  spec: RecordFileSpec;
  record: string;
  file: string;
  header: Record<string, string>;
  trailer: Record<string, string>;
  id: { field: string; record: string; prefix: string; length: number; header: string };
  map: FieldMap;
  echo: readonly string[];
  /** For batch operations: the array of the request body holding the items. */
  batchItems?: string;
  reply: ReplyConfig;
  /** The status resource's path, for Location headers: `/orders/{id}`. */
  location?: string;
}

export interface Folders {
  inbound: string;
  replies: string;
  archive: string;
  quarantine: string;
}

interface Row {
  id: string;
  file_id: string;
  operation: string;
  request_hash: string;
  status: string;
  written: number;
  body: string;
}

export const MIGRATIONS = [
  `CREATE TABLE sftp_requests (
     adapter TEXT NOT NULL, id TEXT NOT NULL, file_id TEXT NOT NULL, operation TEXT NOT NULL,
     item_index INTEGER NOT NULL, request_hash TEXT NOT NULL, status TEXT NOT NULL, written INTEGER NOT NULL,
     body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (adapter, id))`,
  'CREATE INDEX sftp_requests_pending ON sftp_requests (adapter, status)',
  'CREATE INDEX sftp_requests_file ON sftp_requests (adapter, file_id)',
];

function fillTemplate(t: string, vars: Record<string, string>): string {
  return t.replace(/\{(\w+)\}/g, (_m, k: string) => vars[k] ?? '');
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

export class RequestReply {
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly configs: RequestConfig[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  /** Reply files applied, quarantined; for tests and health. */
  readonly counts = { applied: 0, quarantined: 0, polls: 0 };
  lastPollError: string | undefined;

  constructor(
    private readonly adapter: string,
    private readonly pool: SftpPool,
    private readonly store: SqlStore,
    private readonly folders: Folders,
    private readonly pollIntervalMs: number,
    private readonly logger: Logger,
  ) {}

  add(config: RequestConfig): void {
    this.configs.push(config);
  }

  get active(): boolean {
    return this.configs.length > 0;
  }

  async start(): Promise<void> {
    if (!this.active) return;
    await this.store.migrate('sftp', MIGRATIONS);
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
    await this.polling;
  }

  private async hasPending(): Promise<boolean> {
    if (this.waiters.size > 0) return true;
    const row = await this.store.get<{ n: number }>("SELECT COUNT(*) AS n FROM sftp_requests WHERE adapter = ? AND status = 'pending' AND written = 1", [this.adapter]);
    return Number(row?.n ?? 0) > 0;
  }

  /** One look at the reply folder: applies every reply file found. */
  pollOnce(): Promise<void> {
    this.polling ??= (async () => {
      try {
        if (!(await this.hasPending())) return;
        this.counts.polls++;
        const patterns = [...new Map(this.configs.map((c) => [c.reply.file, c])).values()].map((c) => ({ re: templateToRegExp(c.reply.file), config: c }));
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

  private async applyReplyFile(s: SftpSession, name: string, fileId: string, fallback: RequestConfig): Promise<void> {
    const path = `${this.folders.replies}/${name}`;
    let bytes: Buffer;
    try {
      bytes = await s.read(path);
    } catch (err) {
      if (isNoSuchFile(err)) return; // another gateway instance took it
      throw err;
    }
    const rows = await this.store.all<Row>('SELECT id, operation, status FROM sftp_requests WHERE adapter = ? AND file_id = ?', [this.adapter, fileId]);
    const config = this.configs.find((c) => c.operationId === rows[0]?.operation) ?? fallback;
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
    const row = await this.store.get<Row>('SELECT body, status FROM sftp_requests WHERE adapter = ? AND id = ?', [this.adapter, id]);
    if (!row) {
      this.logger.warn({ id }, 'a reply for an unknown request');
      return;
    }
    if (row.status === 'pending') {
      const body = { ...(JSON.parse(row.body) as Record<string, unknown>), ...extra, status };
      await this.store.run("UPDATE sftp_requests SET status = ?, body = ?, updated_at = ? WHERE adapter = ? AND id = ? AND status = 'pending'", [status, JSON.stringify(body), now, this.adapter, id]);
    }
    for (const wake of this.waiters.get(id) ?? []) wake();
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

  /** Waits until every id is decided, the timeout passes, or the caller goes away. */
  private async waitFor(ids: string[], timeoutMs: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const open = new Set(ids);
    const refresh = async () => {
      const rows = await this.rowsOf([...open]);
      for (const r of rows) if (r.status !== 'pending') open.delete(r.id);
    };
    await refresh();
    while (open.size > 0 && Date.now() < deadline && !signal.aborted) {
      await new Promise<void>((resolve) => {
        // Whatever ends the wait (a reply, the timer, the caller leaving) takes every listener back.
        const t = setTimeout(() => done(), Math.min(deadline - Date.now(), this.pollIntervalMs * 4));
        const done = () => {
          clearTimeout(t);
          for (const id of ids) this.waiters.get(id)?.delete(onWake);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const onWake = () => done();
        for (const id of ids) {
          let set = this.waiters.get(id);
          if (!set) this.waiters.set(id, (set = new Set()));
          set.add(onWake);
        }
        signal.addEventListener('abort', done, { once: true });
      });
      for (const id of ids) if (this.waiters.get(id)?.size === 0) this.waiters.delete(id);
      await refresh();
    }
  }

  private rowsOf(ids: string[]): Promise<Row[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.store.all<Row>(`SELECT id, file_id, operation, request_hash, status, written, body FROM sftp_requests WHERE adapter = ? AND id IN (${ids.map(() => '?').join(', ')})`, [
      this.adapter,
      ...ids,
    ]);
  }

  /** The status resource of one id. */
  async status(id: string): Promise<Record<string, unknown> | undefined> {
    const row = await this.store.get<Row>('SELECT body FROM sftp_requests WHERE adapter = ? AND id = ?', [this.adapter, id]);
    return row ? (JSON.parse(row.body) as Record<string, unknown>) : undefined;
  }

  /** Serves one POST of a request binding. */
  async handle(c: RequestConfig, req: OperationRequest): Promise<OperationResult> {
    const key = req.headers[c.id.header.toLowerCase()];
    if (!key) throw problems.validation(`the ${c.id.header} header is required`, [{ field: c.id.header, message: 'required' }]);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const items: Record<string, unknown>[] = c.batchItems ? ((body[c.batchItems] as Record<string, unknown>[] | undefined) ?? []) : [body];
    const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const fileId = c.batchItems ? deriveId('B', c.id.length, c.operationId, key) : deriveId(c.id.prefix, c.id.length, c.operationId, key);
    const ids = items.map((_item, i) => (c.batchItems ? deriveId(c.id.prefix, c.id.length, c.operationId, key, i) : fileId));
    const now = new Date().toISOString();

    // Encode first: records that cannot be written are refused (single) or rejected (batch), and never stored.
    const writer = new RecordFileWriter(c.spec);
    const vars = { fileId, date: now.slice(0, 10), time: now.slice(11, 19).replace(/:/g, '') };
    const chunks: Buffer[] = [];
    const refused = new Map<number, string[]>();
    const fill = (t: Record<string, string>) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, /^\{time\}$/.test(v) ? Number(vars.time) : fillTemplate(v, vars)]));
    if (c.spec.types.some((t) => t.role === 'header')) chunks.push(writer.record(c.spec.types.find((t) => t.role === 'header')!.name, fill(c.header)));
    items.forEach((item, i) => {
      const rec = { ...toRecord(item, c.map), [c.id.record]: ids[i] };
      try {
        chunks.push(writer.record(c.record, rec));
      } catch (err) {
        if (!(err instanceof FieldError)) throw err;
        refused.set(i, [`${fieldOfRecord(err.field, c.map)}: ${err.reason.replace(/^record \d+ \(\w+\): /, '')}`]);
      }
    });
    if (!c.batchItems && refused.size > 0) {
      const [reason] = refused.get(0)!;
      throw problems.unprocessable(`the order cannot be written in the mainframe's record format: ${reason}`, [{ field: reason.split(':')[0], message: reason }]);
    }
    const accepted = items.map((_v, i) => i).filter((i) => !refused.has(i));
    if (c.spec.types.some((t) => t.role === 'trailer')) chunks.push(writer.record(c.spec.types.find((t) => t.role === 'trailer')!.name, fill(c.trailer)));

    // Remember the requests before writing, so that a crash after the write still finds them.
    const existing = await this.rowsOf(accepted.map((i) => ids[i]));
    if (existing.some((r) => r.request_hash !== requestHash)) {
      throw new Problem(PROBLEMS.idempotencyKeyReused, { detail: `the ${c.id.header} ${key} was used before with a different request body` });
    }
    for (const i of accepted) {
      if (existing.some((r) => r.id === ids[i])) continue;
      const resource: Record<string, unknown> = { [c.id.field]: ids[i], status: 'pending', createdAt: now };
      for (const f of c.echo) if (items[i][f] !== undefined) resource[f] = items[i][f];
      await this.store.run(
        'INSERT INTO sftp_requests (adapter, id, file_id, operation, item_index, request_hash, status, written, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [this.adapter, ids[i], fileId, c.operationId, i, requestHash, 'pending', 0, JSON.stringify(resource), now, now],
      );
    }
    const needsWrite = accepted.length > 0 && !(existing.length === accepted.length && existing.every((r) => Number(r.written) === 1));
    if (needsWrite && accepted.length > 0) {
      await this.writeFile(fillTemplate(c.file, vars), Buffer.concat(chunks), req.signal);
      await this.store.run('UPDATE sftp_requests SET written = 1 WHERE adapter = ? AND file_id = ?', [this.adapter, fileId]);
    }
    if (accepted.length > 0)
      await this.waitFor(
        accepted.map((i) => ids[i]),
        c.reply.timeoutMs,
        req.signal,
      );
    const rows = new Map((await this.rowsOf(accepted.map((i) => ids[i]))).map((r) => [r.id, JSON.parse(r.body) as Record<string, unknown>]));

    if (c.batchItems) {
      const out = { accepted: [] as { index: number; order: Record<string, unknown> }[], rejected: [] as { index: number; reasons: string[] }[] };
      items.forEach((_v, i) => {
        const r = refused.get(i);
        if (r) return out.rejected.push({ index: i, reasons: r });
        const order = rows.get(ids[i])!;
        if (order.status === 'accepted' || order.status === 'pending') out.accepted.push({ index: i, order });
        else {
          const rej = order.rejection as { code: string; reason: string } | undefined;
          out.rejected.push({ index: i, reasons: [rej ? `${rej.code}: ${rej.reason}` : String(order.status)] });
        }
      });
      return { status: 200, body: out };
    }
    const order = rows.get(fileId)!;
    const location = c.location ? c.location.replace(/\{[^}]+\}/, encodeURIComponent(fileId)) : undefined;
    const headers: Record<string, string> = location ? { Location: location } : {};
    if (order.status === 'accepted') return { status: 201, body: order, headers };
    if (order.status === 'pending') return { status: 202, body: order, headers };
    const rej = order.rejection as { code: string; reason: string } | undefined;
    throw new Problem(PROBLEMS.unprocessable, {
      detail: rej ? `${rej.code}: ${rej.reason}` : `the order ${fileId} ${String(order.status)}`,
      extensions: { orderId: fileId, rejection: rej },
      headers,
    });
  }

  /**
   * Writes under a temporary name and renames, so the legacy job never sees half a file. The
   * temporary name is this attempt's own: two writes of the same file may overlap (a call its
   * caller gave up on still runs while the outbox or a retry delivers the order again, or another
   * instance does), and with a shared name the second write would open (and truncate) the very file
   * the first one is renaming into place, publishing it half-written.
   */
  private async writeFile(name: string, data: Buffer, signal: AbortSignal): Promise<void> {
    const dir = this.folders.inbound;
    try {
      await this.pool.use(
        async (s) => {
          const temp = `${dir}/${name}.${randomBytes(6).toString('hex')}.part`;
          await s.write(temp, data);
          try {
            await s.rename(temp, `${dir}/${name}`);
          } catch (err) {
            // The same file is there already (a redelivery while the job has not picked up the first).
            if (await s.exists(`${dir}/${name}`)) {
              await s.remove(temp).catch(() => undefined);
              return;
            }
            await s.remove(temp).catch(() => undefined);
            throw err;
          }
        },
        { idempotent: true, signal },
      );
    } catch (err) {
      if (err instanceof ConnectionLost) throw new UpstreamError(`${this.pool.where}: writing ${name} failed: ${err.message}`, { status: 503, code: 'sftp_connection' });
      throw new UpstreamError(`${this.pool.where}: writing ${name} failed: ${err instanceof Error ? err.message : String(err)}`, { status: 502, code: 'sftp_write' });
    }
  }
}

/** A record field path back to the contract field it was mapped from, for error messages. */
function fieldOfRecord(recordPath: string, map: FieldMap, prefix = ''): string {
  const [head, ...rest] = recordPath.split('.');
  const bare = head.replace(/\[\d+\]$/, '');
  const index = /\[(\d+)\]$/.exec(head)?.[1];
  for (const [k, spec] of Object.entries(map)) {
    const field = typeof spec === 'string' ? spec : spec.field;
    if (field.split('.')[0] !== bare) continue;
    const here = `${prefix}${k}${index !== undefined ? `[${index}]` : ''}`;
    if (typeof spec !== 'string' && spec.items && rest.length > 0) return fieldOfRecord(rest.join('.'), spec.items, `${here}.`);
    return here;
  }
  return recordPath;
}
