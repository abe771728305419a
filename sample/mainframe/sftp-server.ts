/**
 * The sample mainframe's file drop: an in-process SFTP server (ssh2) on a free loopback port,
 * serving a local folder. Password or public-key login for one user; its own ed25519 host key,
 * offered to clients as a known_hosts line. Paths are relative to the folder (absolute ones too:
 * `/inbound` is `<root>/inbound`; nothing outside it can be reached). `dropConnections()` cuts every
 * client off, for tests of reconnects.
 */
import ssh2 from 'ssh2';
import type { Attributes, Connection, SFTPWrapper } from 'ssh2';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync, existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, normalize, posix } from 'node:path';
import { timingSafeEqual } from 'node:crypto';

const { Server, utils } = ssh2;
const { OPEN_MODE, STATUS_CODE } = utils.sftp;

export interface SftpServerOptions {
  root: string;
  username: string;
  password?: string;
  /** An OpenSSH public key line accepted for the user. */
  authorizedKey?: string;
  port?: number;
}

export interface RunningSftpServer {
  host: string;
  port: number;
  /** `[127.0.0.1]:<port> ssh-ed25519 AAAA…`, for a known_hosts file. */
  hostKeyLine: string;
  connections(): number;
  dropConnections(): void;
  close(): Promise<void>;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function attrsOf(st: { mode: number; uid: number; gid: number; size: number; atimeMs: number; mtimeMs: number }): Attributes {
  return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) };
}

