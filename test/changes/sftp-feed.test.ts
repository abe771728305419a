/**
 * The sftp change feed over a real OpenSSH server: each new export of the mainframe's product
 * catalogue is compared key by key with the previous one; products added, changed and removed reach
 * a webhook as signed CloudEvents (the db feed's delivery path), whose data is the contract's
 * Product; a record the layout cannot read is quarantined with its record number and the feed goes
 * on; a feed that crashes midway through a file, started again, sends every change once with the ids
 * a clean run gives.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProductExport, exportFileName } from '../../sample/mainframe/product-export.ts';
import { sampleCatalogue, type CatalogueProduct } from '../../sample/mainframe/catalogue.ts';
import type { Changes } from '../../src/changes/install.ts';
import { EventStore, migrateEvents } from '../../src/changes/event-store.ts';
import { SftpChangeFeed } from '../../src/changes/sftp-feed.ts';
import { sftpFeedSchema } from '../../src/changes/feed-config.ts';
import { loadConfig, loadConfigReport, type AdapterConfig } from '../../src/config/load-config.ts';
import { openStore, type SqlStore } from '../../src/state/sql-store.ts';
import { memoryLogger, startGateway, type StartedGateway } from '../helpers/gateway.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { eventually } from '../helpers/wait.ts';
import { makeProject } from '../sftp/support.ts';
import { HOOK_SECRET, webhookReceiver } from './changes-helpers.ts';

const FEED = `
changes:
  products:
    operation: getProduct
    type: product.updated
    createdType: product.created
    pollInterval: 1h
    batchSize: 7
    start: now
`;

/** Byte offset of PR-UNIT-PRICE (COMP-3) in a product record: after the type, the SKU and the description. */
const PRICE_AT = 1 + 7 + 40;

let seq = 0;
/** Writes an export (each newer than the last) into the server's exports folder, as the mainframe does: a temporary name, then renamed. */
function writeExport(root: string, products: readonly CatalogueProduct[], o: { corrupt?: number; truncate?: boolean } = {}): { name: string; bytes: Buffer } {
  seq++;
  const at = new Date(Date.UTC(2026, 10, 1 + seq, 22));
  const name = exportFileName(at, seq);
  const bytes = encodeProductExport(products, at, seq);
  // Record 1 is the header; product i is record i + 2, at byte (i + 1) * 80. 0xFF bytes are no packed decimal.
  if (o.corrupt !== undefined) bytes.fill(0xff, (o.corrupt + 1) * 80 + PRICE_AT, (o.corrupt + 1) * 80 + PRICE_AT + 5);
  writeFileSync(join(root, 'exports', `${name}.part`), o.truncate ? bytes.subarray(0, bytes.length - 80) : bytes);
  renameSync(join(root, 'exports', `${name}.part`), join(root, 'exports', name));
  return { name, bytes };
}

