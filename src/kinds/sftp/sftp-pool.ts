/**
 * SFTP connections to one server (ssh2): reused, limited in number, kept alive (SSH keep-alives),
 * closed when idle, and re-opened after a drop. Every connection checks the server's host key
 * against the known-hosts file first. `use(fn)` lends a session; when the connection breaks under
 * it, the session is thrown away and (for operations marked idempotent) the call is tried once more
 * on a fresh connection.
 */
import ssh2 from 'ssh2';
import type { SFTPWrapper, ConnectConfig, FileEntryWithStats } from 'ssh2';
import type { Readable } from 'node:stream';
import type { HostKeyError, KnownHosts } from './known-hosts.ts';

const { Client } = ssh2;

export interface PoolOptions {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
  passphrase?: string;
  knownHosts: KnownHosts;
  maxConnections: number;
  keepAliveIntervalMs: number;
  keepAliveCountMax: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface RemoteFile {
  name: string;
  size: number;
  /** Modification time, ms since the epoch (second precision). */
  mtimeMs: number;
}

/** A connection-level failure: the session is gone and the call may be tried again on a new one. */
export class ConnectionLost extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionLost';
  }
}

const NO_SUCH_FILE = 2;

export function isNoSuchFile(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === NO_SUCH_FILE || (err as { code?: unknown } | undefined)?.code === 'ENOENT';
}

/** One SSH connection with its SFTP channel, as promises. */
export class SftpSession {
  dead = false;
  idleTimer: NodeJS.Timeout | undefined;
  constructor(
    readonly client: InstanceType<typeof Client>,
    readonly sftp: SFTPWrapper,
    readonly id: number,
  ) {}

  private call<T>(what: string, fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
    if (this.dead) return Promise.reject(new ConnectionLost(`${what}: the connection was closed`));
    return new Promise<T>((resolve, reject) => {
      const onClose = () => reject(new ConnectionLost(`${what}: the connection dropped`));
      this.client.once('close', onClose);
      fn((err, v) => {
        this.client.removeListener('close', onClose);
        if (err) {
          const code = (err as { code?: unknown }).code;
          if (this.dead || (typeof code !== 'number' && /No response|closed|Not connected|ECONNRESET|EPIPE/i.test(err.message))) reject(new ConnectionLost(`${what}: ${err.message}`, { cause: err }));
          else reject(Object.assign(new Error(`${what}: ${err.message}`), { code }));
        } else resolve(v as T);
      });
    });
  }

  list(dir: string): Promise<RemoteFile[]> {
    return this.call<FileEntryWithStats[]>(`list ${dir}`, (cb) => this.sftp.readdir(dir, cb as (e: Error | undefined, l: FileEntryWithStats[]) => void)).then((list) =>
      list.filter((f) => f.attrs.isFile()).map((f) => ({ name: f.filename, size: f.attrs.size, mtimeMs: f.attrs.mtime * 1000 })),
    );
  }

  read(path: string): Promise<Buffer> {
    return this.call<Buffer>(`read ${path}`, (cb) => this.sftp.readFile(path, cb as (e: Error | undefined, b: Buffer) => void));
  }

  readStream(path: string, highWaterMark = 256 * 1024): Readable {
    const stream = this.sftp.createReadStream(path, { highWaterMark });
    // ssh2 fails the stream's pending requests when the connection closes ("No response from
    // server"), also after its reader stopped or before it started: an 'error' nobody listens to
    // would end the process. The reader (for await, pipeline) still gets the error through its own
    // listener; this one only keeps a late error from being uncaught.
    stream.on('error', () => undefined);
    return stream;
  }

  /** Writes a file; `mode` (e.g. 0o600) is the new file's permissions. */
  write(path: string, data: Buffer, mode?: number): Promise<void> {
    return this.call<void>(`write ${path}`, (cb) => this.sftp.writeFile(path, data, mode === undefined ? {} : { mode }, cb as (e?: Error | null) => void));
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.call<void>(`chmod ${path}`, (cb) => this.sftp.chmod(path, mode, cb as (e?: Error | null) => void));
  }

