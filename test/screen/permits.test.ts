/**
 * The browser pool's page permits: shared between operations so that a flood of one leaves pages to
 * the others and freed pages go to the waiting operations in turn; and a request that would not
 * reach a page within its wait hears "overloaded" at once instead of when its time is up, from the
 * hold time measured as pages come back.
 */
import { describe, expect, it } from 'vitest';
import { Permits, QueueFull, QueueTimeout, QueueTooSlow } from '../../src/kinds/screen/permits.ts';

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

describe('page permits shared between operations', () => {
  const signal = new AbortController().signal;
  /** Which of the labelled acquisitions have been granted so far. */
  function granted(waiting: Record<string, Promise<void>[]>) {
    const got: string[] = [];
    for (const [label, ps] of Object.entries(waiting))
      ps.forEach(
        (p, i) =>
          void p.then(
            () => got.push(`${label}${i}`),
            () => undefined,
          ),
      );
    return async () => {
      await new Promise((r) => setImmediate(r));
      return [...got];
    };
  }

  it('a flood of one operation holds all pages but one; another operation takes that one at once while the flood waits', async () => {
    const permits = new Permits(4, 500);
    for (let i = 0; i < 3; i++) await permits.acquire(signal, 'getAccount');
    const flood = Array.from({ length: 400 }, () => permits.acquire(signal, 'getAccount'));
    expect(permits.waiting).toBe(400);
    await permits.acquire(signal, 'searchAccounts'); // not queued behind the 400
    expect([permits.inUse, permits.waiting]).toEqual([4, 400]);
    permits.rejectAll(new Error('done'));
    await Promise.allSettled(flood);
  });

  it('gives freed pages to the waiting operations in turn, not to the longest queue', async () => {
    const permits = new Permits(2, 500, 2);
    await permits.acquire(signal, 'getAccount');
    await permits.acquire(signal, 'getAccount');
    const flood = Array.from({ length: 5 }, () => permits.acquire(signal, 'getAccount'));
    const other = Array.from({ length: 2 }, () => permits.acquire(signal, 'searchAccounts'));
    const got = granted({ g: flood, s: other });
    const order: string[][] = [];
    // Each page is given back by the operation that holds it.
    for (const holder of ['getAccount', 'getAccount', 'searchAccounts', 'getAccount']) {
      permits.release(holder);
      order.push(await got());
    }
    // searchAccounts, never served yet, first; then the two in turn.
    expect(order.at(-1)).toEqual(['s0', 'g0', 's1', 'g1']);
    expect(order.map((o) => o.length)).toEqual([1, 2, 3, 4]);
    permits.rejectAll(new Error('done'));
    await Promise.allSettled(flood);
  });

  it('bounds the queue of each operation on its own: a full flood does not refuse another operation', async () => {
    const permits = new Permits(2, 3, 1);
    await permits.acquire(signal, 'getAccount');
    const flood = Array.from({ length: 3 }, () => permits.acquire(signal, 'getAccount'));
    expect(await permits.acquire(signal, 'getAccount').catch((e: unknown) => e)).toBeInstanceOf(QueueFull);
    await permits.acquire(signal, 'searchAccounts');
    permits.rejectAll(new Error('done'));
    await Promise.allSettled(flood);
  });
});
