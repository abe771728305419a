/**
 * The admin side's HTTP server, on its own port: the admin API, the dashboard and the features'
 * admin routers (admin-app.ts), started by `ficus start` (or a test) and closed with the gateway.
 */
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { clientErrorHandler } from '../http/app.ts';
import { drainingServer, refuseWhileShuttingDown, type DrainingServer } from '../http/draining-server.ts';
import type { Logger } from '../observability/logger.ts';

export class AdminServer {
  private server: DrainingServer | undefined;

  constructor(
    private readonly buildApp: () => Express,
    private readonly defaults: { port: number; host: string; file: string },
    private readonly logger: Logger,
  ) {}

  /** Starts listening; resolves with its URL. */
  async listen(port = this.defaults.port, host = this.defaults.host): Promise<string> {
    const admin = drainingServer(this.buildApp(), refuseWhileShuttingDown);
    const server = admin.server;
    // Requests Node's parser refuses get a problem+json answer here too, as on the public side.
    server.on('clientError', clientErrorHandler(this.logger));
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `the admin server cannot listen on ${host}:${port} (${err.code ?? err.message}): choose another port with FICUS_ADMIN_PORT or admin.port in ${this.defaults.file}, or turn it off with admin.enabled: false`,
          ),
        ),
      );
      server.listen(port, host);
    });
    this.server = admin;
    return this.url as string;
  }

  get url(): string | undefined {
    const addr = this.server?.server.address() as AddressInfo | null | undefined;
    if (!addr) return undefined;
    const h = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    return `http://${h}:${addr.port}`;
  }

  /** Drains like the public API (src/http/draining-server.ts): what is in flight finishes within `graceMs`, then is cut. */
  async close(graceMs = 0): Promise<void> {
    await this.server?.drain(graceMs);
  }
}
