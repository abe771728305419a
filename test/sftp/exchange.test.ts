/**
 * The mainframe adapter end to end, through the gateway's HTTP API, against a real OpenSSH server
 * and against the sample's in-process SFTP server: products from the EBCDIC export, orders through
 * the batch job's inbound drop and reply files.
 */
import { existsSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProductExport, exportFileName, writeProductExport } from '../../sample/mainframe/product-export.ts';
import { registerCodePages } from '../../src/records/code-pages.ts';
import { startGateway } from '../helpers/gateway.ts';

registerCodePages();
import { makeProject, startMainframe, type Mainframe } from './support.ts';

type Gw = Awaited<ReturnType<typeof startGateway>>;

function post(gw: Gw, path: string, key: string, body: unknown) {
  return fetch(gw.url + path, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
}

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    let v: T | undefined;
    try {
      v = await fn();
    } catch {
      v = undefined;
    }
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(['openssh', 'in-process'] as const)('the mainframe adapter over %s SFTP', (server) => {
  let mf: Mainframe;
  let project: ReturnType<typeof makeProject>;
  let gw: Gw;
  let keyNo = 0;
  const key = () => `${server}-key-${++keyNo}-${Date.now()}`;

  beforeAll(async () => {
    mf = await startMainframe(server, { replyDelayMs: 30 });
    writeProductExport(mf.root, mf.catalogue, { at: new Date(Date.UTC(2026, 10, 24, 22, 0, 0)) });
    project = makeProject({ auth: server === 'openssh' ? 'key' : 'password', adapterEdits: (t) => t.replace('refreshMs: 30000', 'refreshMs: 0') });
    gw = await startGateway(project.root, mf.env, { level: 'warn' });
  });
  afterAll(async () => {
    await gw?.close();
    await mf?.stop();
    project?.dispose();
  });

  it('serves a product from the EBCDIC export with its freshness', async () => {
    const res = await fetch(`${gw.url}/products/HW-1042`);
    expect(res.status).toBe(200);
    const p = mf.catalogue.find((x) => x.sku === 'HW-1042')!;
    expect(await res.json()).toEqual({
      sku: p.sku,
      description: p.description,
      unitPrice: p.unitPrice,
      currency: 'EUR',
      stockQuantity: p.stockQuantity,
      status: p.status,
      lastChangedOn: p.lastChangedOn,
    });
    expect(res.headers.get('x-data-as-of')).toBe('2026-11-24T22:00:00.000Z');
    expect(Number(res.headers.get('x-data-age-seconds'))).toBeGreaterThan(0);
    expect(res.headers.get('x-data-source')).toMatch(/^PRODUCTS\.D20261124\.T220000\.N\d{5}\.DAT$/);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_sftp_export_age_seconds\{adapter="mainframe-files",operation="getProduct"\} \d+/);
    expect((await fetch(`${gw.url}/products/ZZ-0000`)).status).toBe(404);
  });

  it('pages through the product list with an opaque cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const res = await fetch(`${gw.url}/products?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: { sku: string }[]; nextCursor: string | null };
      seen.push(...page.items.map((i) => i.sku));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(mf.catalogue.map((p) => p.sku));
  });

  it('moves to a newer complete export, and skips a newer one that is incomplete', async () => {
    const changed = mf.catalogue.map((p) => (p.sku === 'HW-1042' ? { ...p, stockQuantity: 999 } : p));
    const name = writeProductExport(mf.root, changed, { at: new Date(Date.UTC(2026, 10, 25, 22, 0, 0)) });
    // The previous export is served while the newer one loads; then the newer one.
    let res = await until(async () => {
      const r = await fetch(`${gw.url}/products/HW-1042`);
      return r.headers.get('x-data-source') === name ? r : (await r.arrayBuffer(), undefined);
    });
    expect(((await res.json()) as { stockQuantity: number }).stockQuantity).toBe(999);
    // A newer file cut short (the exporter died): no trailer, so the last complete one is served.
    const at = new Date(Date.UTC(2026, 10, 26, 22, 0, 0));
    const bytes = encodeProductExport(
      changed.map((p) => ({ ...p, stockQuantity: 1 })),
      at,
      99,
    );
    writeFileSync(join(mf.root, 'exports', exportFileName(at, 99)), bytes.subarray(0, bytes.length - 160));
    await until(async () => {
      await (await fetch(`${gw.url}/products/HW-1042`)).arrayBuffer();
      return gw.logLines.some((l) => l.msg === 'export file skipped' && l.file === exportFileName(at, 99)) || undefined;
    });
    res = await fetch(`${gw.url}/products/HW-1042`);
    expect(((await res.json()) as { stockQuantity: number }).stockQuantity).toBe(999);
    expect(res.headers.get('x-data-source')).toBe(name);
  });

  it('places an order: an EBCDIC record in the inbound drop, answered from the reply file with 201', async () => {
    const k = key();
    const res = await post(gw, '/orders', k, {
      customerId: 1001,
      reference: 'PO-2291',
      requestedDelivery: '2026-12-01',
      lines: [
        { sku: 'HW-1042', quantity: 3 },
        { sku: 'HW-1043', quantity: 1 },
      ],
    });
    expect(res.status).toBe(201);
    const order = (await res.json()) as Record<string, unknown>;
    expect(order).toMatchObject({
      status: 'accepted',
      customerId: 1001,
      reference: 'PO-2291',
      lines: [
        { sku: 'HW-1042', quantity: 3 },
        { sku: 'HW-1043', quantity: 1 },
      ],
    });
    expect(order.orderId).toMatch(/^O[0-9A-Z]{15}$/);
    expect(order.mainframeOrderNo).toMatch(/^M\d{9}$/);
    expect(res.headers.get('location')).toBe(`/orders/${String(order.orderId)}`);
    // The reply file was archived; the status resource tells the same.
    await until(() => readdirSync(join(mf.root, 'archive')).includes(`REPLY.${String(order.orderId)}.DAT`));
    expect(readdirSync(join(mf.root, 'outbound')).filter((f) => f.includes(String(order.orderId)))).toEqual([]);
    const status = await fetch(`${gw.url}/orders/${String(order.orderId)}`);
    expect(await status.json()).toEqual(order);
    // The inbound file the batch job read was EBCDIC fixed-width: 'D' is 0xC4 at the start of record 2.
    const done = readdirSync(join(mf.root, 'inbound', 'done')).find((f) => f.startsWith(`ORDERS.${String(order.orderId)}.DAT`))!;
    const inbound = readFileSync(join(mf.root, 'inbound', 'done', done));
    expect(inbound.length).toBe(3 * 255);
    expect(inbound[255]).toBe(0xc4);
  });

  it('answers 422 with the batch job’s own words when it rejects the order', async () => {
    const res = await post(gw, '/orders', key(), { customerId: 1001, lines: [{ sku: 'XX-9999', quantity: 1 }] });
    expect(res.status).toBe(422);
    const p = (await res.json()) as Record<string, unknown>;
    expect(p).toMatchObject({ status: 422, detail: 'E102: UNKNOWN SKU XX-9999', rejection: { code: 'E102', reason: 'UNKNOWN SKU XX-9999' } });
    const status = (await (await fetch(`${gw.url}/orders/${String(p.orderId)}`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ status: 'rejected', rejection: { code: 'E102', reason: 'UNKNOWN SKU XX-9999' } });
  });

  it('refuses an order the record format cannot carry, and writes nothing', async () => {
    const before = mf.job.filesProcessed;
    const res = await post(gw, '/orders', key(), { customerId: 1001, reference: 'café ☕', lines: [{ sku: 'HW-1042', quantity: 1 }] });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/reference: character "☕" \(U\+2615\) at position 6 is not in code page cp037/);
    await new Promise((r) => setTimeout(r, 100));
    expect(mf.job.filesProcessed).toBe(before);
  });

  it('gives a redelivered request the same order id and the original outcome; the job processes it once', async () => {
    // Straight to the adapter, as the outbox of the writes feature redelivers (the gateway's own
    // idempotency layer would answer a plain HTTP retry before it reaches the adapter).
    const cfg = gw.gateway.config.adapters.find((a) => a.name === 'mainframe-files')!;
    const adapter = gw.gateway.adapters.find((a) => a.name === 'mainframe-files')!.adapter;
    const handler = await adapter.bind({
      operation: gw.gateway.config.contract.operation('createOrder'),
      binding: cfg.bindings.find((b) => b.operationId === 'createOrder')!.binding,
      key: 'operations.createOrder',
      fail: (k, problem) => {
        throw new Error(`${k}: ${problem}`);
      },
    });
    const k = key();
    const call = (body: unknown) =>
      handler({ operationId: 'createOrder', method: 'post', pathParams: {}, query: {}, headers: { 'idempotency-key': k }, body, requestId: 'r', signal: new AbortController().signal });
    const body = { customerId: 1002, lines: [{ sku: 'HW-1044', quantity: 2 }] };
    const first = await call(body);
    expect(first.status).toBe(201);
    const decided = mf.job.ordersDecided;
    const files = mf.job.filesProcessed;
    const again = await call(body);
    expect(again).toEqual(first);
    expect(mf.job.ordersDecided).toBe(decided);
    expect(mf.job.filesProcessed).toBe(files); // not even written again
    // The same answer as the writes' idempotency hook gives for a reused key (test/writes/idempotency.test.ts).
    await expect(call({ ...body, customerId: 1003 })).rejects.toMatchObject({
      status: 422,
      typeName: 'idempotency-key-reused',
      detail: `the Idempotency-Key ${k} was used before with a different request body`,
    });
  });

  it('the batch job answers an order id it has seen with the original outcome (its control file)', async () => {
    const first = await post(gw, '/orders', key(), { customerId: 1008, lines: [{ sku: 'HW-1044', quantity: 1 }] });
    const order = (await first.json()) as { orderId: string; mainframeOrderNo: string };
    // The same order file dropped again by hand (a redelivery after a crash, say):
    const done = readdirSync(join(mf.root, 'inbound', 'done')).find((f) => f.startsWith(`ORDERS.${order.orderId}.DAT`))!;
    await until(() => readdirSync(join(mf.root, 'archive')).includes(`REPLY.${order.orderId}.DAT`));
    const decided = mf.job.ordersDecided;
    writeFileSync(join(mf.root, 'inbound', `ORDERS.${order.orderId}.DAT`), readFileSync(join(mf.root, 'inbound', 'done', done)));
    const reply = await until(() => (existsSync(join(mf.root, 'outbound', `REPLY.${order.orderId}.DAT`)) ? readFileSync(join(mf.root, 'outbound', `REPLY.${order.orderId}.DAT`)) : undefined));
    expect(mf.job.ordersDecided).toBe(decided);
    expect(reply.includes(iconv.encode(order.mainframeOrderNo, 'cp037'))).toBe(true); // the same mainframe order number, in EBCDIC
  });

  it('takes a batch as one file and answers per order: accepted ones and rejected ones with reasons', async () => {
    const res = await post(gw, '/orders/batch', key(), {
      orders: [
        { customerId: 1001, lines: [{ sku: 'HW-1042', quantity: 1 }] },
        { customerId: 1002, reference: 'naïve €', lines: [{ sku: 'HW-1043', quantity: 1 }] },
        { customerId: 1003, lines: [{ sku: 'XX-0000', quantity: 1 }] },
        { customerId: 1004, lines: [{ sku: 'HW-1049', quantity: 5 }] },
      ],
    });
    expect(res.status).toBe(200);
    const out = (await res.json()) as { accepted: { index: number; order: { status: string; orderId: string } }[]; rejected: { index: number; reasons: string[] }[] };
    expect(out.accepted.map((a) => [a.index, a.order.status])).toEqual([
      [0, 'accepted'],
      [3, 'accepted'],
    ]);
    expect(out.rejected).toEqual([
      { index: 1, reasons: ['reference: character "€" (U+20AC) at position 7 is not in code page cp037'] },
      { index: 2, reasons: ['E102: UNKNOWN SKU XX-0000'] },
    ]);
    expect(new Set(out.accepted.map((a) => a.order.orderId)).size).toBe(2);
  });

  it('answers 202 with a status resource when the reply is late, which resolves when the reply comes', async () => {
    mf.job.replyDelayMs = 1_800; // longer than the reply timeout (1 s in these tests)
    try {
      const res = await post(gw, '/orders', key(), { customerId: 1005, lines: [{ sku: 'HW-1046', quantity: 1 }] });
      expect(res.status).toBe(202);
      const pending = (await res.json()) as { orderId: string; status: string };
      expect(pending.status).toBe('pending');
      expect((await (await fetch(`${gw.url}/orders/${pending.orderId}`)).json()) as object).toMatchObject({ status: 'pending' });
      const resolved = await until(async () => {
        const s = (await (await fetch(`${gw.url}/orders/${pending.orderId}`)).json()) as { status: string };
        return s.status === 'accepted' ? s : undefined;
      }, 6_000);
      expect(resolved).toMatchObject({ orderId: pending.orderId, status: 'accepted' });
    } finally {
      mf.job.replyDelayMs = 30;
    }
  });

  it('quarantines a reply file it cannot parse, with the reason beside it', async () => {
    // A pending order, then its reply replaced by garbage before the gateway reads it.
    mf.job.replyDelayMs = 2_200;
    const res = await post(gw, '/orders', key(), { customerId: 1006, lines: [{ sku: 'HW-1047', quantity: 1 }] });
    const { orderId } = (await res.json()) as { orderId: string };
    expect(res.status).toBe(202);
    await gw.close(); // no gateway polls while the broken file is put in place
    const name = `REPLY.${orderId}.DAT`;
    writeFileSync(join(mf.root, 'outbound', `${name}.x`), Buffer.alloc(100, 0x40));
    renameSync(join(mf.root, 'outbound', `${name}.x`), join(mf.root, 'outbound', name));
    mf.job.replyDelayMs = 30;
    gw = await startGateway(project.root, mf.env, { level: 'warn' });
    await until(() => existsSync(join(mf.root, 'quarantine', `${name}.reason.txt`)));
    expect(readFileSync(join(mf.root, 'quarantine', `${name}.reason.txt`), 'utf8')).toMatch(/record 1 \(byte 0\): unknown record type code "" \(known: H, D, T\)/);
    expect(existsSync(join(mf.root, 'quarantine', name))).toBe(true);
    expect(existsSync(join(mf.root, 'outbound', name))).toBe(false);
    // What is quarantined holds customers' orders: readable by the transfer user only (the in-process
    // server of the sample ignores file modes; OpenSSH applies them).
    if (server === 'openssh') expect([name, `${name}.reason.txt`].map((f) => (statSync(join(mf.root, 'quarantine', f)).mode & 0o777).toString(8))).toEqual(['600', '600']);
  });

  it('keeps pending orders across a gateway restart and resolves them afterwards', async () => {
    mf.job.replyDelayMs = 1_600;
    const res = await post(gw, '/orders', key(), { customerId: 1007, lines: [{ sku: 'HW-1048', quantity: 2 }] });
    expect(res.status).toBe(202);
    const { orderId } = (await res.json()) as { orderId: string };
    mf.job.replyDelayMs = 30;
    await gw.close();
    gw = await startGateway(project.root, mf.env, { level: 'warn' });
    const resolved = await until(async () => {
      const s = (await (await fetch(`${gw.url}/orders/${orderId}`)).json()) as { status: string };
      return s.status === 'accepted' ? s : undefined;
    }, 6_000);
    expect(resolved).toMatchObject({ orderId, status: 'accepted', customerId: 1007 });
  });
});
