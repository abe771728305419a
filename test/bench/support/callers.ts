/**
 * Callers in a process of their own, as real callers are: a burst of concurrent GETs, or probes of a
 * few paths every so often, timed here, so that neither the legacy app the bench runs nor the other
 * callers' answers delay when a caller's clock stops. `startCallers(base)` forks one; each burst or
 * probe round is asked for and answered over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

export interface Answer {
  path: string;
  status: number;
  /** The `Ficus-Cache` header, the problem type (without its prefix) and `Retry-After`, when there are. */
  cache: string | null;
  type?: string;
  retryAfter: string | null;
  /** From sending to the last byte of the body. */
  ms: number;
  /** When the body was complete, in ms since the burst (or the probing) began. */
  end: number;
}

type Ask = { id: number; burst: string[]; fresh?: boolean } | { id: number; probe: string[]; everyMs: number } | { id: number; stopProbe: true };
type Reply = { id: number; answers: Answer[] } | { id: number; error: string };

export interface Callers {
  /** All `paths` at once; resolves when every one is answered. `fresh`: each on a new connection (as callers new to the gateway), closed after. */
  burst(paths: string[], fresh?: boolean): Promise<Answer[]>;
  /** Asks each of `paths` every `everyMs` (each on its own clock; a slow answer delays only its path's next) until `stopProbe`. */
  probe(paths: string[], everyMs: number): Promise<void>;
  stopProbe(): Promise<Answer[]>;
  stop(): Promise<void>;
}

/**
 * `nice`: the callers' niceness (on a machine the bench shares with them, callers that stand for other
 * machines can be kept out of the gateway's way). `from`: the loopback address they call from (another
 * caller than those on 127.0.0.1, as the gateway tells callers apart).
 */
export function startCallers(base: string, opts: { nice?: number; from?: string } = {}): Callers {
  const child = fork(fileURLToPath(import.meta.url), [base, String(opts.nice ?? 0), opts.from ?? ''], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let next = 0;
  const waiting = new Map<number, { resolve(a: Answer[]): void; reject(e: Error): void }>();
  child.on('message', (m: Reply) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if ('error' in m) w?.reject(new Error(m.error));
    else w?.resolve(m.answers);
  });
  child.once('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`the callers' process ended (${code})`));
    waiting.clear();
  });
  const ask = (a: Omit<Ask, 'id'>): Promise<Answer[]> =>
    new Promise((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      child.send({ id, ...a });
    });
  return {
    burst: (paths, fresh) => ask({ burst: paths, fresh }),
    probe: async (paths, everyMs) => void (await ask({ probe: paths, everyMs })),
    stopProbe: () => ask({ stopProbe: true }),
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

// ---- the child ----

async function call(agent: Agent, base: string, path: string, since: number): Promise<Answer> {
  const t = performance.now();
  const r = await request(base + path, { dispatcher: agent });
  const text = await r.body.text();
  const end = performance.now();
  const header = (n: string) => {
    const v = r.headers[n];
    return v === undefined ? null : String(v);
  };
  let type: string | undefined;
  if (r.statusCode >= 400 && text.startsWith('{')) type = (JSON.parse(text) as { type?: string }).type?.replace('https://ficus.dev/problems/', '');
  return { path, status: r.statusCode, cache: header('ficus-cache'), type, retryAfter: header('retry-after'), ms: end - t, end: end - since };
}

function runChild(base: string, nice: number, from: string): void {
  if (nice !== 0) setPriority(nice);
  const newAgent = () => new Agent({ keepAliveTimeout: 60_000, connect: from ? { localAddress: from } : undefined });
  const agent = newAgent();
  let probing: { stop: boolean; answers: Answer[]; done: Promise<void> } | undefined;
  const reply = (m: Reply) => process.send?.(m);
  process.on('message', (m: Ask) => {
    if ('burst' in m) {
      const own = m.fresh ? newAgent() : agent;
      const since = performance.now();
      Promise.all(m.burst.map((p) => call(own, base, p, since)))
        .finally(() => (own === agent ? undefined : own.close()))
        .then(
          (answers) => reply({ id: m.id, answers }),
          (e: unknown) => reply({ id: m.id, error: String(e) }),
        );
    } else if ('probe' in m) {
      const since = performance.now();
      const state: { stop: boolean; answers: Answer[]; done: Promise<void> } = { stop: false, answers: [], done: Promise.resolve() };
      // Each path on its own clock: a slow answer on one does not space out the others.
      const loop = async (path: string) => {
        while (!state.stop) {
          const t = performance.now();
          state.answers.push(await call(agent, base, path, since));
          const wait = m.everyMs - (performance.now() - t);
          if (wait > 0 && !state.stop) await new Promise((r) => setTimeout(r, wait));
        }
      };
      state.done = Promise.all(m.probe.map(loop)).then(() => undefined);
      probing = state;
      reply({ id: m.id, answers: [] });
    } else if (probing) {
      const p = probing;
      probing = undefined;
      p.stop = true;
      p.done.then(
        () => reply({ id: m.id, answers: p.answers }),
        (e: unknown) => reply({ id: m.id, error: String(e) }),
      );
    } else reply({ id: m.id, answers: [] });
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) runChild(process.argv[2], Number(process.argv[3] ?? 0), process.argv[4] ?? '');
