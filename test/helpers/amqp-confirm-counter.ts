/**
 * A TCP proxy in front of RabbitMQ that reads the AMQP 0-9-1 frames going through it and counts, per
 * connection and channel, the messages published (Basic.Publish, client to broker) and not yet
 * confirmed (Basic.Ack / Basic.Nack, broker to client, `multiple` honoured). `peakUnconfirmed` is the
 * most ever outstanding on one channel: what a publisher had handed to the broker without its
 * confirm, seen on the wire (a publisher's own count is never lower, so a bound on it holds here too).
 */
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface AmqpConfirmCounter {
  port: number;
  /** Publishes seen, over all connections. */
  readonly published: number;
  /** The most publishes outstanding (sent, not yet confirmed) on one channel at any moment. */
  readonly peakUnconfirmed: number;
  /** Holds what clients send (kept, in order) until `release`: the broker hears nothing meanwhile. */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

const BASIC = 60;
const PUBLISH = 40;
const ACK = 80;
const NACK = 120;

/** Calls `onMethod(channel, classId, methodId, payload)` for each method frame of a byte stream; `skip` bytes (the protocol header) first. */
function frameReader(skip: number, onMethod: (channel: number, classId: number, methodId: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  let toSkip = skip;
  return (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (toSkip > 0) {
      const n = Math.min(toSkip, buf.length);
      buf = buf.subarray(n);
      toSkip -= n;
    }
    while (buf.length >= 7) {
      const size = buf.readUInt32BE(3);
      if (buf.length < 7 + size + 1) break;
      if (buf[0] === 1 && size >= 4) {
        const payload = buf.subarray(7, 7 + size);
        onMethod(buf.readUInt16BE(1), payload.readUInt16BE(0), payload.readUInt16BE(2), payload);
      }
      buf = buf.subarray(7 + size + 1);
    }
  };
}

export async function startAmqpConfirmCounter(targetPort = 5672, targetHost = '127.0.0.1'): Promise<AmqpConfirmCounter> {
  const sockets = new Set<Socket>();
  let published = 0;
  let peak = 0;
  let held: (() => void)[] | undefined;
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    // Per channel of this connection: the delivery tags sent and not yet confirmed (tags count from 1 per channel).
    const channels = new Map<number, { next: number; open: Set<number> }>();
    const of = (ch: number) => {
      let c = channels.get(ch);
      if (!c) channels.set(ch, (c = { next: 0, open: new Set() }));
      return c;
    };
    const fromClient = frameReader(8, (ch, cls, method) => {
      if (cls !== BASIC || method !== PUBLISH) return;
      const c = of(ch);
      c.open.add(++c.next);
      published++;
      peak = Math.max(peak, c.open.size);
    });
    const fromBroker = frameReader(0, (ch, cls, method, payload) => {
      if (cls !== BASIC || (method !== ACK && method !== NACK)) return;
      const c = of(ch);
      const tag = Number(payload.readBigUInt64BE(4));
      const multiple = (payload[12] & 1) === 1;
      if (!multiple) c.open.delete(tag);
      else for (const t of c.open) if (t <= tag) c.open.delete(t);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    const forward = (chunk: Buffer) => {
      fromClient(chunk);
      upstream.write(chunk);
    };
    client.on('data', (chunk: Buffer) => (held ? held.push(() => forward(chunk)) : forward(chunk)));
    upstream.on('data', (chunk: Buffer) => {
      fromBroker(chunk);
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get published() {
      return published;
    },
    get peakUnconfirmed() {
      return peak;
    },
    hold: () => void (held ??= []),
    release: () => {
      const queued = held ?? [];
      held = undefined;
      for (const f of queued) f();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
