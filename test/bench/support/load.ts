/**
 * Shared pieces of the HTTP benchmarks: start a child process that announces its URL, drive load
 * with wrk (C, so the load generator costs little CPU and reports latency to the microsecond), and
 * read a V8 CPU profile.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Child {
  url: string;
  /** Whatever else it announced before its URL (`NAME <value>` lines on stderr, e.g. ADMIN). */
  said?: Record<string, string>;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Runs `node --import tsx <script> ...args` and waits for its `LISTENING <url>` line. */
export function startChild(script: string, args: string[] = [], nodeArgs: string[] = []): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const startMs = Number(process.env.BENCH_START_TIMEOUT_MS ?? 60_000);
    const timer = setTimeout(() => reject(new Error(`${script} did not start within ${startMs} ms: ${err}`)), startMs);
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      err += chunk;
      const m = /LISTENING (\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        const said = Object.fromEntries([...err.matchAll(/^([A-Z]+) (\S+)$/gm)].map((x) => [x[1], x[2]]));
        resolve({ url: m[1], said, proc, stop: () => stopProcess(proc) });
      }
    });
    proc.on('exit', (code) => reject(new Error(`${script} exited with ${code}: ${err}`)));
  });
}

export function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill(signal);
  });
}

export interface LoadResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) throw new Error(`cannot read wrk latency ${v}`);
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

/** wrk with one thread and `connections` connections for `seconds` (this process waits, blocked). */
export function wrk(url: string, connections: number, seconds: number): LoadResult {
  const r = spawnSync('wrk', wrkArgs(url, connections, seconds), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error?.message}`);
  return wrkResult(r.stdout);
}

/** The same, without blocking this process: for a server that runs in it. */
export function wrkAsync(url: string, connections: number, seconds: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn('wrk', wrkArgs(url, connections, seconds), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) reject(new Error(`wrk failed: ${err}`));
      else {
        try {
          resolve(wrkResult(out));
        } catch (e) {
          reject(e as Error);
        }
      }
    });
  });
}

const wrkArgs = (url: string, connections: number, seconds: number) => ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url];

function wrkResult(out: string): LoadResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1];
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1];
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  if (!p50 || !p99 || !Number.isFinite(rps)) throw new Error(`cannot read wrk output:\n${out}`);
  return { rps, p50ms: toMs(p50), p99ms: toMs(p99), errors };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
  children?: number[];
}

/** Self time of a .cpuprofile grouped by where the code lives (a package, a source folder, Node itself). */
export function profileByArea(file: string): { area: string; share: number }[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  const byArea = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const url = n.callFrame.url;
    const name = n.callFrame.functionName;
    let area: string;
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') area = name;
    else if (url.includes('/node_modules/')) {
      const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
      area = m ? m[1] : 'node_modules';
    } else if (url.includes('/src/'))
      area =
        'ficus ' +
        url
          .slice(url.indexOf('/src/') + 1)
          .split('/')
          .slice(0, 2)
          .join('/');
    else if (url.startsWith('node:') || url === '') area = `node internals${name ? '' : ''}`;
    else area = url.split('/').slice(-2).join('/');
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  return [...byArea.entries()].map(([area, hits]) => ({ area, share: hits / total })).sort((a, b) => b.share - a.share);
}
