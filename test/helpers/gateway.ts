/** Starting gateways and local servers for tests: loopback only, free ports, stopped by the test. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/observability/logger.ts';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A logger whose JSON lines are kept in memory, for tests that check what was logged. */
export function memoryLogger(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ level, destination: stream }), lines };
}

export async function startGateway(root: string, env: Record<string, string | undefined>, opts: { level?: string } = {}) {
  const { logger, lines } = memoryLogger(opts.level ?? 'info');
  const gateway = await Gateway.create({ root, env, logger, processMetrics: false });
  const url = await gateway.listen(0, '127.0.0.1');
  return { gateway, url, logLines: lines, close: () => gateway.close(1_000) };
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A plain HTTP server on a free loopback port, answering with `handler`. */
export async function startHttpServer(handler: Handler): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
