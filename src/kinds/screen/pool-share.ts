/**
 * How many of a screen adapter's pages this process may open. `pool.size` is the legacy system's
 * limit for the whole machine (its concurrent sessions), not per process: alone, a process opens
 * them all; a worker of `ficus start --workers N` (FICUS_CLUSTER_WORKERS, FICUS_CLUSTER_WORKER, set by the
 * primary) opens its share: `floor(size / N)`, plus one for the first `size mod N` workers, so the
 * workers together never hold more than `size`. `ficus start` refuses a pool smaller than the
 * number of workers (each needs a page), and caps its default number of workers to the smallest pool.
 */
import type { Env } from '../../config/env.ts';

export function pagesForThisProcess(size: number, env: Env): number {
  const workers = Number(env.FICUS_CLUSTER_WORKERS);
  const index = Number(env.FICUS_CLUSTER_WORKER);
  if (!Number.isInteger(workers) || !Number.isInteger(index) || workers <= 1 || index < 1 || index > workers) return size;
  return Math.max(1, Math.floor(size / workers) + (index <= size % workers ? 1 : 0));
}
