/**
 * What a set of processes did during a load run, read from /proc (Linux): each process's CPU time
 * (all its threads, and its main thread apart, so that garbage-collector and libuv threads show),
 * the bytes it wrote (`wchar`: sockets included, so a worker's share of the bytes is its share of
 * the answers), the machine's busy share, and the CPU of the children this process waited for (wrk).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export const TICK_MS = 10; // USER_HZ is 100 on Linux

function statTicks(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime
}

/** The pids of a process's children (and theirs), from /proc/<pid>/task/<tid>/children. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const c of text.trim().split(/\s+/).filter(Boolean).map(Number)) out.push(c, ...descendants(c));
  }
  return out;
}

/** A process's command name (`node`, `nginx`, `esbuild`: tsx's compiler, a child of every Node process here). */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** CPU ms of a process's threads, summed by thread name (`node`: the main thread; `V8 DefaultWorke`: garbage collection; `libuv-worker`). */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(name, (out.get(name) ?? 0) + statTicks(`/proc/${pid}/task/${tid}/stat`) * TICK_MS);
    } catch {
      // the thread ended
    }
  }
  return out;
}

export interface ProcSample {
  /** CPU ms of every thread of the process. */
  cpuMs: number;
  /** CPU ms of its main thread (the event loop, for Node). */
  mainMs: number;
  /** Bytes written (write, send, ...). */
  wchar: number;
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const cpuMs = statTicks(`/proc/${pid}/stat`) * TICK_MS;
    const mainMs = statTicks(`/proc/${pid}/task/${pid}/stat`) * TICK_MS;
    const wchar = Number(/wchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
    return { cpuMs, mainMs, wchar };
  } catch {
    return undefined;
  }
}

/** The machine's CPU since boot: busy and total jiffies over every core. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU ms of the children this process has waited for (wrk, run with spawnSync), from /proc/self/stat. */
export function waitedChildrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS; // cutime, cstime
}

/** Established connections on a local port, counted by the pid that holds them (ss). */
export function connectionsByPid(port: number): Map<number, number> {
  const r = spawnSync('ss', ['-tnpH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  const out = new Map<number, number>();
  if (r.status !== 0) return out;
  for (const line of r.stdout.split('\n')) for (const m of line.matchAll(/pid=(\d+)/g)) out.set(Number(m[1]), (out.get(Number(m[1])) ?? 0) + 1);
  return out;
}

/** A thread's time on a CPU and waiting for one (runnable, not running), from /proc/<pid>/task/<tid>/schedstat, in ms. */
export function schedstat(pid: number, tid = pid): { cpuMs: number; waitMs: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
  return { cpuMs: run / 1e6, waitMs: wait / 1e6 };
}