function errnoStatus(err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return STATUS_CODE.NO_SUCH_FILE;
  if (code === 'EACCES' || code === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

function serveSftp(sftp: SFTPWrapper, root: string): void {
  const handles = new Map<number, { fd?: number; dir?: string; listed?: boolean }>();
  let next = 1;
  const local = (p: string) => join(root, normalize(posix.join('/', p)));
  const handleOf = (buf: Buffer) => (buf.length === 4 ? handles.get(buf.readUInt32BE(0)) : undefined);
  const newHandle = (h: { fd?: number; dir?: string }) => {
    const id = next++;
    handles.set(id, h);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id);
    return b;
  };
  const guard = (reqid: number, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      sftp.status(reqid, errnoStatus(err), (err as Error).message);
    }
  };
  sftp
    .on('OPEN', (reqid, filename, flags) =>
      guard(reqid, () => {
        let mode = 'r';
        if (flags & OPEN_MODE.WRITE) mode = flags & OPEN_MODE.APPEND ? 'a' : flags & OPEN_MODE.TRUNC || flags & OPEN_MODE.CREAT ? 'w' : 'r+';
        if (flags & OPEN_MODE.READ && flags & OPEN_MODE.WRITE) mode = flags & OPEN_MODE.CREAT ? 'w+' : 'r+';
        if (flags & OPEN_MODE.EXCL && existsSync(local(filename))) {
          sftp.status(reqid, STATUS_CODE.FAILURE, 'file exists');
          return;
        }
        sftp.handle(reqid, newHandle({ fd: openSync(local(filename), mode) }));
      }),
    )
    .on('READ', (reqid, handle, offset, length) =>
      guard(reqid, () => {
        const h = handleOf(handle);
        if (h?.fd === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
        const buf = Buffer.alloc(Math.min(length, 256 * 1024));
        const n = readSync(h.fd, buf, 0, buf.length, offset);
        if (n === 0) sftp.status(reqid, STATUS_CODE.EOF);
        else sftp.data(reqid, buf.subarray(0, n));
      }),
    )
    .on('WRITE', (reqid, handle, offset, data) =>
      guard(reqid, () => {
        const h = handleOf(handle);
        if (h?.fd === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
        writeSync(h.fd, data, 0, data.length, offset);
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    )
    .on('FSTAT', (reqid, handle) =>
      guard(reqid, () => {
        const h = handleOf(handle);
        if (h?.fd === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
        sftp.attrs(reqid, attrsOf(fstatSync(h.fd)));
      }),
    )
    .on('CLOSE', (reqid, handle) =>
      guard(reqid, () => {
        const h = handleOf(handle);
        if (!h) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
        if (h.fd !== undefined) closeSync(h.fd);
        handles.delete(handle.readUInt32BE(0));
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    )
    .on('OPENDIR', (reqid, path) =>
      guard(reqid, () => {
        const dir = local(path);
        if (!statSync(dir).isDirectory()) return sftp.status(reqid, STATUS_CODE.FAILURE, 'not a directory');
        sftp.handle(reqid, newHandle({ dir }));
      }),
    )
    .on('READDIR', (reqid, handle) =>
      guard(reqid, () => {
        const h = handleOf(handle);
        if (h?.dir === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
        if (h.listed) return sftp.status(reqid, STATUS_CODE.EOF);
        h.listed = true;
        const names = [];
        for (const filename of readdirSync(h.dir)) {
          try {
            const st = statSync(join(h.dir, filename));
            names.push({ filename, longname: `${st.isDirectory() ? 'd' : '-'}rw-r--r-- 1 mf mf ${st.size} Jan 1 00:00 ${filename}`, attrs: attrsOf(st) });
          } catch {
            // vanished between readdir and stat
          }
        }
        sftp.name(reqid, names);
      }),
    )
    .on('STAT', (reqid, path) => guard(reqid, () => sftp.attrs(reqid, attrsOf(statSync(local(path))))))
    .on('LSTAT', (reqid, path) => guard(reqid, () => sftp.attrs(reqid, attrsOf(statSync(local(path))))))
    .on('SETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK))
    .on('FSETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK))
    .on('REALPATH', (reqid, path) => {
      const p = normalize(posix.join('/', path));
      sftp.name(reqid, [{ filename: p, longname: p, attrs: {} as Attributes }]);
    })
    .on('RENAME', (reqid, from, to) =>
      guard(reqid, () => {
        if (existsSync(local(to))) return sftp.status(reqid, STATUS_CODE.FAILURE, 'target exists');
        renameSync(local(from), local(to));
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    )
    .on('REMOVE', (reqid, path) =>
      guard(reqid, () => {
        unlinkSync(local(path));
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    )
    .on('MKDIR', (reqid, path) =>
      guard(reqid, () => {
        mkdirSync(local(path));
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    )
    .on('RMDIR', (reqid, path) =>
      guard(reqid, () => {
        rmdirSync(local(path));
        sftp.status(reqid, STATUS_CODE.OK);
      }),
    )
    .on('close', () => {
      for (const h of handles.values()) if (h.fd !== undefined) closeSync(h.fd);
      handles.clear();
    });
}

/**
 * A fresh ed25519 host key that ssh2 can read back. ssh2's generator strips leading zero bytes from
 * the public key, so about one key in 256 is unreadable ("Malformed OpenSSH private key",
 * mscdex/ssh2 issues 1390 and 1513): such a key is thrown away and another made (bounded).
 */
export function newHostKey(generate = () => utils.generateKeyPairSync('ed25519')): { hostKey: { private: string; public: string }; parsedHost: ssh2.ParsedKey } {
  let last: Error | undefined;
  for (let i = 0; i < 16; i++) {
    const hostKey = generate();
    const parsedHost = utils.parseKey(hostKey.private);
    const parsedPublic = utils.parseKey(hostKey.public);
    if (!(parsedHost instanceof Error) && !(parsedPublic instanceof Error)) return { hostKey, parsedHost: Array.isArray(parsedHost) ? parsedHost[0] : parsedHost };
    last = parsedHost instanceof Error ? parsedHost : (parsedPublic as Error);
  }
  throw new Error(`could not make a readable host key for the sample SFTP server: ${last?.message ?? 'unknown'}`);
}

export async function startSftpServer(opts: SftpServerOptions): Promise<RunningSftpServer> {
  mkdirSync(opts.root, { recursive: true });
  const { hostKey, parsedHost } = newHostKey();
  const allowedKey = opts.authorizedKey ? utils.parseKey(opts.authorizedKey) : undefined;
  if (allowedKey instanceof Error) throw allowedKey;
  const clients = new Set<Connection>();
  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => clients.delete(client));
    client.on('authentication', (ctx) => {
      if (!same(ctx.username, opts.username)) return ctx.reject();
      if (ctx.method === 'password' && opts.password !== undefined && same(ctx.password, opts.password)) return ctx.accept();
      if (ctx.method === 'publickey' && allowedKey && ctx.key.algo === allowedKey.type && ctx.key.data.equals(allowedKey.getPublicSSH())) {
        if (!ctx.signature || !ctx.blob) return ctx.accept(); // the key check before the signed request
        return allowedKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) ? ctx.accept() : ctx.reject();
      }
      ctx.reject([...(opts.password !== undefined ? ['password'] : []), ...(allowedKey ? ['publickey'] : [])] as ('password' | 'publickey')[]);
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('sftp', (acceptSftp) => serveSftp(acceptSftp(), opts.root));
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const pub = parsedHost.getPublicSSH();
  return {
    host: '127.0.0.1',
    port,
    hostKeyLine: `[127.0.0.1]:${port} ${parsedHost.type} ${pub.toString('base64')}`,
    connections: () => clients.size,
    dropConnections() {
      for (const c of clients) c.end();
      clients.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.end();
        server.close(() => resolve());
      }),
  };
}
