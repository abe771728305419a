/**
 * Request/reply over files. A POST becomes records in an inbound file, written under a temporary
 * name and renamed, so the legacy job never sees half a file (request-file.ts); the gateway then
 * waits (up to a timeout) for the reply file carrying the same file id and answers from it; past
 * the timeout it answers 202 with a status resource that resolves later. Each request is a row of
 * the state store (pending, then accepted, rejected or failed: pending-requests.ts), so pending
 * requests survive a restart; a poller reads reply files, applies them, and moves them to the
 * archive folder, or to the quarantine folder with the reason beside them when they cannot be
 * parsed (reply-poller.ts), waking the callers that wait (waiters.ts). This module composes them
 * and shapes the HTTP answer.
 *
 * Exactly once: ids are derived from the Idempotency-Key (see order-ids.ts). A request whose id is
 * already known is not written again: a decided one gets its original answer, a pending one waits
 * for the same reply; one that was never written completely is written again under the same ids,
 * which the legacy job de-duplicates.
 */
import { annotateAttempt } from '../../observability/tracing/current.ts';
import { createHash } from 'node:crypto';
import type { Logger } from '../../observability/logger.ts';
import { PROBLEMS, Problem, problems } from '../../problem.ts';
import type { SqlStore } from '../../state/sql-store.ts';
import type { Singletons } from '../../cluster/singletons.ts';
import type { OperationRequest, OperationResult } from '../kind.ts';
import { deriveId } from './order-ids.ts';
import { PendingRequests } from './pending-requests.ts';
import { ReplyPoller, type ReplyConfig, type ReplyFolders } from './reply-poller.ts';
import { encodeOrderFile, writeOrderFile, type RequestFileConfig } from './request-file.ts';
import type { SftpPool } from './sftp-pool.ts';
import { Waiters } from './waiters.ts';

export type { ReplyConfig } from './reply-poller.ts';

export interface RequestConfig extends RequestFileConfig {
  operationId: string;
  echo: readonly string[];
  /** The fields of the resource that a 201 answer carries (default: all). */
  fields?: readonly string[];
  reply: ReplyConfig;
  /** The status resource's path, for Location headers: `/orders/{id}`. */
  location?: string;
}

export interface Folders extends ReplyFolders {
  inbound: string;
}

function pick(resource: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (resource[f] !== undefined) out[f] = resource[f];
  return out;
}

export class RequestReply {
  private readonly configs: RequestConfig[] = [];
  private readonly pending: PendingRequests;
  private readonly waiters: Waiters;
  private readonly poller: ReplyPoller;
  private statusServed = false;

  constructor(
    adapter: string,
    private readonly pool: SftpPool,
    store: SqlStore,
    private readonly folders: Folders,
    pollIntervalMs: number,
    logger: Logger,
    /** Where the reply poller is registered (only one instance polls); absent: it polls here. */
    private readonly singletons?: Singletons,
  ) {
    this.pending = new PendingRequests(adapter, store);
    // Decisions made by a poller in another instance are seen by looking at the store.
    this.waiters = new Waiters(this.pending, pollIntervalMs, () => this.singletons?.held ?? true);
    this.poller = new ReplyPoller(this.configs, pool, this.pending, this.waiters, folders, pollIntervalMs, logger);
    this.adapter = adapter;
  }

  private readonly adapter: string;

  add(config: RequestConfig): void {
    this.configs.push(config);
  }

  /** The status resource is served (from the pending-requests store), with or without request bindings. */
  serveStatus(): void {
    this.statusServed = true;
  }

  get active(): boolean {
    return this.configs.length > 0;
  }

  /** Reply files applied, quarantined; for tests and health. */
  get counts(): { applied: number; quarantined: number; polls: number } {
    return this.poller.counts;
  }

  get lastPollError(): string | undefined {
    return this.poller.lastPollError;
  }

  /** Creates the pending-requests table when a binding needs it, and starts polling for replies. */
  async start(): Promise<void> {
    if (this.active || this.statusServed) await this.pending.migrate();
    if (!this.active) return;
    if (this.singletons) this.singletons.register(`reply polling (${this.adapter})`, { start: () => this.poller.start(), stop: () => this.poller.stop() });
    else this.poller.start();
  }

  async stop(): Promise<void> {
    await this.poller.stop();
  }

  /** One look at the reply folder: applies every reply file found. */
  pollOnce(): Promise<void> {
    return this.poller.pollOnce();
  }

  /** The status resource of one id. */
  status(id: string): Promise<Record<string, unknown> | undefined> {
    return this.pending.body(id);
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
    const file = encodeOrderFile(c, items, ids, fileId, now);
    const refused = file.refused;
    if (!c.batchItems && refused.size > 0) {
      const [reason] = refused.get(0)!;
      throw problems.unprocessable(`the order cannot be written in the mainframe's record format: ${reason}`, [{ field: reason.split(':')[0], message: reason }]);
    }
    const accepted = items.map((_v, i) => i).filter((i) => !refused.has(i));

    // Remember the requests before writing, so that a crash after the write still finds them.
    const existing = await this.pending.rowsOf(accepted.map((i) => ids[i]));
    if (existing.some((r) => r.request_hash !== requestHash)) {
      throw new Problem(PROBLEMS.idempotencyKeyReused, { detail: `the ${c.id.header} ${key} was used before with a different request body` });
    }
    for (const i of accepted) {
      if (existing.some((r) => r.id === ids[i])) continue;
      const resource: Record<string, unknown> = { [c.id.field]: ids[i], status: 'pending', createdAt: now };
      for (const f of c.echo) if (items[i][f] !== undefined) resource[f] = items[i][f];
      await this.pending.remember({ id: ids[i], fileId, operation: c.operationId, index: i, requestHash, resource, now });
    }
    const needsWrite = accepted.length > 0 && !(existing.length === accepted.length && existing.every((r) => Number(r.written) === 1));
    if (needsWrite && accepted.length > 0) {
      annotateAttempt(req, () => ({ 'ficus.sftp.remote_file': `${this.folders.inbound}/${file.name}`, 'ficus.sftp.record_count': accepted.length }));
      await writeOrderFile(this.pool, this.folders.inbound, file.name, file.data, req.signal);
      await this.pending.markWritten(fileId);
    }
    if (accepted.length > 0)
      await this.waiters.waitFor(
        accepted.map((i) => ids[i]),
        c.reply.timeoutMs,
        req.signal,
      );
    const rows = new Map((await this.pending.rowsOf(accepted.map((i) => ids[i]))).map((r) => [r.id, JSON.parse(r.body) as Record<string, unknown>]));

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
    if (order.status === 'accepted') return { status: 201, body: c.fields ? pick(order, c.fields) : order, headers };
    if (order.status === 'pending') return { status: 202, body: order, headers };
    const rej = order.rejection as { code: string; reason: string } | undefined;
    throw new Problem(PROBLEMS.unprocessable, {
      detail: rej ? `${rej.code}: ${rej.reason}` : `the order ${fileId} ${String(order.status)}`,
      extensions: { orderId: fileId, rejection: rej },
      headers,
    });
  }
}
