/**
 * SFTP connections as the sftp kind makes them, against a real OpenSSH server: host keys checked
 * against known_hosts, connections reused and limited, kept alive, and re-opened after a drop or a
 * server restart.
 */
import { writeFileSync } from 'node:fs';
import { getEventListeners } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KnownHosts } from '../../src/kinds/sftp/known-hosts.ts';
import { ConnectionLost, SftpPool, type PoolOptions } from '../../src/kinds/sftp/sftp-pool.ts';
import { startSshd, type Sshd } from '../helpers/sshd.ts';
import { eventually } from '../helpers/wait.ts';
import { startTcpProxy } from '../faults/tcp-proxy.ts';
import type { Readable } from 'node:stream';
import { startSftpServer, type RunningSftpServer } from '../../sample/mainframe/sftp-server.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHmac, randomBytes } from 'node:crypto';

let sshd: Sshd;
const pools: SftpPool[] = [];

function pool(over: Partial<PoolOptions> = {}): SftpPool {
  const p = new SftpPool({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    knownHosts: KnownHosts.load(sshd.knownHostsFile),
    maxConnections: 2,
    keepAliveIntervalMs: 200,
    keepAliveCountMax: 2,
    connectTimeoutMs: 3_000,
    idleTimeoutMs: 30_000,
    ...over,
  });
  pools.push(p);
  return p;
}

beforeAll(async () => {
  sshd = await startSshd();
  writeFileSync(join(sshd.root, 'hello.txt'), 'hello');
});
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

afterAll(async () => {
  for (const p of pools) await p.close();
  await sshd?.dispose();
});

