/**
 * `ficus start --workers N` in its own process for the cluster tests: started and waited for by its
 * output (the banner's URL, then the primary's "N workers serving" line), its workers told apart by
 * /healthz on fresh connections, and the singletons lease read from the state store file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PROJECT_ROOT } from './gateway.ts';

export interface RunningCluster {
  proc: ChildProcess;
  url: string;
  /** The workers' pids, as the primary announced them. */
  pids: number[];
  /** Everything written so far (stdout and stderr). */
  output(): string;
  /** Resolves when the primary has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the cluster; resolves once every worker serves (bounded by `limitMs`). */
export function startCluster(args: string[], env: Record<string, string>, workers: number, limitMs = 90_000): Promise<RunningCluster> {
  const proc = spawn(process.execPath, [join(PROJECT_ROOT, 'bin/ficus.js'), 'start', '--port', '0', '--host', '127.0.0.1', '--workers', String(workers), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster did not serve within ${limitMs} ms:\n${out}`)), limitMs);
    const look = () => {
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      const serving = /(\d+) workers serving \(pids ([\d, ]+);/.exec(out);
      if (url && serving) {
        clearTimeout(timer);
        proc.stdout?.off('data', look);
        resolve({ proc, url, pids: serving[2].split(',').map((p) => Number(p.trim())), output: () => out, exited });
      }
    };
    proc.stdout?.on('data', look);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the cluster exited (${code ?? signal}) before it served:\n${out}`));
    });
  });
}

/** A GET on a connection of its own (no keep-alive), so that the primary hands each to the next worker. */
export function freshGet(url: string, timeoutMs = 10_000, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { ...headers, connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Which worker answered /healthz on a fresh connection. */
export async function whoServes(url: string): Promise<{ worker: number; pid: number }> {
  const r = await freshGet(`${url}/healthz`);
  if (r.status !== 200) throw new Error(`/healthz answered ${r.status}: ${r.body}`);
  const body = JSON.parse(r.body) as { worker?: number; pid?: number };
  if (body.worker === undefined || body.pid === undefined) throw new Error(`/healthz does not say which worker answered: ${r.body}`);
  return { worker: body.worker, pid: body.pid };
}

/**
 * One kept-alive connection to the cluster (an agent of its own, holding one socket): which worker
 * answers on it. A request that would need a new connection (the old one closed) fails instead.
 */
export class KeptAliveConnection {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private socket: Socket | undefined;
  /** Resolves once the connection has closed (after its first request). */
  readonly closed: Promise<void>;
  private onClosed!: () => void;

  constructor(private readonly url: string) {
    this.closed = new Promise((resolve) => (this.onClosed = resolve));
  }

  /** Which worker answers /healthz on this connection. */
  whoServes(timeoutMs = 30_000): Promise<{ worker: number; pid: number }> {
    return this.get('/healthz', timeoutMs).then(({ status, body }) => {
      if (status !== 200) throw new Error(`/healthz answered ${status}: ${body}`);
      const b = JSON.parse(body) as { worker?: number; pid?: number };
      if (b.worker === undefined || b.pid === undefined) throw new Error(`/healthz does not say which worker answered: ${body}`);
      return { worker: b.worker, pid: b.pid };
    });
  }

  /** A GET on this connection. */
  get(path: string, timeoutMs = 30_000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.url}${path}`, { agent: this.agent, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.once('socket', (socket: Socket) => {
        if (this.socket === undefined) {
          this.socket = socket;
          socket.once('close', () => this.onClosed());
        } else if (socket !== this.socket) req.destroy(new Error('the kept-alive connection was closed: a new one would have been opened'));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** `n` kept-alive connections opened at once (each by its first /healthz, all sent together): which worker serves each. */
export async function openKeptAlive(url: string, n: number): Promise<{ connections: KeptAliveConnection[]; pids: number[] }> {
  const connections = Array.from({ length: n }, () => new KeptAliveConnection(url));
  const served = await Promise.all(connections.map((c) => c.whoServes()));
  return { connections, pids: served.map((s) => s.pid) };
}

/** How many of `pids` are each pid. */
export function countOf(pids: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const p of pids) m.set(p, (m.get(p) ?? 0) + 1);
  return m;
}

export interface LeaseRow {
  owner: string;
  pid: number;
  expiresAt: number;
  acquiredAt: number;
}

/** The singletons lease as the state store (SQLite file) holds it, or undefined before it is first taken. */
export function leaseOf(stateFile: string): LeaseRow | undefined {
  const db = new Database(stateFile, { readonly: true, fileMustExist: true });
  try {
    const r = db.prepare("SELECT owner, expires_at, acquired_at FROM ficus_singleton_lease WHERE name = 'singletons'").get() as { owner: string; expires_at: number; acquired_at: number } | undefined;
    if (!r) return undefined;
    const [host, pid] = r.owner.split(':');
    if (host !== hostname()) throw new Error(`the lease is held on another host: ${r.owner}`);
    return { owner: r.owner, pid: Number(pid), expiresAt: Number(r.expires_at), acquiredAt: Number(r.acquired_at) };
  } catch (err) {
    if (err instanceof Error && /no such table/.test(err.message)) return undefined;
    throw err;
  } finally {
    db.close();
  }
}

/** Whether a process is still running (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The value of every series of `name` in a Prometheus exposition whose labels match `labels`, summed. */
export function sumOf(exposition: string, name: string, labels: RegExp = /.*/): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    if (!(line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
    if (!labels.test(line)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
