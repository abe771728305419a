/**
 * Request/reply when two writes of the same order file overlap: the call a caller gave up on (its
 * policy attempt was abandoned, but the SFTP write it started runs on) and the redelivery of the
 * same order (the outbox, a retry, or a second gateway instance). The moves of both are scripted
 * step by step over a file drop with OpenSSH's semantics (a write opens with O_TRUNC; a rename is a
 * link then an unlink, and fails when the target exists), answered by the sample's real batch job.
 */
import { closeSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startBatchJob, type BatchJob } from '../../sample/mainframe/batch-job.ts';
import { sampleCatalogue } from '../../sample/mainframe/catalogue.ts';
import { MAINFRAME_LAYOUTS } from '../../sample/mainframe/product-export.ts';
import type { OperationRequest } from '../../src/kinds/kind.ts';
import { RequestReply, type RequestConfig } from '../../src/kinds/sftp/request-reply.ts';
import type { RemoteFile, SftpPool, SftpSession } from '../../src/kinds/sftp/sftp-pool.ts';
import { Problem } from '../../src/problem.ts';
import { registerCodePages } from '../../src/records/code-pages.ts';
import { loadRecordFileSpec } from '../../src/records/layout-file.ts';
import { openStore, type SqlStore } from '../../src/state/sql-store.ts';
import { memoryLogger } from '../helpers/gateway.ts';

registerCodePages();

const FOLDERS = { inbound: 'inbound', replies: 'outbound', archive: 'archive', quarantine: 'quarantine' };

interface Hooks {
  /** After a write has opened (and truncated) its file, before any byte is written. */
  writeOpened?: (path: string) => Promise<void>;
  /** Before a rename is made. */
  beforeRename?: (from: string, to: string) => Promise<void>;
}

function fsError(err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 2 : 4;
  return Object.assign(new Error((err as Error).message), { code });
}

/** An SFTP "pool" over a local folder, with OpenSSH sftp-server's semantics and hooks between steps. */
function filePool(root: string, hooks: Hooks = {}): SftpPool {
  const at = (p: string) => join(root, p);
  const session = {
    async list(dir: string): Promise<RemoteFile[]> {
      return readdirSync(at(dir))
        .map((name) => ({ name, st: statSync(join(at(dir), name)) }))
        .filter((f) => f.st.isFile())
        .map((f) => ({ name: f.name, size: f.st.size, mtimeMs: Math.floor(f.st.mtimeMs / 1000) * 1000 }));
    },
    async read(path: string): Promise<Buffer> {
      try {
        return readFileSync(at(path));
      } catch (err) {
        throw fsError(err);
      }
    },
    async write(path: string, data: Buffer): Promise<void> {
      const fd = openSync(at(path), 'w');
      try {
        await hooks.writeOpened?.(path);
        writeSync(fd, data);
      } finally {
        closeSync(fd);
      }
    },
    async rename(from: string, to: string): Promise<void> {
      await hooks.beforeRename?.(from, to);
      try {
        linkSync(at(from), at(to));
        unlinkSync(at(from));
      } catch (err) {
        throw fsError(err);
      }
    },
    async remove(path: string): Promise<void> {
      try {
        unlinkSync(at(path));
      } catch (err) {
        throw fsError(err);
      }
    },
    async exists(path: string): Promise<boolean> {
      return existsSync(at(path));
    },
    async mkdirs(path: string): Promise<void> {
      mkdirSync(at(path), { recursive: true });
    },
  };
  const pool = { where: 'sftp://test@local-folder', use: <T>(fn: (s: SftpSession) => Promise<T>) => fn(session as unknown as SftpSession) };
  return pool as unknown as SftpPool;
}

function orderConfig(timeoutMs: number): RequestConfig {
  return {
    operationId: 'createOrder',
    spec: loadRecordFileSpec(join(MAINFRAME_LAYOUTS, 'orders.yaml')),
    record: 'detail',
    file: 'ORDERS.{fileId}.DAT',
    header: { ohFileId: '{fileId}', ohCreatedDate: '{date}', ohCreatedTime: '{time}' },
    trailer: {},
    id: { field: 'orderId', record: 'orOrderId', prefix: 'O', length: 16, header: 'Idempotency-Key' },
    map: { customerId: 'orCustomerId', reference: 'orReference', lines: { field: 'orLine', items: { sku: 'orSku', quantity: 'orQuantity' } } },
    echo: ['customerId', 'reference', 'lines'],
    location: '/orders/{id}',
    reply: {
      spec: loadRecordFileSpec(join(MAINFRAME_LAYOUTS, 'replies.yaml')),
      record: 'detail',
      file: 'REPLY.{fileId}.DAT',
      key: 'rrOrderId',
      status: { field: 'rrStatus', accepted: ['accepted'], rejected: ['rejected'] },
      map: { mainframeOrderNo: 'rrMfOrderNo' },
      rejection: { code: 'rrRejectCode', reason: 'rrRejectReason' },
      timeoutMs,
    },
  };
}

