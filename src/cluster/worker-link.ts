/**
 * A cluster worker's side of the link with its primary (`ficus start --workers N`): which worker it
 * is (its slot, from the environment the primary gave it), saying it is ready, being told to drain,
 * answering the primary's collections (its metrics, its part of the dashboard), asking the primary
 * for every worker's metrics aggregated (for /metrics) and every worker's dashboard part (for the
 * admin API's /dashboard), hearing that another worker's process ended, and taking the public port's
 * connections the primary accepts (it listens for every worker: connection-balancer.ts), telling it
 * when they close.
 */
import cluster from 'node:cluster';
import { Socket, type AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { SINGLETONS_HELD_METRIC } from './singletons.ts';
import { isFicusMessage, type MetricsJson, type ToPrimary, type ToWorker } from './messages.ts';

/** Metrics that describe one worker rather than the machine: they get a `worker` label instead of being summed. */
export const PER_WORKER_METRICS: ReadonlySet<string> = new Set(['ficus_circuit_state', SINGLETONS_HELD_METRIC]);

export interface WorkerSlot {
  /** 1 … count; a restarted worker takes the slot of the one it replaces. */
  index: number;
  count: number;
  /** The first worker of a start: it prints the banner and takes back what a previous run left in flight. */
  first: boolean;
}

/** This process's slot when it is a worker of `ficus start --workers N`; undefined otherwise. */
export function workerSlot(env: Record<string, string | undefined> = process.env): WorkerSlot | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(env.FICUS_CLUSTER_WORKER);
  const count = Number(env.FICUS_CLUSTER_WORKERS);
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 1 || count < 1) return undefined;
  return { index, count, first: env.FICUS_CLUSTER_FIRST === '1' };
}

/** Adds the worker label to the per-worker metrics of a registry's JSON. */
export function labelPerWorker(metrics: MetricsJson, worker: number): MetricsJson {
  return metrics.map((m) => {
    const metric = m as { name: string; values?: { labels: Record<string, string | number> }[] };
    if (!PER_WORKER_METRICS.has(metric.name) || !metric.values) return m;
    return { ...metric, values: metric.values.map((v) => ({ ...v, labels: { ...v.labels, worker: String(worker) } })) };
  });
}

export class WorkerLink {
  private registry: Registry | undefined;
  private nextId = 0;
  /** Requests to the primary waiting for their answer, by id. */
  private readonly asked = new Map<number, { answer: (m: ToWorker) => void; timer: NodeJS.Timeout }>();
  private dashboardPart: (() => unknown) | undefined;
  private readonly shutdownListeners: (() => void)[] = [];
  private readonly exitListeners: ((pid: number) => void)[] = [];
  private take: ((socket: Socket) => void) | undefined;
  /** Handed connections closed since the last word to the primary (said once a turn of the event loop). */
  private closedSince = 0;

  private readonly listener = (m: unknown, handle: unknown) => {
    if (isFicusMessage<ToWorker>(m)) this.onMessage(m, handle);
  };

  private readonly connectionClosed = () => {
    if (this.closedSince++ > 0) return;
    setImmediate(() => {
      const count = this.closedSince;
      this.closedSince = 0;
      this.send({ ficus: 'closed', count });
    });
  };

  constructor(readonly slot: WorkerSlot) {
    process.on('message', this.listener);
  }

  /** Lets go of the primary (a worker that failed to start): the IPC channel closes, so the process ends once the error is reported. */
  close(): void {
    process.off('message', this.listener);
    for (const a of this.asked.values()) clearTimeout(a.timer);
    cluster.worker?.disconnect();
  }

  /** The registry whose metrics this worker contributes (the gateway's, once created). */
  serve(registry: Registry): void {
    this.registry = registry;
  }

  ready(): void {
    this.send({ ficus: 'ready' });
  }

  onShutdown(listener: () => void): void {
    this.shutdownListeners.push(listener);
  }

  onWorkerExited(listener: (pid: number) => void): void {
    this.exitListeners.push(listener);
  }

