/**
 * The browser pool's page permits: a request that would not reach a page within its wait hears
 * "overloaded" at once instead of when its time is up, from the hold time measured as pages come back.
 */
import { describe, expect, it } from 'vitest';
import { Permits, QueueTimeout, QueueTooSlow } from '../../src/kinds/screen/permits.ts';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('page permits', () => {
  it('queues every waiter while no hold time is known yet', async () => {
    const c = clock();
    const permits = new Permits(1, 10, 1, c.now);
    const signal = new AbortController().signal;
    await permits.acquire(signal, 'getAccount', 250);
    const waiting = [0, 1, 2].map(() => permits.acquire(signal, 'getAccount', 250));
    expect(permits.waiting).toBe(3);
    for (let i = 0; i < 3; i++) {
      c.advance(100);
      permits.release('getAccount');
      await waiting[i];
    }
    permits.release('getAccount');
  });

  it('answers at once a waiter that would wait longer than it may, and queues those that will be served in time', async () => {
    const c = clock();
    const permits = new Permits(1, 10, 1, c.now);
    const signal = new AbortController().signal;
    // One page, held 100 ms a call: measured as it comes back.
    await permits.acquire(signal, 'getAccount', 250);
    c.advance(100);
    permits.release('getAccount');
    await permits.acquire(signal, 'getAccount', 250);
    const first = permits.acquire(signal, 'getAccount', 250); // about 100 ms away
    const second = permits.acquire(signal, 'getAccount', 250); // about 200 ms away
    const started = performance.now();
    const third = await permits.acquire(signal, 'getAccount', 250).catch((e: unknown) => e); // about 300 ms: too late
    expect(third).toBeInstanceOf(QueueTooSlow);
    expect(performance.now() - started).toBeLessThan(50); // not after its 250 ms
    expect((third as QueueTooSlow).message).toMatch(/about 300 ms, later than the 250 ms/);
    expect(permits.waiting).toBe(2);
    c.advance(100);
    permits.release('getAccount');
    await first;
    c.advance(100);
    permits.release('getAccount');
    await second;
    permits.release('getAccount');
  });

  it('judges each operation by its own hold time and its own queue', async () => {
    const c = clock();
    const permits = new Permits(2, 10, 1, c.now);
    const signal = new AbortController().signal;
    // A slow operation (1 s a call) and a quick one (50 ms) share two pages, one each at most.
    await permits.acquire(signal, 'slow', 500);
    await permits.acquire(signal, 'quick', 500);
    c.advance(50);
    permits.release('quick');
    c.advance(950);
    permits.release('slow');
    await permits.acquire(signal, 'slow', 500);
    await permits.acquire(signal, 'quick', 500);
    const slowFirst = permits.acquire(signal, 'slow', 5_000); // alone in its queue: waits its time
    expect(await permits.acquire(signal, 'slow', 500).catch((e: unknown) => e)).toBeInstanceOf(QueueTooSlow); // behind one: about 2 s away
    const quick = permits.acquire(signal, 'quick', 500);
    const quickNext = permits.acquire(signal, 'quick', 500); // behind one: about 100 ms away
    c.advance(50);
    permits.release('quick');
    await quick;
    c.advance(50);
    permits.release('quick');
    await quickNext;
    permits.release('quick');
    c.advance(1000);
    permits.release('slow');
    await slowFirst;
    permits.release('slow');
  });

  it('lets a lone waiter wait its time, whatever a slow or abandoned call did to the average', async () => {
    const c = clock();
    const permits = new Permits(1, 10, 1, c.now);
    const signal = new AbortController().signal;
    await permits.acquire(signal, 'getAccount', 250);
    c.advance(5_000); // a call held its page 5 s (it stalled, and its caller went away)
    permits.release('getAccount');
    await permits.acquire(signal, 'getAccount', 250);
    const next = permits.acquire(signal, 'getAccount', 2_000);
    c.advance(100);
    permits.release('getAccount');
    await next;
    permits.release('getAccount');
  });

  it('still bounds the wait in time when the estimate was too hopeful', async () => {
    const permits = new Permits(1, 10, 1);
    const signal = new AbortController().signal;
    await permits.acquire(signal, 'getAccount', 50);
    expect(await permits.acquire(signal, 'getAccount', 50).catch((e: unknown) => e)).toBeInstanceOf(QueueTimeout);
    permits.release('getAccount');
  });
});
