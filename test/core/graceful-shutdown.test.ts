/**
 * Graceful shutdown on kept-alive connections: once `close()` starts, the requests in flight finish
 * with their real answers, every answer says `Connection: close`, nothing new is served on a
 * connection that was busy or idle at the signal, and close resolves as soon as the in-flight work
 * is done (not at the grace limit); the same for connections another process accepted and handed
 * over (a cluster's primary). Raw sockets, so that which connection carries what is exact.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AddressInfo } from 'node:net';
import { drainingServer, refuseWhileShuttingDown, type ConnectionSource } from '../../src/http/draining-server.ts';
import { FIXTURES, json, startGateway, startHttpServer } from '../helpers/gateway.ts';

const ROOT = join(FIXTURES, 'http-gateway');

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One kept-alive HTTP/1.1 connection: requests written as given (pipelined if not awaited), answers read in order. */
class RawConnection {
  readonly ended: Promise<void>;
  private buffer = Buffer.alloc(0);
  private readonly waiting: { resolve(r: RawResponse): void; reject(e: Error): void }[] = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    socket.on('error', () => undefined);
    this.ended = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        for (const w of this.waiting.splice(0)) w.reject(new Error('connection closed before the answer'));
        resolve();
      }),
    );
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  send(method: string, path: string, body?: unknown, extra: string[] = []): Promise<RawResponse> {
    if (this.closed) return Promise.reject(new Error('connection closed before the request'));
    const text = body === undefined ? '' : JSON.stringify(body);
    const head = [
      `${method} ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Accept: application/json',
      ...extra,
      ...(body === undefined ? [] : ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`]),
    ];
    const answer = new Promise<RawResponse>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.socket.write(`${head.join('\r\n')}\r\n\r\n${text}`);
    return answer;
  }

  /** Writes a request's head but its last line: the request is still arriving until `complete()`. */
  begin(method: string, path: string): { answer: Promise<RawResponse>; complete(): void } {
    const answer = new Promise<RawResponse>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    return { answer, complete: () => this.socket.write('\r\n') };
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(':')).trim().toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      const length = Number(headers['content-length']);
      if (!Number.isInteger(length)) throw new Error(`an answer without Content-Length: ${statusLine}`);
      if (this.buffer.length < end + 4 + length) return;
      const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(end + 4 + length);
      this.waiting.shift()?.resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    }
  }
}

