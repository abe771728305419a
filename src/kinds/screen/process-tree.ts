/**
 * Finding and ending the browser's processes. The pool starts Chromium with a marker variable in
 * its environment: the main process and the crash handlers (which leave its process group) keep
 * it; zygotes, renderers and utilities get a clean environment but stay in the main process's
 * group. Marked processes plus that group are the browser: the pool can list them all, kill them
 * all, and check that none is left. Linux /proc only; elsewhere the lists are empty.
 */
import { readFileSync, readdirSync } from 'node:fs';

interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
}

function readStat(pid: number): ProcInfo | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { pid, state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
}

/** Whether the process runs (exists and has not exited: a zombie waiting for its parent does not run). */
export function isRunning(pid: number): boolean {
  return running(readStat(pid));
}

/** A process that has not exited (a zombie has: it only waits for its parent to read its status). */
function running(info: ProcInfo | undefined): info is ProcInfo {
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

/** Live processes whose environment holds `name=value`, oldest (lowest pid) first. */
export function processesWithEnv(name: string, value: string): number[] {
  const needle = `${name}=${value}`;
  const out: number[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (!env.split('\0').includes(needle)) continue;
      const info = readStat(pid);
      if (running(info)) out.push(pid);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out.sort((a, b) => a - b);
}

/** SIGKILL to each process; the ones already gone are skipped. */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The main browser process among a browser's processes: the one whose parent is not one of them. */
export function mainProcess(pids: readonly number[]): number | undefined {
  const set = new Set(pids);
  return pids.find((pid) => {
    const info = readStat(pid);
    return info !== undefined && info.ppid === process.pid && !set.has(info.ppid);
  });
}

/** Resident set size of a process in bytes (proportional share when the kernel tells it), or 0. */
export function residentBytes(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const pss = /^Pss:\s+(\d+) kB/m.exec(rollup);
    if (pss) return Number(pss[1]) * 1024;
  } catch {
    // fall through to status
  }
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return rss ? Number(rss[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Live (not zombie) processes of a process group. */
export function processGroupMembers(pgrp: number): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    const info = readStat(pid);
    if (running(info) && info.pgrp === pgrp) out.push(pid);
  }
  return out;
}

/** Every live process of one browser: those carrying its mark, and the main process's group. */
export function browserProcessTree(markName: string, mark: string, mainPid: number | undefined): number[] {
  const all = new Set(processesWithEnv(markName, mark));
  if (mainPid !== undefined) for (const pid of processGroupMembers(mainPid)) all.add(pid);
  return [...all].sort((a, b) => a - b);
}

/** What a process's threads are doing: CPU time used so far (ns) and whether any runs or waits to run, or all are stopped. */
export interface ProcessActivity {
  cpuNs: number;
  runnable: boolean;
  stopped: boolean;
}

/**
 * The activity of one process, summed over its threads (/proc/<pid>/task/<tid>/schedstat for CPU
 * time in ns, and stat for the state: R running or waiting for a CPU, T/t stopped). Undefined when
 * it cannot be read (gone, or not Linux).
 */
export function processActivity(pid: number): ProcessActivity | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let cpuNs = 0;
  let runnable = false;
  let stopped = tids.length > 0;
  for (const tid of tids) {
    try {
      cpuNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) || 0;
      const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
      // utime + stime (clock ticks), in case schedstat is not kept: 10 ms a tick on Linux.
      cpuNs += (Number(rest[11]) + Number(rest[12])) * 10_000_000 || 0;
      if (rest[0] === 'R') runnable = true;
      if (rest[0] !== 'T' && rest[0] !== 't') stopped = false;
    } catch {
      // the thread ended meanwhile
    }
  }
  return { cpuNs, runnable, stopped };
}
