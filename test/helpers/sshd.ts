/**
 * A real OpenSSH server (Debian's /usr/sbin/sshd) for tests, on a free loopback port, with its own
 * host key, its own sshd_config, a test user's authorized key and a chroot-free SFTP subsystem
 * (internal-sftp) that starts in a temporary folder. No system configuration is read or touched
 * (only /run/sshd, the privilege-separation folder sshd itself requires, is made if missing).
 *
 * API:
 *   const sshd = await startSshd({ root?, logLevel? });   // started, listening
 *   sshd.host, sshd.port            127.0.0.1 and the port (kept across restarts)
 *   sshd.username                   the login user (the user running the tests; root is fine here)
 *   sshd.privateKey                 the user's private key (OpenSSH PEM text) — put it in the environment
 *   sshd.knownHostsFile             a known_hosts file trusting exactly this server's host key
 *   sshd.hostKeyLine                that line: `[127.0.0.1]:<port> ssh-ed25519 AAAA…`
 *   sshd.root                       the folder SFTP paths are relative to (the session's start folder)
 *   sshd.running                    whether the listener is up
 *   await sshd.dropSessions()       kills every open SSH session (clients see a dropped connection); keeps listening
 *   await sshd.stop()               kills the listener and every session; the port is free again
 *   await sshd.start()              listens again on the same port with the same keys
 *   await sshd.restart()            stop + start
 *   await sshd.dispose()            stop, and delete the temporary folder (call it in afterAll)
 *
 * SFTP clients must use paths relative to the start folder (`inbound/x.dat`), as internal-sftp
 * without a chroot resolves absolute paths against the real file system.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SSHD_BIN = '/usr/sbin/sshd';

export interface SshdOptions {
  /** The folder served; default a fresh `root/` in the helper's temporary folder. */
  root?: string;
  /** sshd's LogLevel (its log goes to `sshd.log` in the temporary folder). Default ERROR. */
  logLevel?: 'QUIET' | 'ERROR' | 'INFO' | 'VERBOSE' | 'DEBUG';
}

export interface Sshd {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  readonly knownHostsFile: string;
  readonly hostKeyLine: string;
  readonly root: string;
  readonly dir: string;
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  dropSessions(): Promise<void>;
  dispose(): Promise<void>;
  /** sshd's own log so far, for a failing test's message. */
  log(): string;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Resolves once something answers an SSH banner on the port. */
async function waitForBanner(port: number, deadline: number, proc: ChildProcess, log: () => string): Promise<void> {
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`sshd exited with ${proc.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.setTimeout(500);
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString('latin1').startsWith('SSH-'));
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port} within 30 s: ${log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every descendant of a process (Linux /proc), deepest first. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    let kids: number[] = [];
    try {
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const text = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (text) kids = kids.concat(text.split(/\s+/).map(Number));
      }
    } catch {
      return;
    }
    for (const k of kids) {
      visit(k);
      out.push(k);
    }
  };
  visit(pid);
  return out;
}

function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function waitGone(pids: number[], ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (pids.some((p) => existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z '))) {
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} did not exit`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync(SSHD_BIN)) throw new Error(`${SSHD_BIN} is missing: install Debian's openssh-server (bash .ci/run does)`);
  const dir = mkdtempSync(join(tmpdir(), 'ficus-sshd-'));
  const root = opts.root ?? join(dir, 'root');
  mkdirSync(root, { recursive: true });
  const hostKey = join(dir, 'host_ed25519');
  const userKey = join(dir, 'user_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ficus-test-host', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ficus-test-user', '-f', userKey]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`));
  const port = await freePort();
  const username = userInfo().username;
  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const hostKeyLine = `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}`;
  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, hostKeyLine + '\n');
  const logFile = join(dir, 'sshd.log');
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${username}`,
      'StrictModes no',
      'UsePAM no',
      'PrintMotd no',
      'UseDNS no',
      'MaxStartups 100:30:200',
      'MaxSessions 50',
      `Subsystem sftp internal-sftp -d ${root}`,
      `LogLevel ${opts.logLevel ?? 'ERROR'}`,
      '',
    ].join('\n'),
  );
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const privateKey = readFileSync(userKey, 'utf8');

  let proc: ChildProcess | undefined;
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4_000) : '');

  const sshd: Sshd = {
    host: '127.0.0.1',
    port,
    username,
    privateKey,
    knownHostsFile,
    hostKeyLine,
    root,
    dir,
    get running() {
      return proc !== undefined && proc.exitCode === null;
    },
    async start() {
      if (sshd.running) return;
      // -D: stay in the foreground (so the test owns the process); -E: log to a file.
      const child = spawn(SSHD_BIN, ['-D', '-f', config, '-E', logFile], { stdio: 'ignore' });
      proc = child;
      await waitForBanner(port, Date.now() + 30_000, child, log);
    },
    async dropSessions() {
      if (!proc?.pid) return;
      const kids = descendants(proc.pid);
      killAll(kids);
      await waitGone(kids);
    },
    async stop() {
      const p = proc;
      if (!p?.pid || p.exitCode !== null) return;
      const kids = descendants(p.pid);
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      killAll([p.pid, ...kids]);
      await exited;
      await waitGone(kids);
      proc = undefined;
    },
    async restart() {
      await sshd.stop();
      await sshd.start();
    },
    async dispose() {
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    log,
  };
  try {
    await sshd.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return sshd;
}
