/**
 * Export files through the mainframe adapter (sample in-process SFTP server): each file is downloaded
 * and decoded once however many operations read it, an unchanged file is not decoded again, a file
 * over the size limit is refused clearly (and the previous export goes on being served), and requests
 * are answered from the previous export while a newer one loads.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeProductExport, exportFileName } from '../../sample/mainframe/product-export.ts';
import { sampleCatalogue } from '../../sample/mainframe/catalogue.ts';
import { registerCodePages } from '../../src/records/code-pages.ts';
import { SftpSession } from '../../src/kinds/sftp/sftp-pool.ts';
import { startGateway } from '../helpers/gateway.ts';
import { makeProject, startMainframe, type Mainframe } from './support.ts';

registerCodePages();

type Gw = Awaited<ReturnType<typeof startGateway>>;

const DAY = (d: number) => new Date(Date.UTC(2026, 10, d, 22, 0, 0));

describe('export files of the mainframe adapter', () => {
  let mf: Mainframe;
  let project: ReturnType<typeof makeProject> | undefined;
  let gw: Gw | undefined;
  const original = SftpSession.prototype.readStream;
  /** Paths downloaded, one entry per download. */
  let downloads: string[];
  /** Downloads of a path containing this are held back until `release()`. */
  let hold: { name: string; released: Promise<void>; release(): void } | undefined;
  let lists: number;

  beforeEach(async () => {
    downloads = [];
    lists = 0;
    hold = undefined;
    const list = SftpSession.prototype.list;
    vi.spyOn(SftpSession.prototype, 'list').mockImplementation(function (this: SftpSession, dir: string) {
      if (dir.includes('exports')) lists++;
      return list.call(this, dir);
    });
    vi.spyOn(SftpSession.prototype, 'readStream').mockImplementation(function (this: SftpSession, path: string, hwm?: number): Readable {
      if (path.includes('PRODUCTS')) downloads.push(path.slice(path.lastIndexOf('/') + 1));
      const real = original.call(this, path, hwm);
      const h = hold;
      if (!h || !path.includes(h.name)) return real;
      const out = new PassThrough();
      void h.released.then(() => real.pipe(out));
      out.once('close', () => real.destroy());
      return out;
    });
    mf = await startMainframe('in-process');
    mkdirSync(join(mf.root, 'exports'), { recursive: true });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    hold?.release();
    await gw?.close();
    gw = undefined;
    await mf?.stop();
    project?.dispose();
    project = undefined;
  });

  function writeExport(day: number, products = mf.catalogue, seq = day): string {
    const name = exportFileName(DAY(day), seq);
    writeFileSync(join(mf.root, 'exports', name), encodeProductExport(products, DAY(day), seq));
    return name;
  }

  async function start(read: { refreshMs: number; extra?: string }): Promise<Gw> {
    project = makeProject({ auth: 'password', adapterEdits: (t) => t.replace('refreshMs: 30000', `refreshMs: ${read.refreshMs}${read.extra ? `\n      ${read.extra}` : ''}`) });
    gw = await startGateway(project.root, mf.env, { level: 'info' });
    return gw;
  }

  async function get(path: string) {
    const res = await fetch(gw!.url + path, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, source: res.headers.get('x-data-source'), body: (await res.json()) as Record<string, unknown> };
  }

  it('is downloaded and decoded once when two operations read it at the same time', async () => {
    const name = writeExport(24);
    await start({ refreshMs: 600_000 });
    const [one, page] = await Promise.all([get('/products/HW-1042'), get('/products?limit=5')]);
    expect(one.status).toBe(200);
    expect(page.status).toBe(200);
    expect(one.source).toBe(name);
    expect(page.source).toBe(name);
    expect(downloads).toEqual([name]);
  });

  it('is not downloaded again when a refresh finds it unchanged, nor is a refused newer file', async () => {
    const good = writeExport(24);
    // A newer file cut short: refused (no trailer), and the older one served.
    const at = DAY(25);
    const bytes = encodeProductExport(mf.catalogue, at, 25);
    const broken = exportFileName(at, 25);
    writeFileSync(join(mf.root, 'exports', broken), bytes.subarray(0, bytes.length - 160));
    await start({ refreshMs: 0 });
    // Requests until the folder has been looked at six times (a request starts a refresh unless one is under way).
    await vi.waitFor(
      async () => {
        const r = await get('/products/HW-1042');
        expect(r.status).toBe(200);
        expect(r.source).toBe(good);
        expect(lists).toBeGreaterThanOrEqual(6);
      },
      { timeout: 20_000, interval: 20 },
    );
    expect(downloads.filter((d) => d === good)).toHaveLength(1);
    expect(downloads.filter((d) => d === broken)).toHaveLength(1);
  });

  it('is loaded again when it is rewritten under the same name', async () => {
    const name = writeExport(24);
    await start({ refreshMs: 0 });
    expect((await get('/products/HW-1042')).body.stockQuantity).toBe(mf.catalogue.find((p) => p.sku === 'HW-1042')!.stockQuantity);
    writeFileSync(
      join(mf.root, 'exports', name),
      encodeProductExport(
        mf.catalogue.map((p) => ({ ...p, stockQuantity: 4321 })),
        DAY(24),
        24,
      ),
    );
    // The SFTP listing has whole seconds: a rewrite within the same second may look unchanged (the size is the same).
    utimesSync(join(mf.root, 'exports', name), new Date(), new Date(Date.now() + 5_000));
    await vi.waitFor(async () => expect((await get('/products/HW-1042')).body.stockQuantity).toBe(4321), { timeout: 10_000, interval: 20 });
    expect(downloads.filter((d) => d === name)).toHaveLength(2);
  });

  it('finds every record of a larger file by key, and pages through it in order', async () => {
    const products = sampleCatalogue(4000);
    writeExport(24, products);
    await start({ refreshMs: 600_000 });
    for (const p of [products[0], products[1234], products[3999]]) {
      const r = await get(`/products/${p.sku}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ sku: p.sku, description: p.description, stockQuantity: p.stockQuantity });
    }
    expect((await get('/products/ZZ-9999')).status).toBe(404);
    const first = await get('/products?limit=50');
    const second = await get(`/products?limit=50&cursor=${String(first.body.nextCursor)}`);
    expect((second.body.items as { sku: string }[]).map((i) => i.sku)).toEqual(products.slice(50, 100).map((p) => p.sku));
  });

  it('over the size limit is refused with an error naming the adapter, the file and the limit', async () => {
    const name = writeExport(24); // 32 records of 80 bytes: 2,560 bytes
    await start({ refreshMs: 0, extra: 'maxFileSize: 2KB' });
    const res = await fetch(`${gw!.url}/products/HW-1042`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await res.json()) as { type: string; detail: string };
    expect(problem.detail).toContain('mainframe-files');
    expect(problem.detail).toContain(name);
    expect(problem.detail).toContain('2560 bytes, more than the limit of 2kB (read.maxFileSize of adapter mainframe-files)');
    expect(downloads).toEqual([]);
  });

  it('over the size limit leaves the previous export served', async () => {
    const small = writeExport(24);
    await start({ refreshMs: 0, extra: 'maxFileSize: 4KB' });
    expect((await get('/products/HW-1042')).source).toBe(small);
    const big = writeExport(25, sampleCatalogue(100)); // 8,160 bytes
    await vi.waitFor(
      async () => {
        await get('/products/HW-1042');
        expect(gw!.logLines.some((l) => l.msg === 'export file skipped' && l.file === big && String(l.reason).includes('limit of 4kB'))).toBe(true);
      },
      { timeout: 10_000, interval: 20 },
    );
    const r = await get('/products/HW-1042');
    expect(r.status).toBe(200);
    expect(r.source).toBe(small);
    expect(downloads).toEqual([small]);
  });

  it('serves the previous export while a newer one is still loading', async () => {
    const old = writeExport(24);
    await start({ refreshMs: 0 });
    expect((await get('/products/HW-1042')).source).toBe(old);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const newer = exportFileName(DAY(25), 25);
    hold = { name: newer, released, release };
    writeExport(
      25,
      mf.catalogue.map((p) => ({ ...p, stockQuantity: 7 })),
    );
    // A request starts the refresh; the newer file's download is held back.
    void fetch(`${gw!.url}/products/HW-1042`).then(
      (r) => r.arrayBuffer(),
      () => undefined,
    );
    await vi.waitFor(() => expect(downloads).toContain(newer), { timeout: 10_000, interval: 10 });
    // Meanwhile, requests are answered at once from the previous export.
    for (let i = 0; i < 3; i++) {
      const r = await get('/products/HW-1042');
      expect(r.status).toBe(200);
      expect(r.source).toBe(old);
    }
    release();
    await vi.waitFor(async () => expect((await get('/products/HW-1042')).source).toBe(newer), { timeout: 10_000, interval: 20 });
    expect((await get('/products/HW-1042')).body.stockQuantity).toBe(7);
  });
});