describe('host keys', () => {
  it('are accepted when known_hosts lists them (also hashed, as ssh-keygen -H writes them)', async () => {
    expect(await pool().use((s) => s.read('hello.txt'))).toEqual(Buffer.from('hello'));
    const [, type, key] = sshd.hostKeyLine.split(' ');
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(`[127.0.0.1]:${sshd.port}`).digest('base64')} ${type} ${key}`;
    expect(await pool({ knownHosts: KnownHosts.parse(hashed, 'hashed') }).use((s) => s.read('hello.txt'))).toEqual(Buffer.from('hello'));
  });

  it('are refused when not listed, with the fingerprint and the line to add', async () => {
    const p = pool({ knownHosts: KnownHosts.parse('# nothing here\n', 'test_known_hosts') });
    const err = await p.use((s) => s.read('hello.txt')).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      new RegExp(
        `the host key of 127\\.0\\.0\\.1:${sshd.port} \\(ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}\\) is not in test_known_hosts; check the fingerprint .* add this line: \\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 AAAA`,
      ),
    );
  });

  it('are refused when another key is listed for the host (a changed key or a man in the middle)', async () => {
    const other = `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGgC0bU0ZF8m8xGcb6mSAIwjfdVtaL/9pEvOBBYOHNxB`;
    const err = await pool({ knownHosts: KnownHosts.parse(other, 'kh') })
      .use((s) => s.list('.'))
      .catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/does not match the 1 key\(s\) listed for it in kh: possible man-in-the-middle/);
    const revoked = `@revoked * ${sshd.hostKeyLine.split(' ').slice(1).join(' ')}\n${sshd.hostKeyLine}`;
    const err2 = await pool({ knownHosts: KnownHosts.parse(revoked, 'kh2') })
      .use((s) => s.list('.'))
      .catch((e: unknown) => e as Error);
    expect((err2 as Error).message).toMatch(/is marked @revoked in kh2/);
  });
});

describe('connections', () => {
  it('are reused and limited: many calls at once share at most maxConnections', async () => {
    const p = pool({ maxConnections: 2 });
    let inFlight = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        p.use(async (s) => {
          inFlight++;
          most = Math.max(most, inFlight);
          await s.read('hello.txt');
          await new Promise((r) => setTimeout(r, 20));
          inFlight--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(p.stats.connects).toBe(2);
    await p.use((s) => s.list('.'));
    expect(p.stats.connects).toBe(2);
  });

  it('are closed, not reused, when a call on them was cancelled (a timeout) while it ran', async () => {
    const p = pool();
    await p.use((s) => s.list('.'));
    const cancelled = new AbortController();
    await p.use(
      async (s) => {
        const listing = await s.list('.');
        cancelled.abort(new Error('the attempt timed out'));
        return listing;
      },
      { signal: cancelled.signal },
    );
    expect(p.stats).toMatchObject({ open: 0, connects: 1 });
    expect(await p.use((s) => s.read('hello.txt'))).toEqual(Buffer.from('hello'));
    expect(p.stats.connects).toBe(2);
  });

  it('are not lost when a caller waiting for one leaves while it is being made for it', async () => {
    const p = pool({ maxConnections: 1 });
    let drop!: () => void;
    const dropped = new Promise<void>((r) => (drop = r));
    // The only connection breaks under its call: the slot is freed and a connection is made for the next waiter...
    const first = p.use(async (s) => {
      await s.list('.');
      await dropped;
      throw new ConnectionLost('the connection dropped under the call');
    });
    await until(() => p.stats.open === 1);
    const caller = new AbortController();
    const waiting = p.use((s) => s.list('.'), { signal: caller.signal });
    await until(() => p.stats.waiting === 1);
    drop();
    await expect(first).rejects.toThrow(ConnectionLost);
    // ...whose caller leaves while it is being made.
    caller.abort(new Error('the caller went away'));
    await expect(waiting).rejects.toThrow('the caller went away');
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    // The connection made for it serves the next call: the pool's only slot is not lost.
    expect(await p.use((s) => s.read('hello.txt'), { signal: AbortSignal.timeout(10_000) })).toEqual(Buffer.from('hello'));
    expect(p.stats.open).toBe(1);
  });

  it('are re-opened after the server drops them', async () => {
    const p = pool();
    await p.use((s) => s.list('.'));
    expect(p.stats).toMatchObject({ open: 1, connects: 1 });
    await sshd.dropSessions();
    // The dead connection is noticed (keep-alive or close) and a fresh one is made for the next call.
    expect(await p.use((s) => s.read('hello.txt'), { idempotent: true })).toEqual(Buffer.from('hello'));
    expect(p.stats.connects).toBe(2);
  });

  it('survive a server restart, and report the outage clearly while it lasts', async () => {
    const p = pool({ connectTimeoutMs: 1_000 });
    await p.use((s) => s.list('.'));
    await sshd.stop();
    const err = await p.use((s) => s.list('.'), { idempotent: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionLost);
    expect((err as Error).message).toMatch(new RegExp(`cannot connect to sftp://${sshd.username}@127\\.0\\.0\\.1:${sshd.port}: .*ECONNREFUSED`));
    await sshd.start();
    expect(await p.use((s) => s.read('hello.txt'), { idempotent: true })).toEqual(Buffer.from('hello'));
  });

  it('notice a server that stops answering through keep-alives', async () => {
    const p = pool({ keepAliveIntervalMs: 100, keepAliveCountMax: 2 });
    await p.use((s) => s.list('.'));
    const sshdPid = (await import('node:fs')).readFileSync(join(sshd.dir, 'sshd.pid'), 'utf8').trim();
    // Freeze every sshd process (SIGSTOP): the TCP connection stays up but nothing answers.
    const { readdirSync, readFileSync } = await import('node:fs');
    const kids = (pid: string): string[] => {
      try {
        return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .flatMap((k) => [k, ...kids(k)]);
      } catch {
        return [];
      }
    };
    const frozen = [sshdPid, ...kids(sshdPid)].map(Number);
    expect(readdirSync('/proc').includes(sshdPid)).toBe(true);
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    try {
      const start = Date.now();
      while (p.stats.open > 0 && Date.now() - start < 3_000) await new Promise((r) => setTimeout(r, 20));
      expect(p.stats.open).toBe(0);
      expect(Date.now() - start).toBeLessThan(2_000);
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    expect(await p.use((s) => s.read('hello.txt'), { idempotent: true })).toEqual(Buffer.from('hello'));
  });

  it('end an unread file stream whose connection drops: a late reader fails instead of waiting for ever, and nothing is left uncaught', async () => {
    // Between the gateway and sshd, a proxy that can go silent and then cut the connection: the
    // stream's open request is then certainly pending when the connection closes, and ssh2 fails it
    // ("No response from server") on a stream nobody reads yet.
    const proxy = await startTcpProxy(sshd.port);
    const [, type, key] = sshd.hostKeyLine.split(' ');
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const p = pool({ port: proxy.port, knownHosts: KnownHosts.parse(`[127.0.0.1]:${proxy.port} ${type} ${key}`, 'proxy known_hosts'), keepAliveIntervalMs: 0 });
      let stream: Readable | undefined;
      await p.use(async (s) => {
        await s.list('.');
        proxy.setMode('blackhole');
        stream = s.readStream('hello.txt');
      });
      proxy.reset();
      // The stream ends (a reader never waits on it for ever) ...
      await eventually(() => expect(stream!.destroyed).toBe(true));
      // ... and a reader that comes late is not told the file was read: it fails.
      const read = async () => {
        for await (const chunk of stream!) void chunk;
      };
      await expect(read()).rejects.toThrow();
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await proxy.close();
    }
  });

  it('say when the login is refused', async () => {
    const err = await pool({ privateKey: undefined, password: 'wrong' })
      .use((s) => s.list('.'))
      .catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/authentication failed \(check the user and its password or key\)/);
  });
});

describe('the in-process SFTP server of the sample', () => {
  let server: RunningSftpServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ficus-inproc-'));
    server = await startSftpServer({ root: dir, username: 'mf', password: 'secret' });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves files by password login, with its host key checked the same way, and stays in its folder', async () => {
    const p = new SftpPool({
      host: '127.0.0.1',
      port: server.port,
      username: 'mf',
      password: 'secret',
      knownHosts: KnownHosts.parse(server.hostKeyLine, 'kh'),
      maxConnections: 1,
      keepAliveIntervalMs: 0,
      keepAliveCountMax: 3,
      connectTimeoutMs: 3_000,
      idleTimeoutMs: 5_000,
    });
    pools.push(p);
    await p.use(async (s) => {
      await s.mkdirs('a/b');
      await s.write('a/b/x.part', Buffer.from('data'));
      await s.rename('a/b/x.part', 'a/b/x.dat');
      expect((await s.list('a/b')).map((f) => f.name)).toEqual(['x.dat']);
      expect(await s.read('/../../a/b/x.dat')).toEqual(Buffer.from('data'));
    });
    server.dropConnections();
    expect(await p.use((s) => s.read('a/b/x.dat'), { idempotent: true })).toEqual(Buffer.from('data'));
    expect(p.stats.connects).toBe(2);
  });
});
