/**
 * Files that hold requests, answers and queued writes are readable by the gateway's own user only
 * (mode 600), whatever the umask: the SQLite state store with its -wal and -shm files, and recordings.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FORMAT_VERSION, type RecordedExchange } from '../../src/recording/exchange-format.ts';
import { SegmentFiles } from '../../src/recording/segment-files.ts';
import { openStore } from '../../src/state/sql-store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ficus-modes-'));
  dirs.push(d);
  return d;
}
const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8);

describe('state files are private to the gateway user', () => {
  it('creates the SQLite state store and its -wal and -shm files with mode 600', async () => {
    const file = join(tmp(), 'var', 'ficus-state.sqlite');
    const store = await openStore({ driver: 'sqlite', file });
    try {
      await store.run('CREATE TABLE t (x TEXT)');
      await store.run('INSERT INTO t (x) VALUES (?)', ['secret']);
      const files = [file, `${file}-wal`, `${file}-shm`];
      expect(files.filter((f) => existsSync(f))).toEqual(files);
      expect(files.map(modeOf)).toEqual(['600', '600', '600']);
    } finally {
      await store.close();
    }
  });

  it('makes an existing world-readable state store private when it opens it', async () => {
    const file = join(tmp(), 'ficus-state.sqlite');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    const store = await openStore({ driver: 'sqlite', file });
    try {
      await store.run('CREATE TABLE t (x TEXT)');
      expect([file, `${file}-wal`].map(modeOf)).toEqual(['600', '600']);
    } finally {
      await store.close();
    }
  });

  it('writes recordings with mode 600, when they are appended to and when they are rewritten', async () => {
    const dir = tmp();
    const files = new SegmentFiles({ dir, maxFileBytes: 1024 * 1024, rollEveryMs: 3_600_000 });
    const exchange = (id: number): RecordedExchange => ({
      v: FORMAT_VERSION,
      operationId: 'getCustomer',
      time: '2024-01-01T00:00:00.000Z',
      count: 1,
      backend: 'legacy',
      adapter: 'a',
      latencyMs: 1,
      gateway: 'test',
      key: 'k',
      request: { method: 'GET', path: `/customers/${id}`, query: {}, headers: {}, body: null },
      response: { status: 200, headers: {}, body: { id } },
      redacted: [],
      findings: [],
    });
    await files.append([exchange(1), exchange(1)]);
    const written = readdirSync(join(dir, 'getCustomer')).map((f) => join(dir, 'getCustomer', f));
    expect(written.map(modeOf)).toEqual(['600']);
    await files.flush();
    expect(written.map(modeOf)).toEqual(['600']);
    expect(modeOf(join(dir, 'getCustomer'))).toBe('700');
    await files.close();
  });
});