describe('sftp change feed: each new export compared with the previous one', () => {
  let sshd: Sshd;
  let project: { root: string; dispose(): void };
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;
  let gw: StartedGateway;
  let env: Record<string, string>;
  const catalogue = sampleCatalogue();

  beforeAll(async () => {
    sshd = await startSshd();
    mkdirSync(join(sshd.root, 'exports'), { recursive: true });
    writeExport(sshd.root, catalogue);
    project = makeProject({ auth: 'key', adapterEdits: (text) => text + FEED });
    hook = await webhookReceiver();
    writeFileSync(
      join(project.root, 'ficus.yaml'),
      stringify({
        server: { port: 0, host: '127.0.0.1' },
        log: { level: 'silent' },
        state: { driver: 'sqlite', file: 'var/state.db' },
        events: { delivery: { pollInterval: '100ms', initialDelay: '50ms' }, sinks: { hook: { type: 'webhook', url: `${hook.url}/hooks`, secret: HOOK_SECRET } } },
      }),
    );
    env = {
      MAINFRAME_SFTP_HOST: sshd.host,
      MAINFRAME_SFTP_PORT: String(sshd.port),
      MAINFRAME_SFTP_USER: sshd.username,
      MAINFRAME_SFTP_PRIVATE_KEY: sshd.privateKey,
      MAINFRAME_SFTP_KNOWN_HOSTS: sshd.knownHostsFile,
    };
    gw = await startGateway(project.root, env);
    const events = gw.gateway.feature<Changes>('changes')!.events;
    // The first export is the baseline (start: now): nothing is sent for it.
    await eventually(() => events.watermark('products'), undefined, 'the baseline');
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await hook?.close();
    await sshd?.dispose();
    project?.dispose();
  });

  const changes = () => gw.gateway.feature<Changes>('changes')!;
  const feed = () => changes().feeds.get('products')!;
  const eventsFor = (subject: string) => hook.received.filter((r) => r.event.subject === subject).map((r) => r.event);

  it('sends the products added, changed and removed by a new export, as signed CloudEvents whose data is the contract Product', async () => {
    expect(hook.received).toHaveLength(0);
    const next = catalogue.filter((p) => p.sku !== 'HW-1050').map((p) => (p.sku === 'HW-1041' ? { ...p, unitPrice: 99.95, stockQuantity: 7 } : p));
    next.push({ ...catalogue[0], sku: 'HW-9001', description: 'Brand new product' });
    writeExport(sshd.root, next);
    expect(await feed().poll()).toBe(3);
    await eventually(() => hook.received.length >= 3);
    expect(hook.received.every((r) => r.valid && r.headers['webhook-id'] === r.event.id)).toBe(true);
    expect(eventsFor('HW-1041')).toEqual([
      expect.objectContaining({ specversion: '1.0', type: 'product.updated', ficusfeed: 'products', data: expect.objectContaining({ sku: 'HW-1041', unitPrice: 99.95, stockQuantity: 7 }) }),
    ]);
    expect(eventsFor('HW-9001')).toEqual([expect.objectContaining({ type: 'product.created', data: expect.objectContaining({ sku: 'HW-9001', description: 'Brand new product' }) })]);
    expect(eventsFor('HW-1050')).toEqual([expect.objectContaining({ type: 'product.deleted', data: null })]);
    // The data is the contract's Product, as the gateway serves getProduct.
    const served = (await (await fetch(`${gw.url}/products/HW-1042`)).json()) as Record<string, unknown>;
    expect(Object.keys(eventsFor('HW-1041')[0].data as object).sort()).toEqual(Object.keys(served).sort());
    // The same file polled again sends nothing.
    expect(await feed().poll()).toBe(0);
  });

  it('polls again once stopped and started (a cluster moves the singletons away and back)', async () => {
    await feed().stop();
    feed().start();
    // The same export as before: nothing new, and no "the change feed is stopping" left over from the stop.
    expect(await feed().poll()).toBe(0);
  });

  it('quarantines a record the layout cannot read, with its record number, and goes on with the rest of the file', async () => {
    const before = hook.received.length;
    const products = catalogue.filter((p) => p.sku !== 'HW-1050').map((p) => (p.sku === 'HW-1043' ? { ...p, description: 'Changed beside a bad record' } : p));
    products.push({ ...catalogue[0], sku: 'HW-9001', description: 'Brand new product' });
    // HW-1041 (index 1) goes back to its old price, but its record is broken: neither changed nor removed.
    const bad = products.findIndex((p) => p.sku === 'HW-1041');
    writeExport(sshd.root, products, { corrupt: bad });
    expect(await feed().poll()).toBe(1);
    await eventually(() => hook.received.length >= before + 1);
    expect(hook.received.slice(before).map((r) => r.event.subject)).toEqual(['HW-1043']);
    const q = await changes().events.quarantine('products');
    expect(q).toEqual([expect.objectContaining({ feed: 'products', key: 'HW-1041', reason: expect.stringMatching(/^record 3 \(byte \d+, detail\), field prUnitPrice: /) })]);
    expect(q[0].row).toMatchObject({ recordNo: 3 });
    expect(feed().stats.quarantined).toBe(1);
  });

  it('leaves a file still being written (no trailer yet) for the next poll', async () => {
    const { name, bytes } = writeExport(sshd.root, catalogue, { truncate: true });
    expect(await feed().poll()).toBe(0);
    writeFileSync(join(sshd.root, 'exports', name), bytes);
    expect(await feed().poll()).toBe(4);
  });

  describe('a crash midway through a file', () => {
    let adapter: AdapterConfig;
    const dirs: string[] = [];
    const stores: SqlStore[] = [];
    const feeds: SftpChangeFeed[] = [];
    afterAll(async () => {
      for (const f of feeds) await f.stop();
      for (const s of stores) await s.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    /** An event store that fails (as a killed process would) on its `failAt`-th commit, before writing anything. */
    class CrashingEvents extends EventStore {
      commits = 0;
      failAt = Infinity;
      override commit(...args: Parameters<EventStore['commit']>): Promise<void> {
        if (++this.commits === this.failAt) return Promise.reject(new Error('killed'));
        return super.commit(...args);
      }
    }

    async function freshEvents(): Promise<CrashingEvents> {
      const dir = mkdtempSync(join(tmpdir(), 'ficus-sftp-feed-'));
      dirs.push(dir);
      const store = await openStore({ driver: 'sqlite', file: join(dir, 'state.db') } as Parameters<typeof openStore>[0]);
      stores.push(store);
      await migrateEvents(store);
      const events = new CrashingEvents(store);
      await events.subscribe({ name: 'consumer', kind: 'webhook', url: 'http://127.0.0.1:9/unused', secret: HOOK_SECRET, origin: 'api' });
      return events;
    }

    const feedOver = (events: EventStore) => {
      const f = SftpChangeFeed.create({
        name: 'products',
        adapter,
        config: sftpFeedSchema.parse({ operation: 'getProduct', type: 'product.updated', batchSize: 5, start: 'beginning' }),
        events,
        source: '/ficus/mainframe-files',
        logger: memoryLogger('silent').logger,
        root: project.root,
      });
      feeds.push(f);
      return f;
    };

    const outbox = async (events: EventStore) => (await events.list({ limit: 10_000 })).map((d) => ({ id: d.eventId, type: d.event.type, subject: d.event.subject }));

    beforeAll(async () => {
      adapter = (await loadConfig({ root: project.root, env })).adapters.find((a) => a.name === 'mainframe-files')!;
    });

    it('started again, sends every change once, with the ids a run without the crash gives', async () => {
      const clean = await freshEvents();
      const crashed = await freshEvents();
      const products = catalogue.slice(0, 23);
      writeExport(sshd.root, products);
      // The first file, sent from the beginning: 23 products in batches of 5; the crash comes at the 3rd batch.
      expect(await feedOver(clean).poll()).toBe(23);
      crashed.failAt = 3;
      const first = feedOver(crashed);
      await expect(first.poll()).rejects.toThrow('killed');
      await first.stop();
      expect((await outbox(crashed)).length).toBe(10);
      expect(await feedOver(crashed).poll()).toBe(13);
      expect(await outbox(crashed)).toEqual(await outbox(clean));

      // The next file: 2 changed, 3 removed; the crash comes at the removals' commit this time.
      const next = products.slice(0, 20).map((p, i) => (i === 4 || i === 11 ? { ...p, stockQuantity: p.stockQuantity + 1 } : p));
      writeExport(sshd.root, next);
      expect(await feedOver(clean).poll()).toBe(5);
      crashed.commits = 0;
      crashed.failAt = 5; // 4 batch commits (20 records), then the removals
      const again = feedOver(crashed);
      await expect(again.poll()).rejects.toThrow('killed');
      await again.stop();
      expect(await feedOver(crashed).poll()).toBe(3);
      const all = await outbox(crashed);
      expect(all).toEqual(await outbox(clean));
      expect(new Set(all.map((e) => e.id)).size).toBe(23 + 5);
      expect(all.filter((e) => e.type === 'product.deleted').map((e) => e.subject)).toEqual(['HW-1060', 'HW-1061', 'HW-1062']);
    });
  });

  it('is checked with the rest of the config: an operation that reads no export is refused', async () => {
    const other = makeProject({ auth: 'key', adapterEdits: (text) => text + FEED.replace('operation: getProduct', 'operation: createOrder') });
    try {
      writeFileSync(join(other.root, 'ficus.yaml'), readFileSync(join(project.root, 'ficus.yaml')));
      const r = await loadConfigReport({ root: other.root, env });
      expect(r.errors.map((e) => `${e.key}: ${e.problem}`)).toEqual(['changes.products.operation: createOrder does not read an export (it has no read:)']);
      expect(r.errors[0].fix).toMatch(/getProduct, listProducts/);
    } finally {
      other.dispose();
    }
  });
});
