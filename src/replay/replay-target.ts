/**
 * Where replayed requests go. A base URL (a running gateway, or a service that speaks the contract),
 * or a gateway started in this process from the project's config, where a request header picks the
 * backend (legacy or modern) whatever the route's mode.
 */
import { Agent, request } from 'undici';
import type { Env } from '../config/env.ts';
import type { Feature } from '../features/feature.ts';
import { Gateway } from '../gateway.ts';
import type { Logger } from '../observability/logger.ts';
import { callBackend } from '../routing/dispatch.ts';
import type { RecordedRequest } from '../recording/exchange-format.ts';

export type BackendName = 'legacy' | 'modern';
export const BACKEND_OVERRIDE_HEADER = 'x-ficus-replay-backend';
/** Sent with every replayed request to a URL, so that a service replayed to directly can tell replay traffic apart. */
export const SHADOW_HEADER = 'ficus-shadow';

export interface ReplayAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface ReplayTarget {
  /** Shown in reports: `modern`, `legacy`, or the URL. */
  name: string;
  /** The backend every request goes to, when the target picks one (an in-process gateway). */
  backend?: BackendName;
  send(req: RecordedRequest, backend?: BackendName): Promise<ReplayAnswer>;
  /** Why this target cannot answer an operation on that backend, if it cannot. */
  cannotServe?(operationId: string, backend: BackendName): string | undefined;
  close(): Promise<void>;
}

function queryString(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const x of v) params.append(k, typeof x === 'object' ? JSON.stringify(x) : String(x));
    else params.append(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export class UrlTarget implements ReplayTarget {
  private readonly agent: Agent;
  private readonly base: string;

  constructor(
    baseUrl: string,
    connections: number,
    readonly name = baseUrl,
    private readonly timeoutMs = 30_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.agent = new Agent({ connections, keepAliveTimeout: 10_000, pipelining: 1 });
  }

  async send(req: RecordedRequest, backend?: BackendName): Promise<ReplayAnswer> {
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body: string | undefined;
    if (req.body !== null && req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD') {
      body = JSON.stringify(req.body);
      headers['content-type'] = headers['content-type'] ?? 'application/json';
    }
    if (backend) headers[BACKEND_OVERRIDE_HEADER] = backend;
    headers[SHADOW_HEADER] = 'true';
    const res = await request(this.base + req.path + queryString(req.query), {
      method: req.method as 'GET',
      headers,
      body,
      dispatcher: this.agent,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    const text = await res.body.text();
    const outHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) outHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
    const type = outHeaders['content-type'] ?? '';
    let parsed: unknown = text === '' ? null : text;
    if (text !== '' && /json/i.test(type)) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.statusCode, headers: outHeaders, body: parsed };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Replay's own feature: a call carrying the override header goes to that backend, whatever the route's mode. */
const backendOverride: Feature<undefined> = {
  name: 'replay-backend-override',
  checkConfig: () => [],
  install: async () => ({
    api: undefined,
    hooks: [
      {
        around: (route, req, next) => {
          const b = req.headers[BACKEND_OVERRIDE_HEADER];
          // A replayed call is marked as one for the backend (the http kind sends Ficus-Shadow: true).
          return b === 'legacy' || b === 'modern' ? callBackend(route, b, { ...req, shadow: true }) : next();
        },
      },
    ],
  }),
};

/** A gateway of the project started here, on a free loopback port, for replaying to either backend. */
export class InProcessGatewayTarget implements ReplayTarget {
  private constructor(
    private readonly gateway: Gateway,
    private readonly url: UrlTarget,
    readonly backend: BackendName | undefined,
    readonly name: string,
  ) {}

  static async start(opts: { root: string; file?: string; env: Env; logger?: Logger; connections: number; backend?: BackendName }): Promise<InProcessGatewayTarget> {
    // A gateway for a tool: change feeds and event delivery off (only the serving gateway feeds).
    const gateway = await Gateway.create({ root: opts.root, file: opts.file, env: { ...opts.env, FICUS_CHANGES: 'off' }, logger: opts.logger, processMetrics: false, features: [backendOverride] });
    gateway.recorder.stopAll();
    try {
      const base = await gateway.listen(0, '127.0.0.1');
      return new InProcessGatewayTarget(gateway, new UrlTarget(base, opts.connections, base), opts.backend, opts.backend ?? 'gateway');
    } catch (err) {
      await gateway.close(0);
      throw err;
    }
  }

  /** The same gateway, every call sent to `backend` (closing the view leaves the gateway running). */
  forBackend(backend: BackendName | undefined): ReplayTarget {
    return {
      name: backend ?? 'gateway',
      backend,
      send: (req, b) => this.url.send(req, b ?? backend),
      cannotServe: (op, b) => this.cannotServe(op, b),
      close: async () => undefined,
    };
  }

  cannotServe(operationId: string, backend: BackendName): string | undefined {
    const route = this.gateway.routes.get(operationId);
    if (!route) return `the gateway does not serve ${operationId}`;
    return route.binding(backend) ? undefined : `no ${backend} adapter serves ${operationId} in this config`;
  }

  send(req: RecordedRequest, backend?: BackendName): Promise<ReplayAnswer> {
    return this.url.send(req, backend ?? this.backend);
  }

  async close(): Promise<void> {
    await this.url.close();
    await this.gateway.close(1_000);
  }
}
