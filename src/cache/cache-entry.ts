/** One cached answer, as memory and Redis keep it. */
import type { Backend } from '../routing/route-table.ts';

export interface CacheEntry {
  status: number;
  body?: unknown;
  /** The backend's own response headers (caching headers are added when served). */
  headers: Record<string, string>;
  backend: Backend;
  adapter: string;
  /** Epoch ms when the backend answered. */
  storedAt: number;
  /** Strong validator: a hash of the body as sent. */
  etag: string;
  /** The answer's size as sent (the body's JSON). */
  bytes: number;
  /** What invalidations by writes match (`accountId=A1`). */
  tags: string[];
  /** A 404 kept for `negativeTtl`: the problem's type and words. */
  problem?: { type: string; detail?: string };
}
