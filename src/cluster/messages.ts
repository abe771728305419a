/** The messages between a cluster's primary and its workers (node:cluster IPC), each tagged `ficus`. */

/** A worker's registry as prom-client's `getMetricsAsJSON()` gives it (plain data over IPC). */
export type MetricsJson = object[];

export type ToPrimary =
  /** The worker listens and serves (its banner, if any, is printed). */
  | { ficus: 'ready' }
  /** A worker was asked for /metrics: the primary answers with every worker's, aggregated. */
  | { ficus: 'metrics'; id: number }
  /** A worker's own metrics, for the primary's aggregation. */
  | { ficus: 'collected'; id: number; metrics: MetricsJson };

export type ToWorker =
  /** Drain and exit (the primary was told to stop). */
  | { ficus: 'shutdown' }
  /** The aggregated exposition asked for with `metrics`, or why there is none. */
  | { ficus: 'metrics'; id: number; contentType?: string; text?: string; error?: string }
  /** Send your own metrics (`collected`). */
  | { ficus: 'collect'; id: number }
  /** A worker's process ended: if it held the singletons, take them now. */
  | { ficus: 'worker-exited'; pid: number };

export function isFicusMessage<T extends { ficus: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { ficus?: unknown }).ficus === 'string';
}