  /** What this worker gives for a cluster's dashboard (the control plane's part), once the gateway exists. */
  serveDashboard(part: () => unknown): void {
    this.dashboardPart = part;
  }

  /** Every worker's dashboard part (this one's included), through the primary. */
  dashboardParts(timeoutMs = 10_000): Promise<unknown[]> {
    return this.ask(
      'dashboard',
      (id) => ({ ficus: 'gather', id, what: 'dashboard' }),
      timeoutMs,
      (m) => (m.ficus === 'gathered' ? m.parts.filter((p) => p !== null) : []),
    );
  }

  /** Every worker's metrics, aggregated by the primary (counters and histograms summed, per-worker series labelled). */
  metrics(timeoutMs = 10_000): Promise<{ contentType: string; text: string }> {
    return this.ask(
      'metrics',
      (id) => ({ ficus: 'metrics', id }),
      timeoutMs,
      (m) => {
        if (m.ficus !== 'metrics' || m.text === undefined) throw new Error((m.ficus === 'metrics' ? m.error : undefined) ?? 'the primary could not aggregate the metrics');
        return { contentType: m.contentType ?? 'text/plain; version=0.0.4; charset=utf-8', text: m.text };
      },
    );
  }

  /**
   * The public port (a ConnectionSource for the gateway's server): the primary listens on `port` and
   * `host` for every worker (all ask for the same) and hands this one connections, each given to
   * `take`. Resolves with where the primary listens; rejects with its listen error (`code`: EADDRINUSE …).
   */
  listen(port: number, host: string, take: (socket: Socket) => void, timeoutMs = 60_000): Promise<AddressInfo> {
    this.take = take;
    return this.ask(
      'listen',
      (id) => ({ ficus: 'listen', id, port, host }),
      timeoutMs,
      (m) => {
        if (m.ficus === 'listening' && m.address) return m.address;
        const error = m.ficus === 'listening' ? m.error : undefined;
        throw Object.assign(new Error(error?.message ?? 'the primary could not listen'), { code: error?.code });
      },
    );
  }

  /** Sends the primary a request and reads its answer (the message with the same id); rejects past `timeoutMs`. */
  private ask<T>(what: string, request: (id: number) => ToPrimary, timeoutMs: number, read: (answer: ToWorker) => T): Promise<T> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.asked.delete(id);
        reject(new Error(`the cluster's primary did not answer the ${what} request within ${timeoutMs} ms`));
      }, timeoutMs);
      this.asked.set(id, {
        timer,
        answer: (m) => {
          try {
            resolve(read(m));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
      });
      this.send(request(id));
    });
  }

  private onMessage(m: ToWorker, handle: unknown): void {
    switch (m.ficus) {
      case 'connection': {
        if (!(handle instanceof Socket)) return;
        handle.once('close', this.connectionClosed);
        if (this.take) this.take(handle);
        else handle.destroy();
        return;
      }
      case 'shutdown':
        for (const l of this.shutdownListeners) l();
        return;
      case 'worker-exited':
        for (const l of this.exitListeners) l(m.pid);
        return;
      case 'collect': {
        if (m.what === 'dashboard') {
          this.send({ ficus: 'collected', id: m.id, data: this.dashboardPart?.() ?? null });
          return;
        }
        const reg = this.registry;
        void (reg ? reg.getMetricsAsJSON() : Promise.resolve([])).then(
          (metrics) => this.send({ ficus: 'collected', id: m.id, data: labelPerWorker(metrics, this.slot.index) }),
          () => this.send({ ficus: 'collected', id: m.id, data: [] }),
        );
        return;
      }
      case 'gathered':
      case 'listening':
      case 'metrics': {
        const waiting = this.asked.get(m.id);
        if (!waiting) return;
        this.asked.delete(m.id);
        clearTimeout(waiting.timer);
        waiting.answer(m);
        return;
      }
    }
  }

  private send(m: ToPrimary): void {
    // A failed write (the primary ending: EPIPE) is not thrown or emitted: the channel's end is handled on 'disconnect'.
    if (process.connected) process.send?.(m, undefined, {}, () => undefined);
  }
}
