/**
 * One route's entries in this instance's memory: least recently used dropped first, bounded by
 * entries and bytes (lru-cache), with an index from tags to keys so that a write drops exactly the
 * entries it made stale.
 */
import { LRUCache } from 'lru-cache';
import type { CacheEntry } from './cache-entry.ts';

export class MemoryStore {
  private readonly lru: LRUCache<string, CacheEntry>;
  private readonly byTag = new Map<string, Set<string>>();
  /** Entries dropped to make room (not those replaced, invalidated or expired). */
  evictions = 0;

  constructor(maxEntries: number, maxBytes: number, onEvict?: () => void) {
    this.lru = new LRUCache<string, CacheEntry>({
      max: maxEntries,
      maxSize: maxBytes,
      sizeCalculation: (e) => Math.max(1, e.bytes),
      dispose: (e, key, reason) => {
        this.unindex(key, e);
        if (reason === 'evict') {
          this.evictions++;
          onEvict?.();
        }
      },
    });
  }

  get(key: string): CacheEntry | undefined {
    return this.lru.get(key);
  }

  /** Keeps the entry until `keepMs` from now; false when it is larger than the route's whole budget. */
  set(key: string, entry: CacheEntry, keepMs: number): boolean {
    if (entry.bytes > this.lru.maxSize) return false;
    this.lru.set(key, entry, { ttl: Math.max(1, keepMs) });
    for (const t of entry.tags) {
      let keys = this.byTag.get(t);
      if (!keys) this.byTag.set(t, (keys = new Set()));
      keys.add(key);
    }
    return true;
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  /** Drops the entries with `tag`, or every entry without one; returns how many. */
  invalidate(tag?: string): number {
    if (tag === undefined) {
      const n = this.lru.size;
      this.lru.clear();
      this.byTag.clear();
      return n;
    }
    const keys = this.byTag.get(tag);
    if (!keys) return 0;
    const n = keys.size;
    for (const k of [...keys]) this.lru.delete(k);
    this.byTag.delete(tag);
    return n;
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  private unindex(key: string, e: CacheEntry): void {
    for (const t of e.tags) {
      const keys = this.byTag.get(t);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.byTag.delete(t);
    }
  }
}
