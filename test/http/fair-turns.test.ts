/**
 * A burst of requests to one operation does not hold up the others: at most a few requests start in
 * one turn of the event loop, the rest wait in a queue per operation, and the operations take turns
 * (src/http/fair-turns.ts). Below a burst, requests start at once.
 */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FairTurns } from '../../src/http/fair-turns.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { startUpstream } from '../fixtures/upstream-server.ts';

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe('fair turns between operations', () => {
  it('starts requests at once below a burst', () => {
    const turns = new FairTurns(4);
    const started: string[] = [];
    for (const k of ['a', 'b', 'a', 'c']) turns.run(k, () => started.push(k));
    expect(started).toEqual(['a', 'b', 'a', 'c']);
    expect(turns.waiting).toBe(0);
  });

  it('past the burst, queues by operation and lets the operations take turns, a few a turn', async () => {
    const turns = new FairTurns(2);
    const started: string[] = [];
    for (let i = 1; i <= 6; i++) turns.run('flood', () => started.push(`flood${i}`));
    turns.run('other', () => started.push('other'));
    expect(started).toEqual(['flood1', 'flood2']);
    expect(turns.waiting).toBe(5);
    await nextTurn();
    // One of each waiting operation in turn: the other operation does not wait for the flood.
    expect(started).toEqual(['flood1', 'flood2', 'flood3', 'other']);
    await nextTurn();
    expect(started.slice(4)).toEqual(['flood4', 'flood5']);
    await nextTurn();
    expect(started.slice(6)).toEqual(['flood6']);
    expect(turns.waiting).toBe(0);
    // Quiet again: the next request starts at once.
    await nextTurn();
    turns.run('other', () => started.push('later'));
    expect(started.at(-1)).toBe('later');
  });

  it('a request that arrives while others wait their turn queues behind them, not ahead', () => {
    const turns = new FairTurns(1);
    const started: string[] = [];
    turns.run('a', () => started.push('a1'));
    turns.run('a', () => started.push('a2'));
    turns.run('a', () => started.push('a3'));
    expect(started).toEqual(['a1']);
    expect(turns.waiting).toBe(2);
  });
});

describe('a flood of requests answered without I/O (here 300 invalid ones), a request to another route and another caller’s to the same', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startGateway(join(FIXTURES, 'http-gateway'), { UPSTREAM_URL: upstream.url }, { level: 'warn' });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('answers the other route and the other caller among the first, not after the whole flood', async () => {
    const port = Number(new URL(gw.url).port);
    const FLOOD = 300;
    // One kept-alive connection per caller, each used once first, so that the gateway has taken them all.
    const sockets: Socket[] = [];
    const answered: number[] = [];
    const pending = new Map<number, (text: string) => void>();
    const texts = new Map<number, string>();
    await Promise.all(
      Array.from({ length: FLOOD + 2 }, (_, i) => {
        return new Promise<void>((resolve, reject) => {
          // The last one is another caller (another loopback address).
          const s = connect({ port, host: '127.0.0.1', localAddress: i === FLOOD + 1 ? '127.0.0.2' : '127.0.0.1' }, () => resolve());
          s.on('error', reject);
          s.setEncoding('utf8');
          s.on('data', (c: string) => {
            const text = (texts.get(i) ?? '') + c;
            texts.set(i, text);
            // Every answer here is small and has a Content-Length: complete once the body is all there.
            const head = text.indexOf('\r\n\r\n');
            const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? -1);
            if (head >= 0 && length >= 0 && text.length >= head + 4 + length) {
              texts.delete(i);
              pending.get(i)?.(text);
            }
          });
          sockets[i] = s;
        });
      }),
    );
    const ask = (i: number, path: string) =>
      new Promise<string>((resolve) => {
        pending.set(i, (text) => {
          pending.delete(i);
          answered.push(i);
          resolve(text);
        });
        sockets[i].write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      });
    await Promise.all(sockets.map((_, i) => ask(i, '/healthz')));
    answered.length = 0;

    // All at once, in one turn of this process's loop: the flood first, then another route, then another
    // caller's request to the flooded operation.
    const flood = Array.from({ length: FLOOD }, (_, i) => ask(i, '/customers/not-a-number'));
    const other = ask(FLOOD, '/healthz');
    const otherCaller = ask(FLOOD + 1, '/customers/not-a-number-either');
    const floodAnswers = await Promise.all(flood);
    expect(await other).toMatch(/^HTTP\/1\.1 200/);
    expect(await otherCaller).toMatch(/^HTTP\/1\.1 400/);
    expect(floodAnswers.every((t) => /^HTTP\/1\.1 400/.test(t))).toBe(true);
    // Each served as its turn came, after a turn's worth of the flood or two (16 a turn), not after all 300.
    expect(answered.indexOf(FLOOD)).toBeLessThan(FLOOD / 4);
    expect(answered.indexOf(FLOOD + 1)).toBeLessThan(FLOOD / 4);
    for (const s of sockets) s.destroy();
  });
});