/** A stand-in for a cluster's primary: it listens, never reads, and hands every connection to the server (here in the same process). */
function handingSource(): ConnectionSource & { listener?: Server } {
  const source: ConnectionSource & { listener?: Server } = {
    listen: (port, host, take) =>
      new Promise((resolve) => {
        const listener = createServer({ pauseOnConnect: true }, take);
        source.listener = listener;
        listener.listen(port, host, () => resolve(listener.address() as AddressInfo));
      }),
  };
  return source;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('graceful shutdown with kept-alive connections', () => {
  it('finishes the requests in flight, serves nothing new on busy or idle connections, and resolves as soon as they are done', async () => {
    // The upstream answers GET /customers/1 at once and holds every other call until released.
    const received: string[] = [];
    const held: { res: ServerResponse; release(): void }[] = [];
    const upstream = await startHttpServer((req, res, body) => {
      received.push(`${req.method} ${req.url} ${body}`);
      if (req.url === '/customers/1') return json(res, 200, { id: 1, name: 'Ada', status: 'active' });
      held.push({
        res,
        release: () => (req.method === 'POST' ? json(res, 201, { id: 77, text: (JSON.parse(body) as { text: string }).text }) : json(res, 200, { id: 42, name: 'Grace', status: 'active' })),
      });
    });
    cleanup.push(() => upstream.close());
    const gw = await startGateway(ROOT, { UPSTREAM_URL: upstream.url, UPSTREAM_TIMEOUT_MS: '60000' });
    let closed = false;
    cleanup.push(async () => {
      if (!closed) await gw.gateway.close(0);
    });

    // Three kept-alive connections, each used once already.
    const busyPost = await RawConnection.open(gw.url);
    const busyGet = await RawConnection.open(gw.url);
    const idle = await RawConnection.open(gw.url);
    for (const c of [busyPost, busyGet, idle]) {
      cleanup.push(() => c.destroy());
      const warm = await c.send('GET', '/customers/1');
      expect(warm.status).toBe(200);
      expect(warm.headers.connection).toBe('keep-alive');
    }

    // Two requests in flight, held by the upstream.
    const order = busyPost.send('POST', '/notes', { text: 'in flight' });
    const read = busyGet.send('GET', '/customers/42');
    await vi.waitFor(() => expect(held).toHaveLength(2), { timeout: 10_000, interval: 20 });

    // The signal: a grace far longer than this test may take.
    let closeDone = false;
    const closing = gw.gateway.close(120_000).then(() => (closeDone = true));

    // A new order pipelined on the busy connection after the signal must not be served as an order.
    const late = busyPost.send('POST', '/notes', { text: 'after the signal' }).catch((err: Error) => err);
    // The idle connection is closed by the gateway, and a new connection is refused.
    await idle.ended;
    await expect(RawConnection.open(gw.url)).rejects.toThrow(/ECONNREFUSED/);

    expect(closeDone).toBe(false);
    for (const h of held) h.release();

    const orderAnswer = await order;
    expect(orderAnswer.status).toBe(201);
    expect(JSON.parse(orderAnswer.body)).toEqual({ id: 77, text: 'in flight' });
    expect(orderAnswer.headers.connection).toBe('close');
    const readAnswer = await read;
    expect(readAnswer.status).toBe(200);
    expect(JSON.parse(readAnswer.body)).toEqual({ id: 42, name: 'Grace', status: 'active' });
    expect(readAnswer.headers.connection).toBe('close');

    const lateAnswer = await late;
    if (lateAnswer instanceof Error) {
      expect(lateAnswer.message).toMatch(/connection closed/);
    } else {
      expect(lateAnswer.status).toBe(503);
      expect(lateAnswer.headers.connection).toBe('close');
      expect(lateAnswer.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(JSON.parse(lateAnswer.body)).toMatchObject({ type: 'https://ficus.dev/problems/shutting-down', status: 503 });
    }
    await busyPost.ended;
    await busyGet.ended;

    // Close resolves once the in-flight work is done: long before the 120 s grace (the test's own timeout is 30 s).
    await closing;
    closed = true;
    expect(received.filter((r) => r.startsWith('POST'))).toEqual(['POST /notes {"text":"in flight"}']);
  }, 30_000);

  it('the admin server drains the same way: a call in flight gets its answer, with Connection: close', async () => {
    // The first admin GET /routes waits for the adapters' health checks; the upstream holds /healthz.
    const healthChecks: ServerResponse[] = [];
    const upstream = await startHttpServer((req, res) => {
      if (req.url === '/healthz') healthChecks.push(res);
      else json(res, 404, {});
    });
    cleanup.push(() => upstream.close());
    const gw = await startGateway(ROOT, { UPSTREAM_URL: upstream.url, FICUS_ADMIN_TOKENS: 'ops:ops-secret-token' });
    let closed = false;
    cleanup.push(async () => {
      if (!closed) await gw.gateway.close(0);
    });
    const adminUrl = await gw.gateway.control.listen(0, '127.0.0.1');

    const conn = await RawConnection.open(adminUrl);
    cleanup.push(() => conn.destroy());
    const view = conn.send('GET', '/routes', undefined, ['Authorization: Bearer ops-secret-token']);
    await vi.waitFor(() => expect(healthChecks.length).toBeGreaterThan(0), { timeout: 10_000, interval: 20 });

    const closing = gw.gateway.close(120_000);
    for (const res of healthChecks) json(res, 200, { ok: true });
    const answer = await view;
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.body) as { routes: unknown[] }).routes.length).toBeGreaterThan(0);
    expect(answer.headers.connection).toBe('close');
    await conn.ended;
    await closing;
    closed = true;
  }, 30_000);

  it('a streamed answer whose head went out before the signal is completed, then its connection ends', async () => {
    let finish: (() => void) | undefined;
    const http = drainingServer((req, res) => {
      if (req.url !== '/stream') return json(res, 200, { ok: true });
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' });
      res.write('01234');
      finish = () => res.end('56789');
    }, refuseWhileShuttingDown);
    http.server.keepAliveTimeout = 120_000; // so that only the drain can end the connection
    await new Promise<void>((resolve) => http.server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => http.drain(0));
    const url = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
    const conn = await RawConnection.open(url);
    cleanup.push(() => conn.destroy());
    expect((await conn.send('GET', '/warm')).headers.connection).toBe('keep-alive');
    const streamed = conn.send('GET', '/stream');
    await vi.waitFor(() => expect(finish).toBeDefined(), { timeout: 10_000, interval: 20 });

    const draining = http.drain(120_000);
    finish?.();
    const answer = await streamed;
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('0123456789');
    await conn.ended;
    await draining;
  }, 30_000);

  it('a request still arriving at the signal is not served: 503 shutting-down problem, Connection: close', async () => {
    const served: string[] = [];
    const http = drainingServer((req, res) => {
      served.push(req.url ?? '');
      json(res, 200, { ok: true });
    }, refuseWhileShuttingDown);
    const accepted: Socket[] = [];
    http.server.on('connection', (socket: Socket) => accepted.push(socket));
    await new Promise<void>((resolve) => http.server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => http.drain(0));
    const conn = await RawConnection.open(`http://127.0.0.1:${(http.server.address() as AddressInfo).port}`);
    cleanup.push(() => conn.destroy());
    const arriving = conn.begin('POST', '/orders');
    // The server has read the start of the request before the signal.
    await vi.waitFor(() => expect(accepted[0]?.bytesRead ?? 0).toBeGreaterThan(0), { timeout: 10_000, interval: 10 });

    void http.drain(120_000);
    arriving.complete();
    const answer = await arriving.answer;
    expect(answer.status).toBe(503);
    expect(answer.headers.connection).toBe('close');
    expect(answer.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(answer.body)).toMatchObject({ type: 'https://ficus.dev/problems/shutting-down', status: 503, instance: '/orders' });
    await conn.ended;
    expect(served).toEqual([]);
  }, 30_000);

  it('connections handed over by another process are served, and drain the same way: idle ones closed at once, the one in flight answered', async () => {
    let finish: (() => void) | undefined;
    const http = drainingServer((req, res) => {
      if (req.url !== '/held') return json(res, 200, { ok: true });
      finish = () => json(res, 200, { held: true });
    }, refuseWhileShuttingDown);
    http.server.keepAliveTimeout = 120_000; // so that only the drain can end the connections
    const source = handingSource();
    const address = await http.listen(0, '127.0.0.1', source);
    expect(http.address).toEqual(address);
    expect(http.server.listening).toBe(false); // the server itself listens nowhere
    cleanup.push(() => new Promise<void>((resolve) => (source.listener ? source.listener.close(() => resolve()) : resolve())));
    cleanup.push(() => http.drain(0));
    const url = `http://127.0.0.1:${address.port}`;
    const busy = await RawConnection.open(url);
    const idle = await RawConnection.open(url);
    for (const c of [busy, idle]) {
      cleanup.push(() => c.destroy());
      const warm = await c.send('GET', '/warm');
      expect(warm.status).toBe(200);
      expect(warm.headers.connection).toBe('keep-alive');
    }
    const held = busy.send('GET', '/held');
    await vi.waitFor(() => expect(finish).toBeDefined(), { timeout: 10_000, interval: 20 });

    // The primary stops accepting first; then the worker drains.
    source.listener?.close();
    let drained = false;
    const draining = http.drain(120_000).then(() => (drained = true));
    await idle.ended;
    expect(drained).toBe(false);
    finish?.();
    const answer = await held;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ held: true });
    expect(answer.headers.connection).toBe('close');
    await busy.ended;
    // Resolved once the handed connections closed: long before the 120 s grace (the test's own timeout is 30 s).
    await draining;
  }, 30_000);

  it("node:http's own timeouts apply to a handed connection: headers that never finish get 408", async () => {
    const http = drainingServer((_req, res) => json(res, 200, { ok: true }), refuseWhileShuttingDown);
    // Short limits, checked often (the check starts when the server starts taking connections).
    Object.assign(http.server, { headersTimeout: 300, requestTimeout: 300, connectionsCheckingInterval: 50 });
    const source = handingSource();
    const address = await http.listen(0, '127.0.0.1', source);
    cleanup.push(() => new Promise<void>((resolve) => (source.listener ? source.listener.close(() => resolve()) : resolve())));
    cleanup.push(() => http.drain(0));
    const socket = connect(address.port, '127.0.0.1');
    cleanup.push(() => void socket.destroy());
    let received = '';
    socket.setEncoding('latin1').on('data', (c: string) => (received += c));
    socket.write('GET /never-finished HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  }, 30_000);
});
