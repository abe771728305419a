/** A recording folder kept within `recording.maxTotalSize` and `recording.maxAge`; files still open are never deleted. */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordingConfigSchema } from '../../src/recording/recording-config.ts';
import { applyRetention } from '../../src/recording/retention.ts';

const root = mkdtempSync(join(tmpdir(), 'ficus-retention-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const NOW = Date.UTC(2026, 10, 27);
const DAY = 86_400_000;

function folder(name: string, files: { op: string; name: string; bytes: number; daysOld: number }[]): string {
  const dir = join(root, name);
  for (const f of files) {
    mkdirSync(join(dir, f.op), { recursive: true });
    const p = join(dir, f.op, f.name);
    writeFileSync(p, 'x'.repeat(f.bytes));
    const t = new Date(NOW - f.daysOld * DAY);
    utimesSync(p, t, t);
  }
  return dir;
}
const left = (dir: string) =>
  readdirSync(dir, { recursive: true })
    .filter((f) => String(f).endsWith('.jsonl'))
    .map(String)
    .sort();

describe('recording retention', () => {
  it('deletes files older than maxAge, then the oldest until the folder is within maxTotalSize', () => {
    const dir = folder('a', [
      { op: 'getCustomer', name: 'a.jsonl', bytes: 100, daysOld: 40 },
      { op: 'getCustomer', name: 'b.jsonl', bytes: 100, daysOld: 10 },
      { op: 'listCustomers', name: 'c.jsonl', bytes: 100, daysOld: 5 },
      { op: 'listCustomers', name: 'd.jsonl', bytes: 100, daysOld: 1 },
    ]);
    const deleted = applyRetention(dir, { maxAgeMs: 30 * DAY, maxTotalBytes: 200 }, new Set(), NOW);
    expect(deleted.map((p) => p.slice(dir.length + 1)).sort()).toEqual(['getCustomer/a.jsonl', 'getCustomer/b.jsonl']);
    expect(left(dir)).toEqual(['listCustomers/c.jsonl', 'listCustomers/d.jsonl']);
  });

  it('never deletes a file still being written, and does nothing without limits', () => {
    const dir = folder('b', [
      { op: 'getCustomer', name: 'open.jsonl', bytes: 500, daysOld: 90 },
      { op: 'getCustomer', name: 'closed.jsonl', bytes: 10, daysOld: 1 },
    ]);
    expect(applyRetention(dir, {}, new Set(), NOW)).toEqual([]);
    applyRetention(dir, { maxAgeMs: DAY * 30, maxTotalBytes: 100 }, new Set([join(dir, 'getCustomer', 'open.jsonl')]), NOW);
    expect(left(dir)).toEqual(['getCustomer/open.jsonl']);
  });

  it('is configured as recording.maxTotalSize and recording.maxAge', () => {
    const c = recordingConfigSchema.parse({ maxTotalSize: '1GiB', maxAge: '30d' });
    expect(c.maxTotalSize).toBe(1024 ** 3);
    expect(c.maxAge).toBe(30 * DAY);
  });
});
