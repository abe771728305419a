import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FIXTURES, startGateway } from '../helpers/gateway.ts';
import { startUpstream } from '../fixtures/upstream-server.ts';

const ROOT = join(FIXTURES, 'http-gateway');
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let gw: Awaited<ReturnType<typeof startGateway>>;
let port: number;

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startGateway(ROOT, { UPSTREAM_URL: upstream.url });
  port = Number(new URL(gw.url).port);
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

/** Sends raw bytes on a fresh loopback connection; resolves with what came back once the gateway closes it (bounded). */
function raw(bytes: string | Buffer, to = port): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(to, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 10 s; got: ${text}`));
    }, 10_000);
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.write(bytes);
  });
}

function problemOf(text: string): { status: number; headers: string; body: Record<string, unknown> } {
  const [head, body] = text.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head.toLowerCase(), body: JSON.parse(body) as Record<string, unknown> };
}

describe('request bodies that cannot be read', () => {
  it('answers a gzip body that is not gzip with 400 problem+json, and logs no stack trace', async () => {
    const res = await fetch(`${gw.url}/notes`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'this is not gzip at all' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as { type: string; detail: string };
    expect(body.type).toBe('https://ficus.dev/problems/malformed-json');
    expect(body.detail).toMatch(/gzip|decompress/i);
    const id = res.headers.get('x-request-id');
    await vi.waitFor(() => expect(gw.logLines.some((l) => l.requestId === id && l.msg === 'request')).toBe(true), { timeout: 10_000 });
    expect(gw.logLines.filter((l) => l.requestId === id && Number(l.level) >= 50)).toEqual([]);
  });

  it('logs a caller that goes away in the middle of its body as 499, not as a failure', async () => {
    const requestId = 'gone-mid-body-1';
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        // The head and part of the body, then the caller hangs up.
        socket.write(`POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nX-Request-Id: ${requestId}\r\n\r\n{"text": "half`, () => socket.destroy());
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
    });
    await vi.waitFor(() => expect(gw.logLines.some((l) => l.requestId === requestId && /^request/.test(String(l.msg)))).toBe(true), { timeout: 10_000 });
    const lines = gw.logLines.filter((l) => l.requestId === requestId);
    expect(lines.find((l) => l.msg === 'request')).toMatchObject({ status: 499, aborted: true });
    expect(lines.filter((l) => Number(l.level) >= 50)).toEqual([]);
  });
});

describe('requests Node cannot parse', () => {
  it('answers a malformed request with 400 problem+json and closes the connection', async () => {
    const r = problemOf(await raw('GET /customers/1 HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n'));
    expect(r.status).toBe(400);
    expect(r.headers).toMatch(/content-type: application\/problem\+json/);
    expect(r.headers).toMatch(/connection: close/);
    expect(r.body).toMatchObject({ type: 'https://ficus.dev/problems/validation', status: 400 });
  });

  it('answers headers that are too large with 431 problem+json', async () => {
    const r = problemOf(await raw(`GET /customers/1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(r.status).toBe(431);
    expect(r.headers).toMatch(/content-type: application\/problem\+json/);
    expect(r.body).toMatchObject({ type: 'https://ficus.dev/problems/request-headers-too-large', status: 431 });
    expect(String(r.body.detail)).toMatch(/header/i);
  });

  it('answers a malformed request to the admin server with problem+json too', async () => {
    const adminPort = Number(new URL(await gw.gateway.control.listen(0, '127.0.0.1')).port);
    const r = problemOf(await raw('GET /routes HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n', adminPort));
    expect(r.status).toBe(400);
    expect(r.headers).toMatch(/content-type: application\/problem\+json/);
    expect(r.body).toMatchObject({ type: 'https://ficus.dev/problems/validation', status: 400 });
  });
});
