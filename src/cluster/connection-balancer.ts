/**
 * The public port of `ficus start --workers N`, in the primary: it accepts each connection (paused:
 * it never reads from it) and hands it at once to the worker with the fewest connections open, ties
 * taken in turn. A worker says when connections it was handed have closed. Unlike node:cluster's
 * round-robin, which hands a connection only to a worker that has acknowledged the one before (so a
 * worker busy during a burst of connections gets almost none of them, and kept-alive connections stay
 * where they went), the choice depends only on the counts: a burst is split evenly whatever the
 * workers are doing, and a worker started in a dead one's place takes the new connections until it
 * holds as many as the others. Connections accepted while no worker takes any wait here.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** A worker as the balancer sees it. */
export interface ConnectionTaker {
  readonly id: number;
  /** Sends the connection over; `sent` is called once it has left, or with why it could not. */
  hand(socket: Socket, sent: (err: Error | null) => void): void;
}

interface Taking {
  taker: ConnectionTaker;
  /** Connections handed and not yet reported closed. */
  open: number;
  /** Handed, not yet sent (the IPC channel sends one handle at a time): closed here if the worker goes. */
  sending: Set<Socket>;
}

export class ConnectionBalancer {
  private readonly server: Server;
  private readonly takers: Taking[] = [];
  private readonly queued: Socket[] = [];
  /** Where the next tie is broken: the taker after the last one chosen. */
  private turn = 0;
  private closed = false;

  constructor(private readonly onError: (err: Error) => void) {
    // noDelay as node:http's own server sets on the connections it accepts (TCP_NODELAY belongs to the socket, so the worker's copy has it).
    this.server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.accepted(socket));
  }

  /** Listens on `port` and `host`; resolves with the address, rejects with the listen error (EADDRINUSE …). */
  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => reject(err);
      this.server.once('error', failed);
      this.server.listen(port, host, () => {
        this.server.off('error', failed);
        this.server.on('error', this.onError); // accept errors (EMFILE …) from now on
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  get address(): AddressInfo | undefined {
    return (this.server.address() as AddressInfo | null) ?? undefined;
  }

  /** A worker that serves the port from now on; the connections waiting go out at once. */
  add(taker: ConnectionTaker): void {
    if (this.takers.some((t) => t.taker.id === taker.id)) return;
    this.takers.push({ taker, open: 0, sending: new Set() });
    for (const socket of this.queued.splice(0)) this.dispatch(socket);
  }

  /** A worker that is gone: it gets nothing more, and what it was handed but not sent is closed. */
  remove(id: number): void {
    const i = this.takers.findIndex((t) => t.taker.id === id);
    if (i < 0) return;
    const [gone] = this.takers.splice(i, 1);
    for (const socket of gone.sending) socket.destroy();
    if (this.turn > i) this.turn--;
  }

  /** A worker's word that `count` of the connections it was handed have closed. */
  closedBy(id: number, count: number): void {
    const t = this.takers.find((x) => x.taker.id === id);
    if (t) t.open = Math.max(0, t.open - count);
  }

  /** Open connections by worker id (handed and not reported closed). */
  openBy(): Map<number, number> {
    return new Map(this.takers.map((t) => [t.taker.id, t.open]));
  }

  /** Connections accepted while no worker takes any, waiting for one. */
  get waiting(): number {
    return this.queued.length;
  }

  /** Stops accepting (the port refuses new connections at once); those still waiting for a worker are closed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.server.listening) this.server.close();
    for (const socket of this.queued.splice(0)) socket.destroy();
  }

  private accepted(socket: Socket): void {
    // A client may reset a connection before it is handed over: nothing to do but let it go.
    socket.on('error', () => socket.destroy());
    if (this.closed) socket.destroy();
    else this.dispatch(socket);
  }

  private dispatch(socket: Socket): void {
    if (socket.destroyed) return;
    const t = this.pick();
    if (!t) {
      this.queued.push(socket);
      return;
    }
    t.open++;
    t.sending.add(socket);
    t.taker.hand(socket, (err) => {
      t.sending.delete(socket);
      if (!err) return;
      t.open = Math.max(0, t.open - 1);
      socket.destroy();
    });
  }

  /** The taker with the fewest open connections; among equals, the first from the one after the last chosen. */
  private pick(): Taking | undefined {
    const n = this.takers.length;
    if (n === 0) return undefined;
    let best = -1;
    for (let k = 0; k < n; k++) {
      const i = (this.turn + k) % n;
      if (best < 0 || this.takers[i].open < this.takers[best].open) best = i;
    }
    this.turn = (best + 1) % n;
    return this.takers[best];
  }
}
