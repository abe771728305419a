/**
 * An instance cut off from Redis while it carries a write: the other instance, still on Redis, keeps
 * its copy for as long as the cut lasts, and drops it as soon as the writer reaches Redis again (the
 * writer sends the invalidations it made meanwhile). Redis answering too slowly (commands time out,
 * the connection stays): the instance leaves Redis aside, keeps its memory, and uses Redis again once
 * it answers. Instance A reaches Redis through a TCP relay the test cuts, stalls and restores;
 * instance B directly.
 */
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseCache } from '../../src/cache/response-cache.ts';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { eventually, within } from '../helpers/wait.ts';
import { startUpstream } from '../fixtures/upstream-server.ts';

const ROOT = join(FIXTURES, 'http-gateway');
const PREFIX = `ficus-test-${randomUUID()}:`;

/**
 * A relay to 127.0.0.1:6379 on a free loopback port that can be cut (every connection dropped, none
 * taken) and restored on the same port, or stalled (connections kept, nothing forwarded) and resumed.
 */
async function redisRelay() {
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    const s = createServer((client) => {
      const upstream = connect(6379, '127.0.0.1');
      sockets.add(client).add(upstream);
      const pair = { client, upstream };
      pairs.add(pair);
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
        pairs.delete(pair);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    port = (s.address() as { port: number }).port;
    server = s;
  };
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const so of sockets) so.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  const stall = () => {
    for (const p of pairs) {
      p.client.unpipe(p.upstream);
      p.upstream.unpipe(p.client);
      p.client.pause();
      p.upstream.pause();
    }
  };
  const resume = () => {
    for (const p of pairs) {
      p.client.pipe(p.upstream);
      p.upstream.pipe(p.client);
    }
  };
  await listen();
  return { url: () => `redis://127.0.0.1:${port}`, cut, restore: listen, stall, resume };
}

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let relay: Awaited<ReturnType<typeof redisRelay>>;
let a: Awaited<ReturnType<typeof startGateway>>;
let b: Awaited<ReturnType<typeof startGateway>>;

const redisOk = async (gw: typeof a) => {
  const r = (await (await fetch(`${gw.url}/readyz`)).json()) as { features?: { cache?: { redis?: { ok: boolean } } } };
  return r.features?.cache?.redis?.ok === true;
};

beforeAll(async () => {
  upstream = await startUpstream();
  relay = await redisRelay();
  a = await startGateway(ROOT, { UPSTREAM_URL: upstream.url, CACHE_PREFIX: PREFIX, CACHE_REDIS_URL: relay.url(), CACHE_COMMAND_TIMEOUT: '200ms' }, { file: 'ficus-cache-redis.yaml' });
  b = await startGateway(ROOT, { UPSTREAM_URL: upstream.url, CACHE_PREFIX: PREFIX }, { file: 'ficus-cache-redis.yaml' });
  await eventually(() => redisOk(a), undefined, 'instance A reached Redis');
  await eventually(() => redisOk(b), undefined, 'instance B reached Redis');
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await relay?.cut();
  await upstream?.close();
  const redis = new Redis('redis://127.0.0.1:6379');
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('an instance cut off from Redis', () => {
  it('sends the invalidations of the writes it carried meanwhile once it reaches Redis again', async () => {
    await fetch(`${b.url}/customers?limit=3`);
    expect((await fetch(`${b.url}/customers?limit=3`)).headers.get('ficus-cache')).toBe('hit');

    await relay.cut();
    await eventually(async () => !(await redisOk(a)), undefined, 'instance A lost Redis');
    const w = await fetch(`${a.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'while cut off' }) });
    expect(w.status).toBe(201);
    // B could not be told yet.
    expect((await fetch(`${b.url}/customers?limit=3`)).headers.get('ficus-cache')).toBe('hit');

    const heard = new Promise<void>((resolve) => {
      const stop = b.gateway.feature<ResponseCache>('cache').onInvalidated((e) => {
        if (e.operationId !== 'listCustomers' || e.cause !== 'other-instance') return;
        stop();
        resolve();
      });
    });
    await relay.restore();
    await within(heard, undefined, "instance B to hear A's invalidation");
    expect((await fetch(`${b.url}/customers?limit=3`)).headers.get('ficus-cache')).toBe('miss');
  });

  it('a command that times out (the connection kept) leaves Redis aside, memory kept, until Redis answers again', async () => {
    await eventually(() => redisOk(a), undefined, 'instance A on Redis');
    await fetch(`${a.url}/customers/5`);
    expect((await fetch(`${a.url}/customers/5`)).headers.get('ficus-cache')).toBe('hit');

    relay.stall();
    // A new key: its Redis look-up waits past the command timeout; the backend answers.
    expect((await fetch(`${a.url}/customers/6`)).status).toBe(200);
    await eventually(async () => !(await redisOk(a)), undefined, 'instance A left Redis aside');
    expect((await fetch(`${a.url}/customers/5`)).headers.get('ficus-cache')).toBe('hit');

    relay.resume();
    await eventually(() => redisOk(a), undefined, 'instance A uses Redis again');
    // Nothing was missed on the listening connection: memory was kept.
    expect((await fetch(`${a.url}/customers/5`)).headers.get('ficus-cache')).toBe('hit');
  });
});
