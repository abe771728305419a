/**
 * The sample estate's modern service: the new customers API that the CRM's customer routes migrate
 * to. Plain node:http, JSON, keyset paging by (updatedAt, id).
 *
 * Its store is its own (in memory). By default it holds the sample customers already (the tests
 * and tools that need a modern side as it is midway through a migration); with `empty: true` it
 * starts with none and fills from the legacy CRM's change feed (`npm start`): `POST /events` takes
 * the gateway's webhooks (Standard Webhooks signatures checked with `eventsSecret`), or `amqp` a
 * RabbitMQ queue of its own; events are de-duplicated by id; `customer.updated` stores the customer
 * as sent, `customer.deleted` removes it.
 * `POST /_sample/drift/{id}` flips a customer's vip flag here only: a deliberate difference
 * (`ficus sample drift`) for reconciliation and shadow to show.
 */
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../src/changes/sinks/webhook-sink.ts';
import { sampleCustomers, type SampleCustomer } from '../data/customers.ts';

export interface ModernCustomersOptions {
  port?: number;
  host?: string;
  /** Every n-th customer (by id) answers with a different `vip` flag: a deliberate difference for shadow tests. */
  driftEvery?: number;
  /** Added latency per request, in ms. */
  delayMs?: number;
  /** Start with no customers (they come as events). */
  empty?: boolean;
  /** Take change events at POST /events, signed with this Standard Webhooks secret (whsec_…). */
  eventsSecret?: string;
  /**
   * Take change events from RabbitMQ too: a queue of its own (exclusive) bound to `customer.*` on
   * this topic exchange (declared durable if missing; deleted on close with `deleteExchange`).
   */
  amqp?: { url: string; exchange: string; deleteExchange?: boolean };
}

export interface EventCounts {
  /** Events applied to the store. */
  applied: number;
  /** Events received again (same id) and not applied twice. */
  duplicates: number;
  /** Calls refused: a bad signature or an event this service does not understand. */
  refused: number;
}

export interface RunningService {
  url: string;
  server: Server;
  /** Requests served, by path, for tests that check who was called. */
  hits: Map<string, number>;
  /** How many customers the store holds now. */
  readonly size: number;
  events: EventCounts;
  close(): Promise<void>;
}

function encodeCursor(c: SampleCustomer): string {
  return Buffer.from(JSON.stringify({ u: c.updatedAt, i: c.id })).toString('base64url');
}

function decodeCursor(s: string): { u: string; i: number } | undefined {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as { u?: unknown; i?: unknown };
    return typeof v.u === 'string' && typeof v.i === 'number' ? { u: v.u, i: v.i } : undefined;
  } catch {
    return undefined;
  }
}

