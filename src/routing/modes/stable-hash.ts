/**
 * Stable bucketing for canary mode: a key (a customer id, a client id) always falls in the same one
 * of 10,000 buckets of a route, on every instance and across restarts, so that the same key gets
 * the same backend until the percentage changes; raising the percentage only moves keys from legacy
 * to modern, never back.
 */
export const BUCKETS = 10_000;

/** FNV-1a over the UTF-16 code units, then murmur3's finaliser for avalanche: fast, stable forever, evenly spread. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The key's bucket in [0, 10000) for this route (the same on every instance, across restarts and versions). */
export function bucketOf(operationId: string, key: string): number {
  return hash32(`${operationId}\u0000${key}`) % BUCKETS;
}

/** Whether a bucket is sent to modern at `percent` (0 to 100, two decimals are honoured). */
export function bucketGoesModern(bucket: number, percent: number): boolean {
  return bucket < Math.round(percent * (BUCKETS / 100));
}