function orderRequest(key: string, signal = new AbortController().signal): OperationRequest {
  const sku = sampleCatalogue().find((p) => p.status === 'active')!.sku;
  return {
    operationId: 'createOrder',
    method: 'POST',
    pathParams: {},
    query: {},
    headers: { 'idempotency-key': key },
    body: { customerId: 1001, reference: 'RACE-1', lines: [{ sku, quantity: 2 }] },
    requestId: key,
    signal,
  };
}

/** The HTTP status a call to `handle` ends with (a thrown problem's status, or 0 for anything else). */
async function outcome(p: Promise<{ status: number; body?: unknown }>): Promise<{ status: number; body: unknown }> {
  try {
    const r = await p;
    return { status: r.status, body: r.body };
  } catch (err) {
    return err instanceof Problem ? { status: err.status, body: err.detail } : { status: 0, body: String(err) };
  }
}

function gate(): { open: () => void; passed: Promise<void> } {
  let open!: () => void;
  const passed = new Promise<void>((r) => (open = r));
  return { open, passed };
}

describe('request/reply with overlapping writes of one order file', () => {
  let dir: string;
  let store: SqlStore;
  let job: BatchJob;
  const engines: RequestReply[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ficus-rr-race-'));
    mkdirSync(join(dir, 'root'));
    store = await openStore({ driver: 'sqlite', file: join(dir, 'state.db') });
    job = startBatchJob({ root: join(dir, 'root'), catalogue: sampleCatalogue(), replyDelayMs: 0, rejectRate: 0, pollMs: 10 });
  });

  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop();
    await job.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function engine(hooks: Hooks = {}): Promise<RequestReply> {
    const rr = new RequestReply('mainframe-files', filePool(join(dir, 'root'), hooks), store, FOLDERS, 10, memoryLogger('silent').logger);
    rr.add(orderConfig(15_000));
    await rr.start();
    engines.push(rr);
    return rr;
  }

  it('a redelivery that starts writing while the first write is being published never lets the batch job see a half-written file', async () => {
    const config = orderConfig(15_000);
    // Instance A (the call its caller gave up on) has written its temporary file and is about to rename it.
    const aAtRename = gate();
    const aMayRename = gate();
    const a = await engine({
      beforeRename: async (_from, to) => {
        if (!to.startsWith('inbound/')) return;
        aAtRename.open();
        await aMayRename.passed;
      },
    });
    // Instance B (the redelivery of the same order) opens its file just then, and is slow to fill it.
    const bOpened = gate();
    const bMayWrite = gate();
    const b = await engine({
      writeOpened: async (path) => {
        if (!path.startsWith('inbound/')) return;
        bOpened.open();
        await bMayWrite.passed;
      },
    });

    const first = outcome(a.handle(config, orderRequest('race-key-1')));
    await aAtRename.passed;
    const second = outcome(b.handle(config, orderRequest('race-key-1')));
    await bOpened.passed;
    aMayRename.open();
    // The batch job takes whatever A published before B has written a byte.
    await vi.waitFor(() => expect(job.filesProcessed).toBeGreaterThanOrEqual(1), { timeout: 10_000, interval: 10 });
    bMayWrite.open();

    const [one, two] = await Promise.all([first, second]);
    expect(one.status, JSON.stringify(one.body)).toBe(201);
    expect(two.status, JSON.stringify(two.body)).toBe(201);
    expect((one.body as { orderId: string }).orderId).toBe((two.body as { orderId: string }).orderId);
    expect(readdirSync(join(dir, 'root', 'inbound', 'error'))).toEqual([]);
    expect(job.ordersDecided).toBe(1);
  });

  it('a caller that waits for a reply that does not come leaves no listener behind on its signal', async () => {
    const rr = await engine();
    const caller = new AbortController();
    job.replyDelayMs = 60_000; // the batch job takes the order but does not answer in time
    const config = orderConfig(400);
    const res = await rr.handle(config, orderRequest('slow-key-1', caller.signal));
    expect(res.status).toBe(202);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });
});
