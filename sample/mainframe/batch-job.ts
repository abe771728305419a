/**
 * The sample mainframe's order entry batch job (ORDB100). It watches `<root>/inbound` for order
 * files (`*.DAT`; files still being written carry another name), reads each with the ORDIN01
 * layout, decides every order, waits the configured reply delay, and writes the reply file
 * `<root>/outbound/REPLY.<fileId>.DAT` (ORDRP01 layout; temporary name, then renamed). Processed
 * files move to `inbound/done/`, unreadable ones to `inbound/error/` with a `.reason` beside them.
 *
 * Like a real batch job it keeps a control file (`control/ORDB100.CTL`, one JSON line per order):
 * an order id seen before is not processed again, and its reply repeats the original outcome. That
 * is what makes a redelivered order file (same order ids) harmless.
 *
 * Decisions: a line with an unknown SKU is rejected (E102), a discontinued product too (E103); of
 * the rest, a share `rejectRate` (chosen by a hash of the order id, so repeatable) is rejected for a
 * credit hold (E201); the others are accepted with a mainframe order number.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { loadRecordFileSpec } from '../../src/records/layout-file.ts';
import { decodeRecordFile, encodeRecordFile } from '../../src/records/record-file.ts';
import type { CatalogueProduct } from './catalogue.ts';
import { MAINFRAME_LAYOUTS } from './product-export.ts';

export interface BatchJobOptions {
  root: string;
  catalogue: readonly CatalogueProduct[];
  replyDelayMs?: number;
  rejectRate?: number;
  /** How often the inbound folder is scanned besides file-system events. */
  pollMs?: number;
}

export interface Outcome {
  orderId: string;
  status: 'accepted' | 'rejected';
  mfOrderNo?: string;
  code?: string;
  reason?: string;
}

export interface BatchJob {
  replyDelayMs: number;
  rejectRate: number;
  /** Order files processed so far. */
  readonly filesProcessed: number;
  /** Orders decided so far (duplicates not counted). */
  readonly ordersDecided: number;
  stop(): Promise<void>;
}

function hashFraction(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) / 0x1_0000_0000;
}

