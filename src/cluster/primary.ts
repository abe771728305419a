/**
 * The primary of `ficus start --workers N` (node:cluster): it serves nothing itself. It forks the
 * workers, which share the public and admin ports: the public port is listened on here, when the
 * first worker asks, and each connection handed to the worker with the fewest open
 * (connection-balancer.ts); the admin port goes through node:cluster (its round-robin). The first
 * worker starts alone, until it listens (it prints the banner and
 * takes back what a previous run left in flight), then the others. A worker that ends unexpectedly is
 * replaced, after a pause that doubles with each quick death of its slot (0.5 s up to 10 s); a slot
 * that dies quickly `maxQuickDeaths` times in a row stops the whole gateway (exit 1) rather than
 * looping. It answers the workers' /metrics with every worker's metrics aggregated (prom-client's
 * AggregatorRegistry), and a worker's dashboard with every worker's part of it (the worker adds them up). On SIGTERM or SIGINT it tells every worker to drain (their graceful
 * shutdown), and exits once all have ended, or kills those still running past the grace period
 * plus `killAfterMs`.
 */
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../observability/logger.ts';
import { ConnectionBalancer } from './connection-balancer.ts';
import { isFicusMessage, type Collected, type MetricsJson, type ToPrimary, type ToWorker } from './messages.ts';
import { tellWorker } from './worker-channel.ts';

export interface PrimaryOptions {
  workers: number;
  /** How long each worker's shutdown waits for requests in flight (`--grace`). */
  graceMs: number;
  /** The environment of every worker (the sample's settings included). */
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Past the grace period, how long to wait for workers before killing them. */
  killAfterMs?: number;
  maxQuickDeaths?: number;
  /** A worker that lived less than this died quickly. */
  quickMs?: number;
  /** How long a collection of the workers' metrics waits for them. */
  collectTimeoutMs?: number;
  /** Written once every worker serves (the tests and operators wait for it). */
  out?: (line: string) => void;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  ready: boolean;
  startedAt: number;
  quickDeaths: number;
  restart: NodeJS.Timeout | undefined;
}

export class ClusterPrimary {
  private readonly slots = new Map<number, Slot>();
  private stopping: Promise<number> | undefined;
  private finished!: (code: number) => void;
  private readonly done = new Promise<number>((resolve) => (this.finished = resolve));
  private collectId = 0;
  private readonly collecting = new Map<number, { parts: unknown[]; pending: Set<number>; finish: () => void }>();
  private allReadyAnnounced = false;
  /** The public port, once the first worker asked for it: the address asked for, and the balancer listening there. */
  private front: { asked: string; balancer: ConnectionBalancer; listening: Promise<AddressInfo> } | undefined;

  constructor(private readonly opts: PrimaryOptions) {}

  /** Runs the cluster; resolves with the exit code once every worker has ended. */
  async run(): Promise<number> {
    cluster.on('message', (worker, m: unknown) => {
      if (isFicusMessage<ToPrimary>(m)) this.onMessage(worker, m);
    });
    process.on('SIGTERM', () => void this.stop('SIGTERM'));
    process.on('SIGINT', () => void this.stop('SIGINT'));
    // The first worker alone: it takes back what a previous run left in flight before any other serves.
    const first = this.fork(1, true);
    const started = await this.readyOrExit(first);
    if (started !== 'ready') {
      this.opts.logger.error({ code: started }, 'the first worker could not start; stopping');
      this.stopping ??= Promise.resolve(started);
      return started;
    }
    for (let i = 2; i <= this.opts.workers; i++) this.fork(i, false);
    return this.done;
  }

  /** Tells every worker to drain; resolves with the exit code once all have ended (or were killed past the bound). */
  stop(reason: string, code = 0): Promise<number> {
    this.stopping ??= this.shutDown(reason, code);
    return this.stopping;
  }

