/**
 * The sample estate's modern service: the new customers API that the CRM's customer routes migrate
 * to. Plain node:http, JSON, keyset paging by (updatedAt, id).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleCustomers, type SampleCustomer } from '../data/customers.ts';

export interface ModernCustomersOptions {
  port?: number;
  host?: string;
  /** Every n-th customer (by id) answers with a different `vip` flag: a deliberate difference for shadow tests. */
  driftEvery?: number;
  /** Added latency per request, in ms. */
  delayMs?: number;
}

export interface RunningService {
  url: string;
  server: Server;
  /** Requests served, by path, for tests that check who was called. */
  hits: Map<string, number>;
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
  const customers = sampleCustomers().map((c) => (opts.driftEvery && c.id % opts.driftEvery === 0 ? { ...c, vip: !c.vip } : c));
  const byId = new Map(customers.map((c) => [c.id, c]));
  const ordered = [...customers].sort((a, b) => (a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : a.id - b.id));
  const hits = new Map<string, number>();

  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
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
        for (const c of ordered) {
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
  const addr = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    server,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
