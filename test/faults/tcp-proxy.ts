/**
 * A TCP proxy on a free loopback port in front of a legacy system, to make it slow or down without
 * touching it: `pass` forwards, `slow` delays every chunk (both ways) by `delayMs` after it arrived, `down` cuts every
 * connection and drops new ones at once, `blackhole` accepts connections and forwards nothing either
 * way (a network that silently loses packets) until the mode changes. `reset()` aborts every open
 * connection with a TCP RST (the peer sees ECONNRESET) and keeps the mode. Order of bytes is kept in
 * every mode.
 */
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export type ProxyMode = 'pass' | 'slow' | 'down' | 'blackhole';

export interface TcpProxy {
  port: number;
  mode: ProxyMode;
  delayMs: number;
  setMode(mode: ProxyMode): void;
  /** Resets (RST) every connection open now; new ones are served as the mode says. */
  reset(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  // Each chunk goes on `delay` after it arrived (in slow mode), never before the chunk ahead of it:
  // after a switch back to pass, a connection is slow for at most one more delay, not for the sum
  // of the delays of everything queued while it was slow.
  const pipe = (from: Socket, to: Socket) => {
    const queue: { due: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const pump = () => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0].due <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0].due - now);
      else if (ended && !to.destroyed) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      const delay = proxy.mode === 'slow' ? proxy.delayMs : 0;
      const last = queue.length > 0 ? queue[queue.length - 1].due : 0;
      queue.push({ due: Math.max(Date.now() + delay, last), chunk });
      if (!timer) pump();
    });
    from.on('end', () => {
      ended = true;
      if (!timer) pump();
    });
  };
  const server = createServer((client) => {
    if (proxy.mode === 'down') {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      if (proxy.mode === 'blackhole') s.pause();
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: TcpProxy = {
    port: (server.address() as AddressInfo).port,
    mode: 'pass',
    delayMs: 2_000,
    get accepted() {
      return accepted;
    },
    setMode(mode) {
      proxy.mode = mode;
      if (mode === 'down') for (const s of sockets) s.destroy();
      // Paused sockets read nothing: whatever either side sends stays in the kernel's buffers.
      for (const s of sockets) {
        if (mode === 'blackhole') s.pause();
        else s.resume();
      }
    },
    reset() {
      for (const s of sockets) s.resetAndDestroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return proxy;
}
