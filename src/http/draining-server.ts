/**
 * An HTTP server that shuts down gracefully (the public API and the admin server both use it):
 * once `drain()` starts it takes no new connection, closes idle kept-alive connections at once, and
 * takes no new request on a connection that was busy: every answer still to be sent carries
 * `Connection: close` and ends its connection, and a request that arrives after the signal is not
 * served but refused (503 problem, `Connection: close`). The requests in flight finish with their
 * real answers; `drain()` resolves as soon as they have, or cuts what is left at the grace limit.
 * It listens itself, or takes the connections another process accepts and hands over (a cluster's
 * primary: `ConnectionSource`); those are served, drained and waited for the same way.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PROBLEM_CONTENT_TYPE, PROBLEMS, Problem } from '../problem.ts';

export interface DrainingServer {
  readonly server: Server;
  /** True once `drain()` was called. */
  readonly draining: boolean;
  /** Requests being served now. */
  readonly inFlight: number;
  /** Where it listens (itself, or the process that hands it the connections); undefined until it does. */
  readonly address: AddressInfo | undefined;
  /** Listens on `port` and `host`, or with `source` takes the connections `source` accepts there; rejects with the listen error. */
  listen(port: number, host: string, source?: ConnectionSource): Promise<AddressInfo>;
  /** Stops taking requests, lets those in flight finish within `graceMs`, then cuts what is left. */
  drain(graceMs: number): Promise<void>;
}

/** Another process that listens for this server and hands it each connection it accepts (a cluster's primary). */
export interface ConnectionSource {
  /** Listens on `port` and `host` and gives every connection to `take`; resolves with where, rejects like `server.listen` (an error with the errno `code`). */
  listen(port: number, host: string, take: (socket: Socket) => void): Promise<AddressInfo>;
}

/** Answers a request that arrived after the shutdown began: it must not be served. */
export type RefuseRequest = (req: IncomingMessage, res: ServerResponse) => void;

export function drainingServer(handler: RequestListener, refuse: RefuseRequest): DrainingServer {
  let draining = false;
  let drained: Promise<void> | undefined;
  let address: AddressInfo | undefined;
  const inFlight = new Set<ServerResponse>();
  /** Connections handed over by another process: the server does not count them itself, so drain() waits for them here. */
  const handed = new Set<Socket>();
  let handedGone: (() => void) | undefined;
  const forgetHanded = (socket: Socket) => {
    handed.delete(socket);
    if (handed.size === 0) handedGone?.();
  };
  function forget(this: ServerResponse): void {
    inFlight.delete(this);
  }

  /** This answer says `Connection: close`, and its connection ends once it is sent. */
  const lastOnItsConnection = (res: ServerResponse) => {
    if (!res.headersSent) {
      // Node then writes `Connection: close` and ends the connection after the answer.
      res.shouldKeepAlive = false;
    } else {
      // The head already went out as keep-alive: end the connection once the answer is complete.
      const socket = res.socket; // detached from the response by the time 'finish' is emitted
      res.once('finish', () => socket?.destroySoon());
    }
  };

  const server = createServer((req, res) => {
    if (draining) {
      res.shouldKeepAlive = false;
      refuse(req, res);
      return;
    }
    inFlight.add(res);
    res.on('close', forget); // one shared listener: nothing allocated per request
    handler(req, res);
  });

  const take = (socket: Socket) => {
    handed.add(socket);
    socket.once('close', () => forgetHanded(socket));
    // As on the connections node:http accepts itself (its server allows half-open connections).
    socket.allowHalfOpen = true;
    server.emit('connection', socket);
    socket.resume(); // one accepted paused (pauseOnConnect) starts reading
  };

  return {
    server,
    get draining() {
      return draining;
    },
    get inFlight() {
      return inFlight.size;
    },
    get address() {
      return address;
    },
    async listen(port: number, host: string, source?: ConnectionSource): Promise<AddressInfo> {
      if (source) {
        // node:http starts tracking its connections (which are idle, for closeIdleConnections(); which
        // are past headersTimeout or requestTimeout) when the server emits 'listening'. This one never
        // listens itself, so it is told to start before the first connection is handed over.
        server.emit('listening');
        address = await source.listen(port, host, take);
        return address;
      }
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
        server.listen(port, host);
      });
      address = server.address() as AddressInfo;
      return address;
    },
    drain(graceMs: number): Promise<void> {
      if (drained) return drained;
      draining = true;
      let timer: NodeJS.Timeout | undefined;
      // Done once the server's own connections have closed (its close() callback) and every handed one has.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const handedClosed = new Promise<void>((resolve) => (handed.size === 0 ? resolve() : (handedGone = resolve)));
      drained = new Promise<void>((resolve) => {
        void Promise.all([closed, handedClosed]).then(() => resolve());
        for (const res of inFlight) lastOnItsConnection(res);
        server.closeIdleConnections();
        timer = setTimeout(() => server.closeAllConnections(), graceMs);
      }).finally(() => clearTimeout(timer));
      return drained;
    },
  };
}

/** The answer to a request that arrived after the shutdown began: not served, 503, `Connection: close`. */
export function refuseWhileShuttingDown(req: IncomingMessage, res: ServerResponse): void {
  const given = req.headers['x-request-id'];
  const requestId = typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
  const problem = new Problem(PROBLEMS.shuttingDown, {
    detail: 'the request was not served; send it again (to another instance, or once this one is back)',
  });
  const body = JSON.stringify(problem.toBody(requestId, req.url));
  req.resume();
  res.writeHead(503, {
    'content-type': PROBLEM_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    connection: 'close',
    'retry-after': '1',
    'x-request-id': requestId,
  });
  res.end(body);
}
