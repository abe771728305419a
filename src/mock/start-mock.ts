/**
 * `ficus mock` as a function: the project's gateway with every legacy adapter (with `all`, every
 * adapter) served by the `recorded` kind from a folder of recordings, its state in memory, recording
 * off. The contract, its request and response checks, the routes and the features stay as they are,
 * so an application team develops and runs CI against the same API with no legacy system at all.
 */
import { isAbsolute, resolve } from 'node:path';
import type { Env } from '../config/env.ts';
import { Gateway } from '../gateway.ts';
import type { Logger } from '../observability/logger.ts';
import { loadReplayProject } from '../replay/replay-project.ts';

export interface MockOptions {
  root?: string;
  config?: string;
  env?: Env;
  /** The recordings; default the recording folder of ficus.yaml. */
  from?: string;
  /** Serve modern adapters from the recordings too. */
  all?: boolean;
  fallback?: 'recent' | 'not-found';
  latency?: 'recorded' | 'none' | 'fixed';
  fixedLatencyMs?: number;
  faultRate?: number;
  port?: number;
  host?: string;
  logger?: Logger;
}

export interface RunningMock {
  gateway: Gateway;
  url: string;
  /** The adapters served from recordings. */
  served: string[];
  close(graceMs?: number): Promise<void>;
}

export async function startMock(opts: MockOptions): Promise<RunningMock> {
  const root = resolve(opts.root ?? '.');
  const env = opts.env ?? process.env;
  const project = loadReplayProject({ root, file: opts.config, env });
  const from = opts.from ?? project.recording.dir;
  const dir = isAbsolute(from) ? from : resolve(opts.from ? process.cwd() : root, from);
  const served: string[] = [];
  const connection = {
    dir,
    fallback: opts.fallback ?? 'not-found',
    latency: opts.latency ?? 'none',
    fixedLatency: `${opts.fixedLatencyMs ?? 0}ms`,
    faultRate: opts.faultRate ?? 0,
    redact: project.recording.redact,
    headers: project.recording.headers,
  };
  const gateway = await Gateway.create({
    root,
    file: opts.config,
    env,
    logger: opts.logger,
    processMetrics: false,
    rewriteGateway: (raw) => ({ ...raw, state: { driver: 'sqlite', file: ':memory:' } }),
    substituteAdapter: (a) => {
      if (a.role !== 'legacy' && !opts.all) return undefined;
      served.push(a.name);
      return { kind: 'recorded', connection };
    },
  });
  gateway.recorder.stopAll();
  let url: string;
  try {
    url = await gateway.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  } catch (err) {
    await gateway.close(0);
    throw err;
  }
  return { gateway, url, served, close: (graceMs = 1_000) => gateway.close(graceMs) };
}
