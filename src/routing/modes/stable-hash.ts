/**
 * Stable bucketing for canary mode: a key (a customer id, a client id) always falls in the same one
 * of 10,000 buckets of a route, on every instance and across restarts, so that the same key gets
 * the same backend until the percentage changes; raising the percentage only moves keys from legacy
 * to modern, never back.
 */
import { createHash } from 'node:crypto';

export const BUCKETS = 10_000;

/** The key's bucket in [0, 10000) for this route (SHA-1 of route and key: stable, evenly spread). */
export function bucketOf(operationId: string, key: string): number {
  return createHash('sha1').update(operationId).update('\0').update(key).digest().readUInt32BE(0) % BUCKETS;
}

/** Whether a bucket is sent to modern at `percent` (0 to 100, two decimals are honoured). */
export function bucketGoesModern(bucket: number, percent: number): boolean {
  return bucket < Math.round(percent * (BUCKETS / 100));
}
