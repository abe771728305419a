/** Starting gateways and local servers for tests: loopback only, free ports, stopped by the test. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Gateway, type GatewayOptions } from '../../src/gateway.ts';
import { createLogger } from '../../src/observability/logger.ts';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * For a gateway on the sample estate that replays with several connections: several screen reads
 * at once, and the browser runs below the gateway's CPU priority (its whole session group, at
 * niceness 10), so on a loaded machine a read may wait longer for a page than the sample's 2 s before
 * it is refused as overloaded. For tests that compare answers, not the overload bound
 * (test/screen/screen-flood.test.ts has that).
 */
export const SCREEN_PATIENCE = { BILLING_UI_QUEUE_TIMEOUT_MS: '60000' };

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

export interface StartGatewayOptions {
  /** The level of the in-memory logger (default info). */
  level?: string;
  /** The config file (default the root's ficus.yaml). */
  file?: string;
  /** Features of the test's own, installed after the built-in ones. */
  features?: GatewayOptions['features'];
  /** Also start the admin server on a free loopback port (default false). */
  adminServer?: boolean;
  /** Start only these adapters (the rest of the project's are left out). */
  onlyAdapters?: GatewayOptions['onlyAdapters'];
}

export interface StartedGateway {
  gateway: Gateway;
  /** The public side, on a free loopback port. */
  url: string;
  /** The admin server's URL, or '' when it was not started. */
  adminUrl: string;
  logLines: Record<string, unknown>[];
  /** Closes the gateway, letting calls in flight finish for up to `graceMs` (default 1 s). */
  close(graceMs?: number): Promise<void>;
}

/** The one way tests start an in-process gateway: over `root`, with `env`, on free loopback ports, its log kept in memory. */
export async function startGateway(root: string, env: Record<string, string | undefined>, opts: StartGatewayOptions = {}): Promise<StartedGateway> {
  const { logger, lines } = memoryLogger(opts.level ?? 'info');
  const gateway = await Gateway.create({ root, file: opts.file, env, logger, processMetrics: false, features: opts.features, onlyAdapters: opts.onlyAdapters });
  let url: string;
  let adminUrl: string;
  try {
    url = await gateway.listen(0, '127.0.0.1');
    adminUrl = opts.adminServer ? await gateway.control.listen(0, '127.0.0.1') : '';
  } catch (err) {
    await gateway.close(0);
    throw err;
  }
  return { gateway, url, adminUrl, logLines: lines, close: (graceMs = 1_000) => gateway.close(graceMs) };
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

/** The shipped ficus.yaml's `security` section (the sample contract's bearer scheme), for tests that write a config of their own. */
export const SAMPLE_SECURITY = {
  schemes: {
    bearer: {
      jwksUrl: '${env:FICUS_JWKS_URL:-http://127.0.0.1:8099/.well-known/jwks.json}',
      issuer: '${env:FICUS_JWT_ISSUER:-https://issuer.sample.ficus.dev}',
      audience: '${env:FICUS_JWT_AUDIENCE:-ficus-sample-api}',
    },
  },
};