  rename(from: string, to: string): Promise<void> {
    return this.call<void>(`rename ${from} to ${to}`, (cb) => this.sftp.rename(from, to, cb as (e?: Error | null) => void));
  }

  remove(path: string): Promise<void> {
    return this.call<void>(`remove ${path}`, (cb) => this.sftp.unlink(path, cb as (e?: Error | null) => void));
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.call(`stat ${path}`, (cb) => this.sftp.stat(path, cb as (e?: Error | null) => void));
      return true;
    } catch (err) {
      if (isNoSuchFile(err)) return false;
      throw err;
    }
  }

  async mkdirs(path: string): Promise<void> {
    let sofar = '';
    for (const part of path.split('/').filter(Boolean)) {
      sofar = sofar ? `${sofar}/${part}` : path.startsWith('/') ? `/${part}` : part;
      if (await this.exists(sofar)) continue;
      try {
        await this.call<void>(`mkdir ${sofar}`, (cb) => this.sftp.mkdir(sofar, cb as (e?: Error | null) => void));
      } catch (err) {
        if (!(await this.exists(sofar))) throw err;
      }
    }
  }
}

export class SftpPool {
  private readonly idle: SftpSession[] = [];
  private readonly waiting: { resolve: (s: SftpSession) => void; reject: (e: unknown) => void }[] = [];
  private open = 0;
  private nextId = 1;
  private closed = false;
  /** Connections made so far (a reconnect after a drop counts). */
  connects = 0;
  lastError: string | undefined;

  constructor(private readonly opts: PoolOptions) {}

  get where(): string {
    return `sftp://${this.opts.username}@${this.opts.host}:${this.opts.port}`;
  }

  get stats(): { open: number; idle: number; waiting: number; connects: number } {
    return { open: this.open, idle: this.idle.length, waiting: this.waiting.length, connects: this.connects };
  }

