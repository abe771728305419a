/** The messages between a cluster's primary and its workers (node:cluster IPC), each tagged `ficus`. */

/** A worker's registry as prom-client's `getMetricsAsJSON()` gives it (plain data over IPC). */
export type MetricsJson = object[];

/** What the primary collects from every worker. */
export type Collected = 'metrics' | 'dashboard';

export type ToPrimary =
  /** The worker listens and serves (its banner, if any, is printed). */
  | { ficus: 'ready' }
  /** A worker was asked for /metrics: the primary answers with every worker's, aggregated. */
  | { ficus: 'metrics'; id: number }
  /** A worker's dashboard was asked for: the primary answers with every worker's part (`gathered`). */
  | { ficus: 'gather'; id: number; what: 'dashboard' }
  /** A worker's own part of a collection: its metrics (MetricsJson) or its dashboard part. */
  | { ficus: 'collected'; id: number; data: unknown }
  /** Listen on the public port for the workers and hand this one connections (answered with `listening`). */
  | { ficus: 'listen'; id: number; port: number; host: string }
  /** `count` connections the primary handed this worker have closed. */
  | { ficus: 'closed'; count: number };

export type ToWorker =
  /** Drain and exit (the primary was told to stop). */
  | { ficus: 'shutdown' }
  /** The aggregated exposition asked for with `metrics`, or why there is none. */
  | { ficus: 'metrics'; id: number; contentType?: string; text?: string; error?: string }
  /** Send your own metrics, or your part of the dashboard (`collected`). */
  | { ficus: 'collect'; id: number; what: Collected }
  /** Every worker's part asked for with `gather` (the asker's own included). */
  | { ficus: 'gathered'; id: number; parts: unknown[] }
  /** A worker's process ended: if it held the singletons, take them now. */
  | { ficus: 'worker-exited'; pid: number }
  /** The answer to `listen`: where the primary listens, or why it cannot (the listen error's code and message). */
  | { ficus: 'listening'; id: number; address?: { address: string; family: string; port: number }; error?: { code?: string; message: string } }
  /** A connection the primary accepted on the public port (the socket comes with the message): serve it. */
  | { ficus: 'connection' };

export function isFicusMessage<T extends { ficus: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { ficus?: unknown }).ficus === 'string';
}
