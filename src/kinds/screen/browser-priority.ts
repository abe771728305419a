/**
 * The browser at a lower CPU priority than the gateway. Chromium's pages are CPU-hungry: under a
 * flood of screen requests they take every core, and the gateway's event loop (every other route,
 * `/healthz` included) waits for a CPU behind them. Started at a niceness of 10, the browser gets a
 * tenth of the gateway's share of a contended CPU and all of an idle one.
 *
 * Niceness is inherited by every process and thread a process starts, so the browser is started
 * through a small generated executable that runs it under `nice -n N`: its main process, zygotes,
 * renderers and helpers all run at that niceness from their first instruction (renicing after the
 * launch would miss threads, which Linux prioritises one by one). But Chromium sets its threads'
 * niceness itself (-8 for compositing and I/O threads, 0 for most others), which only a process
 * allowed to raise priority (root, or CAP_SYS_NICE) can do: run as root, the launcher also drops
 * that capability with util-linux's `setpriv`, so the browser's threads stay at N or below it in
 * priority. `exec` keeps one pid throughout, so the browser's main process is still the launcher's
 * child. Not on Windows, and not where there is no `nice` (or, as root, no `setpriv`): then the
 * browser runs at the gateway's priority, and the caller is told why.
 *
 * Where the kernel groups processes by session for scheduling (autogroup, `kernel.sched_autogroup_enabled`,
 * on by default in many distributions' kernels, for processes outside a CPU cgroup of their own), a
 * process's niceness only orders it within its session's group, and the groups share the CPUs
 * equally. Playwright starts the browser in a session of its own (`detached`), so the browser's group
 * would get as much CPU as the gateway's whole group, whatever its threads' niceness (measured here:
 * the gateway's event loop waited for a CPU 140-170 ms of the first 400 ms of a 400-read flood). The
 * launcher, when it leads a session of its own, sets its group's niceness to N as well (writing
 * /proc/self/autogroup); in the gateway's session it leaves the group alone, which is the gateway's.
 */
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TOOL_DIRS: readonly string[] = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

export type NicedBrowser = { ok: true; executablePath: string; remove(): void } | { ok: false; reason: string };

/** An executable of the system's by its name, in the usual folders (not the PATH, which a caller may set). */
function findTool(name: string): string | undefined {
  for (const dir of TOOL_DIRS) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not there
    }
  }
  return undefined;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** A POSIX shell word holding `s` as it is. */
const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Shell lines that set this script's session scheduling group to niceness `n`, when the script leads
 * a session of its own (the 6th field of /proc/<pid>/stat, the 4th after the command's ") "; in a
 * function, so that "$@" stays the browser's). In the gateway's own session they do nothing. Without
 * CAP_SYS_ADMIN the kernel takes one such change every 100 ms on the whole machine (EAGAIN
 * otherwise): tried 3 times, 0.1 s apart, where there is a `sleep`.
 */
function sessionGroupAt(n: number): string {
  const sleep = findTool('sleep');
  const set = `{ echo ${n} > /proc/self/autogroup; } 2>/dev/null`;
  const tries = sleep === undefined ? set : `${set} || { ${shellQuote(sleep)} 0.1; ${set}; } || { ${shellQuote(sleep)} 0.1; ${set}; }`;
  return `leads() { read -r s < /proc/$$/stat || return 1; s=\${s##*') '}; set -- $s; [ "$4" = "$$" ]; }\n` + `if [ -w /proc/self/autogroup ] && leads; then ${tries}; fi\n`;
}

/** `script` as an executable in a private folder of the system's temporary directory. */
function writeLauncher(script: string): NicedBrowser {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'ficus-browser-'));
    const launcher = join(dir, 'browser');
    writeFileSync(launcher, script, { mode: 0o700 });
    chmodSync(launcher, 0o700);
    const made = dir;
    return { ok: true, executablePath: launcher, remove: () => rmSync(made, { recursive: true, force: true }) };
  } catch (err) {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    return { ok: false, reason: `cannot write a launcher in ${tmpdir()}: ${(err as Error).message}` };
  }
}

/**
 * An executable that runs `executablePath` with its arguments at niceness `nice` (1–19), and its
 * session's scheduling group at `nice` when it leads a session of its own; in a private folder of
 * the system's temporary directory that `remove` deletes.
 */
export function nicedBrowser(executablePath: string, nice: number): NicedBrowser {
  if (process.platform === 'win32') return { ok: false, reason: 'Windows has no nice' };
  const niceBin = findTool('nice');
  if (niceBin === undefined) return { ok: false, reason: `no nice executable (looked in ${TOOL_DIRS.join(', ')})` };
  // As root, Chromium would set its threads' niceness back (to 0 and -8): without CAP_SYS_NICE it cannot.
  // (Where the capability cannot be dropped, a container without CAP_SETPCAP, the browser still starts, niced.)
  const n = Math.trunc(nice);
  const run = `${shellQuote(niceBin)} -n ${n}`;
  if (!isRoot()) return writeLauncher(`#!/bin/sh\n${sessionGroupAt(n)}exec ${run} ${shellQuote(executablePath)} "$@"\n`);
  const setpriv = findTool('setpriv');
  if (setpriv === undefined) return { ok: false, reason: `running as root, Chromium would undo the niceness, and there is no setpriv (util-linux) to stop it (looked in ${TOOL_DIRS.join(', ')})` };
  const drop = `${shellQuote(setpriv)} --bounding-set -sys_nice --inh-caps -sys_nice`;
  return writeLauncher(
    `#!/bin/sh\n${sessionGroupAt(n)}if ${drop} /bin/sh -c : 2>/dev/null; then exec ${run} ${drop} ${shellQuote(executablePath)} "$@"; fi\nexec ${run} ${shellQuote(executablePath)} "$@"\n`,
  );
}

/**
 * An executable that runs `executablePath` as it is (at the niceness it inherits) and sets its
 * session's scheduling group to `nice` when it leads a session of its own: for a browser started by
 * a process already niced (the browser server, browser-server.ts), which Playwright starts in a
 * session of its own.
 */
export function sessionGroupBrowser(executablePath: string, nice: number): NicedBrowser {
  if (process.platform === 'win32') return { ok: false, reason: 'Windows has no session scheduling groups' };
  return writeLauncher(`#!/bin/sh\n${sessionGroupAt(Math.trunc(nice))}exec ${shellQuote(executablePath)} "$@"\n`);
}
