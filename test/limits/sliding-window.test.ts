/**
 * The legacy ceiling's rolling window (src/limits/sliding-window.ts), in memory and through the real
 * Redis on 127.0.0.1:6379 (two clients: two instances): at most `limit` admissions in any window,
 * a clock second's turn does not open it again (a count per clock second let twice the ceiling
 * through around the turn), and a refusal says how long until a place frees up.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { SlidingWindows } from '../../src/limits/sliding-window.ts';

const clients: Redis[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
});

function redisClient(): Redis {
  const c = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1, connectTimeout: 5_000 });
  clients.push(c);
  return c;
}

/** Resolves when the clock second has turned (bounded: a second turns within one). */
async function nextClockSecond(): Promise<void> {
  const start = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 400 && Math.floor(Date.now() / 1000) === start; i++) await new Promise((r) => setTimeout(r, 10));
}

describe.each([
  ['memory', () => [new SlidingWindows(undefined, 'unused')]],
  [
    'Redis, two instances',
    () => {
      const prefix = `ficus-test-${randomUUID()}`;
      return [new SlidingWindows(redisClient(), prefix), new SlidingWindows(redisClient(), prefix)];
    },
  ],
] as const)('%s', (_name, make) => {
  it('admits at most the limit in a window, across the turn of a clock second; a refusal says when a place frees up', async () => {
    const instances = make();
    const at = (i: number) => instances[i % instances.length];
    const window = 60_000;
    expect((await at(0).admit('legacy', 2, window)).allowed).toBe(true);
    expect((await at(1).admit('legacy', 2, window)).allowed).toBe(true);
    const third = await at(0).admit('legacy', 2, window);
    expect(third.allowed).toBe(false);
    expect(third.msBeforeNext).toBeGreaterThan(0);
    expect(third.msBeforeNext).toBeLessThanOrEqual(window);
    await nextClockSecond();
    expect((await at(1).admit('legacy', 2, window)).allowed).toBe(false);
    // Another key counts apart.
    expect((await at(1).admit('other', 2, window)).allowed).toBe(true);
  });

  it('a place frees up once the oldest admission has left the window', async () => {
    const instances = make();
    expect((await instances[0].admit('short', 1, 200)).allowed).toBe(true);
    const refused = await instances[instances.length - 1].admit('short', 1, 200);
    if (!refused.allowed) await new Promise((r) => setTimeout(r, refused.msBeforeNext + 5));
    expect((await instances[0].admit('short', 1, 200)).allowed).toBe(true);
  });
});
