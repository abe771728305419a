/**
 * The export reader on its own (an SFTP session that hands out an in-memory file): decoding a large
 * export gives the event loop a turn every few milliseconds, so requests are not held up by it.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { encodeProductExport, exportFileName, productExportSpec } from '../../sample/mainframe/product-export.ts';
import { sampleCatalogue } from '../../sample/mainframe/catalogue.ts';
import { registerCodePages } from '../../src/records/code-pages.ts';
import { ExportFiles, ExportReader } from '../../src/kinds/sftp/export-reader.ts';
import type { SftpPool, SftpSession } from '../../src/kinds/sftp/sftp-pool.ts';
import { memoryLogger } from '../helpers/gateway.ts';

registerCodePages();

describe('the export reader', () => {
  it('lets the event loop run while it decodes a large export', async () => {
    const at = new Date(Date.UTC(2026, 10, 24, 22));
    const name = exportFileName(at, 1);
    // 50,000 products (4 MB), handed out in 64 kB chunks that are all at hand at once.
    const base = sampleCatalogue(1)[0];
    const products = Array.from({ length: 50_000 }, (_v, i) => ({ ...base, sku: `${String.fromCharCode(65 + Math.floor(i / 10_000))}A-${String(i % 10_000).padStart(4, '0')}` }));
    const bytes = encodeProductExport(products, at, 1);
    const session = {
      list: async () => [{ name, size: bytes.length, mtimeMs: at.getTime() }],
      readStream: () => Readable.from(Array.from({ length: Math.ceil(bytes.length / 65_536) }, (_v, i) => bytes.subarray(i * 65_536, (i + 1) * 65_536))),
    } as unknown as SftpSession;
    const pool = { use: <T>(fn: (s: SftpSession) => Promise<T>) => fn(session) } as unknown as SftpPool;
    const spec = productExportSpec();
    const reader = new ExportReader(
      pool,
      { dir: 'exports', pattern: /^PRODUCTS\..*\.DAT$/, spec, record: 'detail', key: 'prSku', refreshMs: 60_000, fallback: 0 },
      memoryLogger('silent').logger,
      new ExportFiles(),
    );
    let turns = 0;
    let stop = false;
    const spin = () => {
      turns++;
      if (!stop) setImmediate(spin);
    };
    setImmediate(spin);
    const t0 = performance.now();
    const snapshot = await reader.current();
    const ms = performance.now() - t0;
    stop = true;
    expect(snapshot.file).toBe(name);
    // At least one turn per 50 ms of decoding (the reader yields every 10 ms), and a few in any case.
    expect(turns).toBeGreaterThanOrEqual(Math.max(3, Math.floor(ms / 50)));
    reader.close();
  });
});
