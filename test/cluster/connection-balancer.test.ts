/**
 * The primary's public port (src/cluster/connection-balancer.ts), with stand-in workers in this
 * process: every accepted connection goes at once to the worker with the fewest open (ties in turn),
 * whether or not the worker has confirmed the ones before; connections a worker reports closed make
 * room for new ones; a worker added later takes the new connections until it holds as many; those
 * accepted while no worker takes any wait; a removed worker's unsent connections are closed; close()
 * makes the port refuse connections.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionBalancer, type ConnectionTaker } from '../../src/cluster/connection-balancer.ts';
import { eventually } from '../helpers/wait.ts';

/** A stand-in worker: keeps what it is handed; confirms the send at once, or never (a stalled worker). */
class FakeWorker implements ConnectionTaker {
  readonly sockets: Socket[] = [];
  constructor(
    readonly id: number,
    private readonly confirms = true,
  ) {}
  hand(socket: Socket, sent: (err: Error | null) => void): void {
    this.sockets.push(socket);
    if (this.confirms) sent(null);
  }
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

async function balancerOn(): Promise<{ balancer: ConnectionBalancer; port: number }> {
  const errors: Error[] = [];
  const balancer = new ConnectionBalancer((err) => errors.push(err));
  const { port } = await balancer.listen(0, '127.0.0.1');
  cleanup.push(() => {
    balancer.close();
    expect(errors).toEqual([]);
  });
  return { balancer, port };
}

/** `n` client connections opened at once; resolves once all are connected. */
async function clients(port: number, n: number): Promise<Socket[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );
  for (const s of sockets) {
    s.on('error', () => undefined);
    cleanup.push(() => s.destroy());
  }
  return sockets;
}

const handed = (...workers: FakeWorker[]) => workers.reduce((n, w) => n + w.sockets.length, 0);

describe('the primary hands each connection to the worker with the fewest open', () => {
  it('20 connections at once: 10 each, also when one worker never confirms (stalled)', async () => {
    const { balancer, port } = await balancerOn();
    const running = new FakeWorker(1);
    const stalled = new FakeWorker(2, false);
    balancer.add(running);
    balancer.add(stalled);
    await clients(port, 20);
    await eventually(() => handed(running, stalled) === 20, 10_000, 'the 20 connections to be handed');
    expect([running.sockets.length, stalled.sockets.length]).toEqual([10, 10]);
    expect(balancer.openBy()).toEqual(
      new Map([
        [1, 10],
        [2, 10],
      ]),
    );
  });

  it('a worker that reports connections closed gets the next ones, until it holds as many as the other', async () => {
    const { balancer, port } = await balancerOn();
    const a = new FakeWorker(1);
    const b = new FakeWorker(2);
    balancer.add(a);
    balancer.add(b);
    await clients(port, 10);
    await eventually(() => handed(a, b) === 10, 10_000, 'the first 10 connections to be handed');
    balancer.closedBy(1, 4); // a: 1 open, b: 5
    await clients(port, 6);
    await eventually(() => handed(a, b) === 16, 10_000, 'the next 6 connections to be handed');
    expect([a.sockets.length, b.sockets.length]).toEqual([5 + 5, 5 + 1]);
    expect(balancer.openBy()).toEqual(
      new Map([
        [1, 6],
        [2, 6],
      ]),
    );
  });

  it('a worker added later (a replacement) takes the new connections until it holds as many as the other', async () => {
    const { balancer, port } = await balancerOn();
    const old = new FakeWorker(1);
    balancer.add(old);
    await clients(port, 10);
    await eventually(() => old.sockets.length === 10, 10_000, 'the first 10 connections to be handed');
    const fresh = new FakeWorker(2);
    balancer.add(fresh);
    await clients(port, 12);
    await eventually(() => handed(old, fresh) === 22, 10_000, 'the next 12 connections to be handed');
    expect([old.sockets.length, fresh.sockets.length]).toEqual([11, 11]);
  });

  it('connections accepted while no worker takes any wait, and go to the first worker that does', async () => {
    const { balancer, port } = await balancerOn();
    await clients(port, 3);
    await eventually(() => balancer.waiting === 3, 10_000, 'the 3 connections to be accepted and wait');
    const first = new FakeWorker(1);
    balancer.add(first);
    expect(balancer.waiting).toBe(0);
    await eventually(() => first.sockets.length === 3, 10_000, 'the waiting connections to be handed');
  });

  it('a removed worker gets nothing more, and the connections it was handed but not sent are closed', async () => {
    const { balancer, port } = await balancerOn();
    const dying = new FakeWorker(1, false);
    const other = new FakeWorker(2);
    balancer.add(dying);
    balancer.add(other);
    const conns = await clients(port, 4);
    await eventually(() => handed(dying, other) === 4, 10_000, 'the 4 connections to be handed');
    const unsent = dying.sockets.length;
    expect(unsent).toBe(2);
    let ended = 0;
    for (const c of conns) c.once('close', () => ended++);
    balancer.remove(1);
    // The two the dying worker never sent are closed (their clients see the end); the other worker's stay open.
    await eventually(() => ended === 2, 10_000, "the clients of the dying worker's unsent connections to see them closed");
    expect(other.sockets.every((s) => !s.destroyed)).toBe(true);
    await clients(port, 2);
    await eventually(() => other.sockets.length === 4, 10_000, 'the new connections to go to the remaining worker');
    expect(dying.sockets).toHaveLength(2);
  });

  it('close(): the port refuses new connections', async () => {
    const { balancer, port } = await balancerOn();
    balancer.add(new FakeWorker(1));
    balancer.close();
    await expect(clients(port, 1)).rejects.toThrow(/ECONNREFUSED/);
  });
});