  private async shutDown(reason: string, code: number): Promise<number> {
    this.opts.logger.info({ reason, workers: this.running().length }, 'stopping: the public port takes no new connection; every worker drains');
    this.front?.balancer.close();
    for (const s of this.slots.values()) clearTimeout(s.restart);
    const workers = this.running();
    const ready = new Set([...this.slots.values()].filter((s) => s.ready && s.worker).map((s) => s.worker!));
    // A worker still starting serves nothing yet and may not hear messages: it is stopped with SIGTERM,
    // and how it ends does not count. A serving worker drains and must end with 0.
    const exits = workers.map((w) => new Promise<number>((resolve) => (w.isDead() ? resolve(0) : w.once('exit', (c: number | null) => resolve(ready.has(w) ? (c ?? 1) : 0)))));
    for (const w of workers) {
      if (ready.has(w)) this.tell(w, { ficus: 'shutdown' });
      else w.process.kill('SIGTERM');
    }
    let timer: NodeJS.Timeout | undefined;
    const bound = this.opts.graceMs + (this.opts.killAfterMs ?? 15_000);
    const all = await Promise.race([Promise.all(exits), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), bound)))]);
    clearTimeout(timer);
    let exitCode = code;
    if (!all) {
      const left = this.running();
      this.opts.logger.error({ pids: left.map((w) => w.process.pid) }, `workers still running ${bound} ms after the shutdown began; killing them`);
      for (const w of left) w.process.kill('SIGKILL');
      exitCode = 1;
    } else if (all.some((c) => c !== 0)) exitCode = code === 0 ? 1 : code;
    this.finished(exitCode);
    return exitCode;
  }

  private running(): Worker[] {
    return [...this.slots.values()].map((s) => s.worker).filter((w): w is Worker => w !== undefined && !w.isDead());
  }

  private fork(index: number, first: boolean): Worker {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.opts.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, { FICUS_CLUSTER_WORKERS: String(this.opts.workers), FICUS_CLUSTER_WORKER: String(index), FICUS_CLUSTER_FIRST: first ? '1' : '0' });
    const worker = cluster.fork(env);
    const slot = this.slots.get(index) ?? { index, worker: undefined, ready: false, startedAt: 0, quickDeaths: 0, restart: undefined };
    Object.assign(slot, { worker, ready: false, startedAt: Date.now(), restart: undefined });
    this.slots.set(index, slot);
    worker.once('exit', (code: number | null, signal: string | null) => this.exited(slot, worker, code, signal));
    // A channel error (a write to a worker that is ending) must not end the primary: its exit is handled above.
    worker.on('error', (err: Error) => this.opts.logger.debug({ worker: index, pid: worker.process.pid, err: err.message }, "a worker's channel failed"));
    return worker;
  }

  private readyOrExit(worker: Worker): Promise<'ready' | number> {
    return new Promise((resolve) => {
      const onMessage = (m: unknown) => {
        if (isFicusMessage<ToPrimary>(m) && m.ficus === 'ready') finish('ready');
      };
      const onExit = (code: number | null) => finish(code === null || code === 0 ? 1 : code);
      const finish = (r: 'ready' | number) => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(r);
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
    });
  }

  private everReady = false;

  private exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.ready = false;
    this.front?.balancer.remove(worker.id);
    const pid = worker.process.pid;
    // The others may take the singletons at once if it held them (no need to wait for its lease to expire).
    if (pid !== undefined) for (const w of this.running()) this.tell(w, { ficus: 'worker-exited', pid });
    for (const c of this.collecting.values()) if (c.pending.delete(worker.id) && c.pending.size === 0) c.finish();
    if (this.stopping) return;
    if (!this.everReady) return; // the first worker could not start: run() reports it
    const lived = Date.now() - slot.startedAt;
    slot.quickDeaths = lived < (this.opts.quickMs ?? 30_000) ? slot.quickDeaths + 1 : 0;
    const max = this.opts.maxQuickDeaths ?? 5;
    if (slot.quickDeaths > max) {
      this.opts.logger.error(
        { worker: slot.index, pid, code, signal },
        `worker ${slot.index} died ${slot.quickDeaths} times in a row within ${this.opts.quickMs ?? 30_000} ms of starting; stopping the gateway`,
      );
      void this.stop(`worker ${slot.index} keeps dying`, 1);
      return;
    }
    const delay = slot.quickDeaths === 0 ? 0 : Math.min(10_000, 500 * 2 ** (slot.quickDeaths - 1));
    this.opts.logger.warn({ worker: slot.index, pid, code, signal, restartInMs: delay }, `worker ${slot.index} ended unexpectedly; starting another`);
    slot.restart = setTimeout(() => {
      slot.restart = undefined;
      if (!this.stopping) this.fork(slot.index, false);
    }, delay);
  }

  private onMessage(worker: Worker, m: ToPrimary): void {
    switch (m.ficus) {
      case 'ready': {
        this.everReady = true;
        const slot = [...this.slots.values()].find((s) => s.worker === worker);
        if (slot) slot.ready = true;
        if (!this.allReadyAnnounced && [...this.slots.values()].filter((s) => s.ready).length === this.opts.workers) {
          this.allReadyAnnounced = true;
          const pids = [...this.slots.values()].map((s) => s.worker?.process.pid).join(', ');
          (this.opts.out ?? ((l: string) => process.stdout.write(l + '\n')))(`Ficus: ${this.opts.workers} workers serving (pids ${pids}; primary ${process.pid})`);
        }
        return;
      }
      case 'metrics':
        void this.aggregate().then(
          (text) => this.tell(worker, { ficus: 'metrics', id: m.id, contentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE, text }),
          (err: unknown) => this.tell(worker, { ficus: 'metrics', id: m.id, error: err instanceof Error ? err.message : String(err) }),
        );
        return;
      case 'gather':
        void this.collect(m.what).then((parts) => this.tell(worker, { ficus: 'gathered', id: m.id, parts }));
        return;
      case 'listen':
        void this.listenFor(worker, m);
        return;
      case 'closed':
        this.front?.balancer.closedBy(worker.id, m.count);
        return;
      case 'collected': {
        const c = this.collecting.get(m.id);
        if (!c || !c.pending.delete(worker.id)) return;
        c.parts.push(m.data);
        if (c.pending.size === 0) c.finish();
        return;
      }
    }
  }

  /**
   * A worker asks for the public port: the first such request makes the primary listen (every worker
   * asks for the same address); the worker is told where, or the listen error, and from then on is
   * handed connections.
   */
  private async listenFor(worker: Worker, m: { id: number; port: number; host: string }): Promise<void> {
    const asked = `${m.host}:${m.port}`;
    try {
      if (this.stopping) throw new Error('the gateway is stopping');
      if (!this.front) {
        const balancer = new ConnectionBalancer((err) => this.opts.logger.error({ err }, 'the public port could not accept a connection'));
        this.front = { asked, balancer, listening: balancer.listen(m.port, m.host) };
        // A failed listen is forgotten, so that a later worker tries again.
        const front = this.front;
        front.listening.catch(() => {
          if (this.front === front) this.front = undefined;
        });
      }
      if (this.front.asked !== asked) throw new Error(`the other workers serve ${this.front.asked}, not ${asked}`);
      const { balancer, listening } = this.front;
      const address = await listening;
      if (worker.isDead()) return;
      this.tell(worker, { ficus: 'listening', id: m.id, address: { address: address.address, family: address.family, port: address.port } });
      balancer.add({ id: worker.id, hand: (socket, sent) => worker.send({ ficus: 'connection' } satisfies ToWorker, socket, {}, sent) });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.tell(worker, { ficus: 'listening', id: m.id, error: { code: e.code, message: e.message } });
    }
  }

  /** Every ready worker's metrics, aggregated. */
  private async aggregate(): Promise<string> {
    return AggregatorRegistry.aggregate((await this.collect('metrics')) as MetricsJson[]).metrics();
  }

  /** Every ready worker's part of `what`; a worker that does not answer in time is left out (and logged). */
  private async collect(what: Collected): Promise<unknown[]> {
    const id = ++this.collectId;
    const workers = [...this.slots.values()].filter((s) => s.ready && s.worker?.isConnected()).map((s) => s.worker!);
    const parts: unknown[] = [];
    const pending = new Set(workers.map((w) => w.id));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), this.opts.collectTimeoutMs ?? 5_000);
      const finish = () => {
        clearTimeout(timer);
        this.collecting.delete(id);
        resolve();
      };
      this.collecting.set(id, { parts, pending, finish });
      if (pending.size === 0) finish();
      for (const w of workers) this.tell(w, { ficus: 'collect', id, what });
    });
    if (pending.size > 0) this.opts.logger.warn({ workers: [...pending], what }, `${what}: some workers did not answer in time; their figures are left out`);
    return parts;
  }

  private tell(worker: Worker, m: ToWorker): void {
    tellWorker(worker, m, (error) =>
      this.opts.logger.debug({ pid: worker.process.pid, message: m.ficus, err: error.message }, 'a message to a worker was not delivered (its channel closed: the worker is ending)'),
    );
  }
}