export async function startModernCustomers(opts: ModernCustomersOptions = {}): Promise<RunningService> {
  const byId = new Map<number, SampleCustomer>();
  for (const c of opts.empty ? [] : sampleCustomers()) byId.set(c.id, opts.driftEvery && c.id % opts.driftEvery === 0 ? { ...c, vip: !c.vip } : c);
  // Kept sorted for the list; sorted again (on the next list) only after a change.
  let ordered: SampleCustomer[] | undefined;
  const sorted = () => (ordered ??= [...byId.values()].sort((a, b) => (a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : a.id - b.id)));
  const hits = new Map<string, number>();
  const events: EventCounts = { applied: 0, duplicates: 0, refused: 0 };
  /** Event ids applied (the last 100,000): a redelivered event is acknowledged, not applied again. */
  const seen = new Set<string>();

  /** A change event (CloudEvents JSON), as the gateway's change feed sends it; returns the status to answer. */
  const applyEvent = (body: string): number => {
    let e: { id?: unknown; type?: unknown; subject?: unknown; data?: unknown };
    try {
      e = JSON.parse(body) as typeof e;
    } catch {
      events.refused++;
      return 400;
    }
    const id = Number(e.subject);
    if (typeof e.id !== 'string' || !Number.isInteger(id)) {
      events.refused++;
      return 400;
    }
    if (seen.has(e.id)) {
      events.duplicates++;
      return 204;
    }
    if (e.type === 'customer.updated' && e.data && typeof e.data === 'object') byId.set(id, e.data as SampleCustomer);
    else if (e.type === 'customer.deleted') byId.delete(id);
    else {
      events.refused++;
      return 422;
    }
    ordered = undefined;
    seen.add(e.id);
    if (seen.size > 100_000) seen.delete(seen.values().next().value!);
    events.applied++;
    return 204;
  };
  /** A webhook: its Standard Webhooks signature first. */
  const takeEvent = (req: IncomingMessage, body: string): number => {
    if (!opts.eventsSecret || !verifyWebhook(opts.eventsSecret, req.headers, body)) {
      events.refused++;
      return 401;
    }
    return applyEvent(body);
  };

  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    if (req.method === 'POST' && (url.pathname === '/events' || url.pathname.startsWith('/_sample/drift/'))) {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c.length + body.length > 1_000_000 ? '' : c));
      req.on('end', () => {
        if (url.pathname === '/events') {
          res.writeHead(takeEvent(req, body)).end();
          return;
        }
        const c = byId.get(Number(url.pathname.slice('/_sample/drift/'.length)));
        if (!c) return send(res, 404, { title: 'Customer not found', status: 404 }, 'application/problem+json');
        const drifted = { ...c, vip: !c.vip };
        byId.set(c.id, drifted);
        ordered = undefined;
        return send(res, 200, drifted);
      });
      return;
    }
    const answer = () => {
      if (req.method !== 'GET') return send(res, 405, { title: 'Method not allowed', status: 405 }, 'application/problem+json');
      if (url.pathname === '/healthz') return send(res, 200, { status: 'up' });
      const one = /^\/customers\/(\d+)$/.exec(url.pathname);
      if (one) {
        const c = byId.get(Number(one[1]));
        return c ? send(res, 200, c) : send(res, 404, { title: 'Customer not found', status: 404, detail: `no customer ${one[1]}` }, 'application/problem+json');
      }
      if (url.pathname === '/customers') {
        const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 20)));
        const since = url.searchParams.get('updatedSince');
        const cursorText = url.searchParams.get('cursor');
        const cursor = cursorText ? decodeCursor(cursorText) : undefined;
        if (cursorText && !cursor) return send(res, 400, { title: 'Bad cursor', status: 400, detail: 'the cursor is not one this service issued' }, 'application/problem+json');
        const sinceIso = since ? new Date(since).toISOString().replace('.000Z', 'Z') : undefined;
        const items: SampleCustomer[] = [];
        let more = false;
        for (const c of sorted()) {
          if (sinceIso && c.updatedAt < sinceIso) continue;
          if (cursor && (c.updatedAt < cursor.u || (c.updatedAt === cursor.u && c.id <= cursor.i))) continue;
          if (items.length === limit) {
            more = true;
            break;
          }
          items.push(c);
        }
        return send(res, 200, { items, nextCursor: more ? encodeCursor(items[items.length - 1]) : null });
      }
      return send(res, 404, { title: 'Not found', status: 404 }, 'application/problem+json');
    };
    if (opts.delayMs) setTimeout(answer, opts.delayMs);
    else answer();
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  let consumer: ChannelModel | undefined;
  let channel: Channel | undefined;
  if (opts.amqp) {
    const a = opts.amqp;
    try {
      consumer = await amqp.connect(a.url, { timeout: 2_000 });
      consumer.on('error', () => undefined);
      const ch = await consumer.createChannel();
      channel = ch;
      await ch.assertExchange(a.exchange, 'topic', { durable: true });
      const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
      await ch.bindQueue(q.queue, a.exchange, 'customer.*');
      await ch.consume(q.queue, (m) => {
        if (!m) return;
        applyEvent(m.content.toString('utf8'));
        ch.ack(m);
      });
    } catch (err) {
      await consumer?.close().catch(() => undefined);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw err;
    }
  }
  const addr = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    server,
    hits,
    get size() {
      return byId.size;
    },
    events,
    async close() {
      if (consumer) {
        if (opts.amqp?.deleteExchange) await channel?.deleteExchange(opts.amqp.exchange).catch(() => undefined);
        await consumer.close().catch(() => undefined);
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