export function startBatchJob(opts: BatchJobOptions): BatchJob {
  const inbound = join(opts.root, 'inbound');
  const outbound = join(opts.root, 'outbound');
  const control = join(opts.root, 'control');
  for (const d of [inbound, join(inbound, 'done'), join(inbound, 'error'), outbound, control]) mkdirSync(d, { recursive: true });
  const ctlFile = join(control, 'ORDB100.CTL');
  const decided = new Map<string, Outcome>();
  if (existsSync(ctlFile)) {
    for (const line of readFileSync(ctlFile, 'utf8').split('\n'))
      if (line.trim()) {
        const o = JSON.parse(line) as Outcome;
        decided.set(o.orderId, o);
      }
  }
  let nextNo = decided.size + 1;
  const orderSpec = loadRecordFileSpec(join(MAINFRAME_LAYOUTS, 'orders.yaml'));
  const replySpec = loadRecordFileSpec(join(MAINFRAME_LAYOUTS, 'replies.yaml'));
  const catalogue = new Map(opts.catalogue.map((p) => [p.sku, p]));
  const inProgress = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  let filesProcessed = 0;
  let ordersDecided = 0;

  const job: BatchJob = {
    replyDelayMs: opts.replyDelayMs ?? 500,
    rejectRate: opts.rejectRate ?? 0.1,
    get filesProcessed() {
      return filesProcessed;
    },
    get ordersDecided() {
      return ordersDecided;
    },
    async stop() {
      stopped = true;
      clearInterval(poller);
      watcher?.close();
      for (const t of timers) clearTimeout(t);
    },
  };

  const decide = (orderId: string, lines: { orSku?: unknown }[]): Outcome => {
    const seen = decided.get(orderId);
    if (seen) return seen;
    let outcome: Outcome | undefined;
    for (const l of lines) {
      const p = catalogue.get(String(l.orSku));
      if (!p) outcome = { orderId, status: 'rejected', code: 'E102', reason: `UNKNOWN SKU ${String(l.orSku)}` };
      else if (p.status === 'discontinued') outcome = { orderId, status: 'rejected', code: 'E103', reason: `PRODUCT ${p.sku} DISCONTINUED` };
      if (outcome) break;
    }
    outcome ??=
      hashFraction(orderId) < job.rejectRate
        ? { orderId, status: 'rejected', code: 'E201', reason: 'CUSTOMER ON CREDIT HOLD' }
        : { orderId, status: 'accepted', mfOrderNo: `M${String(nextNo++).padStart(9, '0')}` };
    decided.set(orderId, outcome);
    appendFileSync(ctlFile, JSON.stringify(outcome) + '\n');
    ordersDecided++;
    return outcome;
  };

  const processFile = async (name: string): Promise<void> => {
    const path = join(inbound, name);
    const started = Date.now();
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      return; // gone already
    }
    const fileId = /^ORDERS\.(.+)\.DAT$/.exec(name)?.[1] ?? name.replace(/\.DAT$/, '');
    const { rows, summary } = await decodeRecordFile([bytes], orderSpec);
    const outcomes: Outcome[] = [];
    for (const r of rows) if (r.role === 'detail') outcomes.push(decide(String(r.value.orOrderId), (r.value.orLine as { orSku?: unknown }[]) ?? []));
    const fileProblem = summary.problems.find((p) => p.recordType === undefined || p.recordType === 'trailer' || p.recordType === 'header');
    for (const p of summary.problems) {
      if (p.recordType !== 'detail') continue;
      const raw = bytes.subarray(p.offset - (p.offset % orderSpec.recordLength) + 1, p.offset - (p.offset % orderSpec.recordLength) + 17);
      const orderId = orderSpec.types[0].codec.page.name ? decodeText(raw) : '';
      if (orderId) outcomes.push({ orderId, status: 'rejected', code: 'E100', reason: `RECORD ${p.recordNo} INVALID: ${p.field ?? ''} ${p.reason}`.slice(0, 48) });
    }
    if (fileProblem) {
      writeFileSync(join(inbound, 'error', `${name}.reason`), summary.problems.map((p) => `record ${p.recordNo} byte ${p.offset}: ${p.field ?? ''} ${p.reason}`).join('\n') + '\n');
      for (const o of outcomes) if (o.status === 'accepted') Object.assign(o, { status: 'rejected', mfOrderNo: undefined, code: 'E900', reason: `FILE REJECTED: ${fileProblem.reason}`.slice(0, 48) });
    }
    const wait = Math.max(0, job.replyDelayMs - (Date.now() - started));
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, wait);
      timers.add(t);
    });
    if (stopped) return;
    const now = new Date();
    const reply = encodeRecordFile(replySpec, [
      { type: 'header', value: { rhFileId: fileId, rhProcessedDate: now.toISOString().slice(0, 10), rhProcessedTime: Number(now.toISOString().slice(11, 19).replace(/:/g, '')) } },
      ...outcomes.map((o) => ({
        type: 'detail',
        value: { rrOrderId: o.orderId, rrStatus: o.status, rrMfOrderNo: o.mfOrderNo ?? '', rrRejectCode: o.code ?? '', rrRejectReason: (o.reason ?? '').slice(0, 48) },
      })),
      { type: 'trailer', value: { rtAcceptedCount: outcomes.filter((o) => o.status === 'accepted').length } },
    ]).bytes;
    const target = join(outbound, `REPLY.${fileId}.DAT`);
    if (!existsSync(target)) {
      writeFileSync(`${target}.part`, reply);
      renameSync(`${target}.part`, target);
    }
    try {
      renameSync(path, join(inbound, fileProblem ? 'error' : 'done', `${name}.${Date.now()}`));
    } catch {
      // moved by someone else
    }
    filesProcessed++;
  };

  const decodeText = (raw: Buffer): string => {
    const page = orderSpec.types[0].codec.page;
    let s = '';
    for (const b of raw) s += String.fromCharCode(page.decode[b]);
    return s.trim();
  };

  const scan = () => {
    if (stopped) return;
    let names: string[];
    try {
      names = readdirSync(inbound);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.endsWith('.DAT') || inProgress.has(name)) continue;
      inProgress.add(name);
      processFile(name)
        .catch(() => undefined)
        .finally(() => inProgress.delete(name));
    }
  };
  const poller = setInterval(scan, opts.pollMs ?? 50);
  poller.unref();
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(inbound, () => scan());
  } catch {
    watcher = undefined;
  }
  scan();
  return job;
}
