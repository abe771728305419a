/** A screen adapter's pages are the machine's: each worker of a cluster opens its share, and the shares add up to `pool.size`. */
import { describe, expect, it } from 'vitest';
import { pagesForThisProcess } from '../../src/kinds/screen/pool-share.ts';

const share = (size: number, workers: number, worker: number) => pagesForThisProcess(size, { FICUS_CLUSTER_WORKERS: String(workers), FICUS_CLUSTER_WORKER: String(worker) });

describe('the screen pool shared among workers', () => {
  it('gives a process alone every page', () => {
    expect(pagesForThisProcess(4, {})).toBe(4);
    expect(share(4, 1, 1)).toBe(4);
  });

  it('divides the pages among the workers, the remainder to the first ones, never more than the pool in all', () => {
    for (const [size, workers] of [
      [4, 2],
      [5, 2],
      [7, 3],
      [3, 3],
      [64, 6],
    ]) {
      const shares = Array.from({ length: workers }, (_, i) => share(size, workers, i + 1));
      expect(shares.reduce((a, b) => a + b, 0)).toBe(size);
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      expect(Math.min(...shares)).toBeGreaterThanOrEqual(1);
    }
    expect([share(5, 2, 1), share(5, 2, 2)]).toEqual([3, 2]);
  });
});
