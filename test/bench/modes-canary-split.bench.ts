/**
 * Canary stickiness and split: over 10,000 keys, the share sent to modern at each percentage, how
 * many keys changed backend between repeated evaluations (must be none), how many moved back to
 * legacy when the percentage went up (must be none), and how the split varies over 200 different
 * key sets (the binomial spread of any stateless sticky hash). Target: within 1 point of the setting.
 *
 *   npm run bench -- test/bench/modes-canary-split.bench.ts
 */
import { canaryBackend } from '../../src/routing/modes/canary.ts';
import { bucketOf } from '../../src/routing/modes/stable-hash.ts';

const PERCENTS = [1, 5, 10, 25, 50, 75, 90, 99];
const keys = Array.from({ length: 10_000 }, (_, i) => `customer-${1000 + i}`);
const share = (ks: string[], p: number) => (ks.filter((k) => canaryBackend('getCustomer', k, p) === 'modern').length / ks.length) * 100;

console.log('canary split over 10,000 keys (customer-1000 … customer-10999), route getCustomer');
console.log('setting  measured  off by   stickiness (3 passes)  moved back on raise');
let worst = 0;
let prev: string[] | undefined;
for (const p of PERCENTS) {
  const pass = [0, 1, 2].map(() => keys.map((k) => canaryBackend('getCustomer', k, p)));
  const changed = keys.filter((_, i) => pass[0][i] !== pass[1][i] || pass[0][i] !== pass[2][i]).length;
  const back = prev ? keys.filter((_, i) => prev![i] === 'modern' && pass[0][i] === 'legacy').length : 0;
  const m = share(keys, p);
  worst = Math.max(worst, Math.abs(m - p));
  console.log(`${String(p).padStart(6)}%  ${m.toFixed(2).padStart(7)}%  ${(m - p).toFixed(2).padStart(6)}   ${changed === 0 ? 'same backend for every key' : `${changed} keys changed`}  ${back}`);
  prev = pass[0];
}
console.log(`largest deviation on this key set: ${worst.toFixed(2)} points (target ≤ 1): ${worst <= 1 ? 'MET' : 'NOT MET'}`);

console.log('\nover 200 key sets of 10,000 keys each:');
console.log('setting  within 1 point  mean |off|  max |off|  binomial sd');
for (const p of [10, 25, 50]) {
  const offs = Array.from({ length: 200 }, (_, s) =>
    Math.abs(
      share(
        Array.from({ length: 10_000 }, (_, i) => `set${s}:${i}`),
        p,
      ) - p,
    ),
  );
  const sd = Math.sqrt(((p / 100) * (1 - p / 100)) / 10_000) * 100;
  console.log(
    `${String(p).padStart(6)}%  ${String(offs.filter((o) => o <= 1).length).padStart(9)}/200  ${(offs.reduce((a, o) => a + o, 0) / offs.length).toFixed(3).padStart(9)}  ${Math.max(...offs)
      .toFixed(2)
      .padStart(8)}  ${sd.toFixed(3).padStart(10)}`,
  );
}

const t0 = performance.now();
let sink = 0;
for (let i = 0; i < 1_000_000; i++) sink += bucketOf('getCustomer', keys[i % keys.length]);
console.log(`\nbucketing cost: ${(((performance.now() - t0) * 1e6) / 1_000_000).toFixed(0)} ns per call (${sink > 0 ? 'ok' : ''})`);
