/**
 * The singletons lease between instances sharing a state store (two stores on one SQLite file, as
 * two workers of one machine have; and one PostgreSQL database): exactly one instance runs the
 * registered loops; when the holder closes, the other takes them over (the lease was released);
 * when the holder can no longer reach the store, it stops its loops before its lease expires and
 * the other starts them after: never both at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Singletons } from '../../src/cluster/singletons.ts';
import { openStore, type SqlStore, type StateConfig } from '../../src/state/sql-store.ts';
import { createTempDatabase, type TempDatabase } from '../helpers/databases.ts';
import { memoryLogger } from '../helpers/gateway.ts';
import { eventually } from '../helpers/wait.ts';

const RENEW_MS = 100;
const TTL_MS = 1_000;

/** Two instances' loops, recording who runs and whether two ever ran at once. */
function loops() {
  const running = new Set<string>();
  const log: string[] = [];
  let overlaps = 0;
  const loop = (who: string) => ({
    start: () => {
      if (running.size > 0) overlaps++;
      running.add(who);
      log.push(`${who} start`);
    },
    stop: () => {
      running.delete(who);
      log.push(`${who} stop`);
    },
  });
  return { running, log, loop, overlaps: () => overlaps };
}

function instance(store: SqlStore, label: string): Singletons {
  return new Singletons({ logger: memoryLogger('silent').logger, store, label, renewMs: RENEW_MS, ttlMs: TTL_MS });
}

let dir: string;
let pg: TempDatabase;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ficus-singletons-'));
  pg = await createTempDatabase('postgres', 'h18w_singletons');
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
});

const stores: [string, () => StateConfig][] = [
  ['SQLite (one file, two connections)', () => ({ driver: 'sqlite', file: join(dir, `state-${Math.random().toString(16).slice(2)}.db`) })],
  ['PostgreSQL', () => ({ driver: 'postgres', url: pg.url })],
];

describe.each(stores)('the singletons lease on %s', (_name, config) => {
  it('one instance runs the loops; the other takes them over when the holder closes', async () => {
    const state = config();
    const [storeA, storeB] = [await openStore(state), await openStore(state)];
    const l = loops();
    const a = instance(storeA, 'a');
    const b = instance(storeB, 'b');
    try {
      a.register('work', l.loop('a'));
      b.register('work', l.loop('b'));
      await a.start();
      await b.start();
      expect([a.held, b.held]).toEqual([true, false]);
      expect([...l.running]).toEqual(['a']);
      const bTakes = new Promise<void>((resolve) => b.onChange((held) => held && resolve()));
      await a.close();
      await bTakes;
      expect([...l.running]).toEqual(['b']);
      expect(l.overlaps()).toBe(0);
    } finally {
      await a.close();
      await b.close();
      await storeA.close().catch(() => undefined);
      await storeB.close();
    }
  }, 30_000);

  it('a holder that cannot reach the store stops its loops before another starts them', async () => {
    const state = config();
    const [storeA, storeB] = [await openStore(state), await openStore(state)];
    const l = loops();
    const a = instance(storeA, 'a');
    const b = instance(storeB, 'b');
    try {
      a.register('work', l.loop('a'));
      b.register('work', l.loop('b'));
      await a.start();
      await b.start();
      expect(a.held).toBe(true);
      const tookAt: number[] = [];
      const bTakes = new Promise<void>((resolve) =>
        b.onChange((held) => {
          if (held) {
            tookAt.push(Date.now());
            resolve();
          }
        }),
      );
      const cutAt = Date.now();
      await storeA.close(); // a's renewals fail from now on
      await bTakes;
      await eventually(() => !a.held, 10_000, 'the cut-off holder to give up');
      expect(l.log).toEqual(['a start', 'a stop', 'b start']);
      expect(l.overlaps()).toBe(0);
      // Within the lease and a renewal, with room for a loaded machine.
      expect(tookAt[0] - cutAt).toBeLessThan(TTL_MS + RENEW_MS + 5_000);
    } finally {
      await a.close();
      await b.close();
      await storeB.close();
    }
  }, 30_000);
});