  private connect(): Promise<SftpSession> {
    const o = this.opts;
    return new Promise<SftpSession>((resolve, reject) => {
      const client = new Client();
      let hostKeyError: HostKeyError | undefined;
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(err);
      };
      const config: ConnectConfig = {
        host: o.host,
        port: o.port,
        username: o.username,
        password: o.password,
        privateKey: o.privateKey,
        passphrase: o.passphrase,
        readyTimeout: o.connectTimeoutMs,
        keepaliveInterval: o.keepAliveIntervalMs,
        keepaliveCountMax: o.keepAliveCountMax,
        hostVerifier: (key: Buffer) => {
          try {
            o.knownHosts.verify(o.host, o.port, key);
            return true;
          } catch (err) {
            hostKeyError = err as HostKeyError;
            return false;
          }
        },
      };
      client.on('error', (err: Error & { level?: string }) => {
        if (hostKeyError) return fail(hostKeyError);
        const level = err.level === 'client-authentication' ? 'authentication failed (check the user and its password or key)' : err.message;
        fail(new ConnectionLost(`cannot connect to ${this.where}: ${level}`, { cause: err }));
      });
      client.on('close', () => {
        if (!settled) fail(hostKeyError ?? new ConnectionLost(`cannot connect to ${this.where}: the connection closed`));
      });
      client.on('ready', () => {
        client.sftp((err, sftp) => {
          if (err) return fail(new ConnectionLost(`${this.where}: no SFTP subsystem: ${err.message}`, { cause: err }));
          settled = true;
          const session = new SftpSession(client, sftp, this.nextId++);
          const onGone = () => {
            if (session.dead) return;
            session.dead = true;
            this.discard(session);
          };
          client.on('close', onGone);
          client.on('error', onGone);
          sftp.on('close', onGone);
          this.connects++;
          resolve(session);
        });
      });
      try {
        client.connect(config);
      } catch (err) {
        fail(err);
      }
    });
  }

  private discard(session: SftpSession): void {
    const i = this.idle.indexOf(session);
    if (i >= 0) this.idle.splice(i, 1);
    if (session.idleTimer) clearTimeout(session.idleTimer);
    this.open--;
    session.dead = true;
    session.client.end();
    this.pump();
  }

  /** Lets a waiter open a connection when a slot frees. */
  private pump(): void {
    while (this.waiting.length > 0 && this.open < this.opts.maxConnections) {
      const w = this.waiting.shift()!;
      this.open++;
      this.connect().then(w.resolve, (err: unknown) => {
        this.open--;
        this.lastError = err instanceof Error ? err.message : String(err);
        w.reject(err);
        this.pump();
      });
    }
  }

  private async acquire(signal?: AbortSignal): Promise<SftpSession> {
    if (this.closed) throw new ConnectionLost(`${this.where}: the pool is closed`);
    while (this.idle.length > 0) {
      const s = this.idle.pop()!;
      if (s.idleTimer) clearTimeout(s.idleTimer);
      if (!s.dead) return s;
    }
    if (this.open < this.opts.maxConnections) {
      this.open++;
      try {
        return await this.connect();
      } catch (err) {
        this.open--;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.pump();
        throw err;
      }
    }
    if (signal?.aborted) throw signal.reason;
    return new Promise<SftpSession>((resolve, reject) => {
      // A caller that leaves stops waiting at once. If a connection was already being made for it
      // (pump), that connection goes back to the pool when it comes, instead of being lost with its
      // slot; and the abort listener is taken back however the wait ends.
      let settled = false;
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        if (settled) return;
        settled = true;
        reject(signal!.reason);
      };
      const waiter = {
        resolve: (session: SftpSession) => {
          signal?.removeEventListener('abort', onAbort);
          if (settled) return this.release(session);
          settled = true;
          resolve(session);
        },
        reject: (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          if (settled) return;
          settled = true;
          reject(err);
        },
      };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(session: SftpSession): void {
    if (session.dead) return;
    if (this.closed) {
      this.discard(session);
      return;
    }
    const w = this.waiting.shift();
    if (w) {
      w.resolve(session);
      return;
    }
    session.idleTimer = setTimeout(() => this.discard(session), this.opts.idleTimeoutMs);
    session.idleTimer.unref();
    this.idle.push(session);
  }

  /**
   * Runs `fn` with a session. A dropped connection throws ConnectionLost; with `idempotent`, the call
   * is made once more on a new connection first.
   */
  async use<T>(fn: (s: SftpSession) => Promise<T>, opts: { idempotent?: boolean; signal?: AbortSignal } = {}): Promise<T> {
    const attempts = opts.idempotent ? 2 : 1;
    for (let attempt = 1; ; attempt++) {
      const session = await this.acquire(opts.signal);
      try {
        const out = await fn(session);
        this.releaseOrRetire(session, opts.signal);
        return out;
      } catch (err) {
        if (err instanceof ConnectionLost || session.dead) {
          if (!session.dead) {
            session.dead = true;
            this.discard(session);
          }
          if (attempt < attempts) continue;
          throw err instanceof ConnectionLost ? err : new ConnectionLost(err instanceof Error ? err.message : String(err), { cause: err });
        }
        this.releaseOrRetire(session, opts.signal);
        throw err;
      }
    }
  }

  /**
   * Back to the pool, unless the call was cancelled (a timeout, a caller gone) while it ran: a
   * connection that stalled a call is closed rather than handed to the next one.
   */
  private releaseOrRetire(session: SftpSession, signal: AbortSignal | undefined): void {
    if (!signal?.aborted) {
      this.release(session);
      return;
    }
    if (session.dead) return;
    session.dead = true;
    this.discard(session);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new ConnectionLost(`${this.where}: the pool is closed`));
    for (const s of this.idle.splice(0)) {
      if (s.idleTimer) clearTimeout(s.idleTimer);
      s.dead = true;
      s.client.end();
      this.open--;
    }
  }
}
