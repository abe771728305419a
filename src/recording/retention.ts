/**
 * Retention of a recording folder: files older than `maxAge` are deleted, then the oldest files
 * until the folder holds at most `maxTotalSize`. Files still being written are never deleted.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface RetentionLimits {
  maxTotalBytes?: number;
  maxAgeMs?: number;
}

/** Applies the limits to every *.jsonl below `dir`; returns the files deleted. */
export function applyRetention(dir: string, limits: RetentionLimits, open: ReadonlySet<string>, now = Date.now()): string[] {
  if (limits.maxTotalBytes === undefined && limits.maxAgeMs === undefined) return [];
  const files: { path: string; size: number; mtime: number }[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.jsonl')) files.push({ path: p, size: st.size, mtime: st.mtimeMs });
    }
  };
  walk(dir);
  files.sort((a, b) => a.mtime - b.mtime);
  const deleted: string[] = [];
  let total = files.reduce((n, f) => n + f.size, 0);
  for (const f of files) {
    if (open.has(f.path)) continue;
    const old = limits.maxAgeMs !== undefined && now - f.mtime > limits.maxAgeMs;
    const over = limits.maxTotalBytes !== undefined && total > limits.maxTotalBytes;
    if (!old && !over) continue;
    rmSync(f.path, { force: true });
    total -= f.size;
    deleted.push(f.path);
  }
  return deleted;
}
