/**
 * Callers in a process of their own, as real callers are: a burst of concurrent GETs, or probes of a
 * few paths every so often, timed here, so that neither the legacy app the bench runs nor the other
 * callers' answers delay when a caller's clock stops. `startCallers(base)` forks one; each burst or
 * probe round is asked for and answered over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
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
  /** The callers' process. */
  pid: number;
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
    pid: child.pid ?? 0,
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

/** An answer as the bench reads it, from its status, its headers and its body. */
function answerOf(path: string, status: number, header: (name: string) => string | null, body: string, ms: number, end: number): Answer {
  let type: string | undefined;
  if (status >= 400 && body.startsWith('{')) type = (JSON.parse(body) as { type?: string }).type?.replace('https://ficus.dev/problems/', '');
  return { path, status, cache: header('ficus-cache'), type, retryAfter: header('retry-after'), ms, end };
}

async function call(agent: Agent, base: string, path: string, since: number): Promise<Answer> {
  const t = performance.now();
  const r = await request(base + path, { dispatcher: agent });
  const text = await r.body.text();
  const end = performance.now();
  const header = (n: string) => {
    const v = r.headers[n];
    return v === undefined ? null : String(v);
  };
  return answerOf(path, r.statusCode, header, text, end - t, end - since);
}

/**
 * One GET on a connection of its own, closed after: written on a bare socket and read by hand. It
 * costs the callers' process a fraction of a client library's CPU for a new connection (undici: some
 * 470 µs a caller, measured on the 2-core machine; this: ~10x less), CPU that callers on other
 * machines would not take from the gateway's.
 */
function callFresh(base: string, from: string, path: string, since: number): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const socket = connect({ host: url.hostname, port: Number(url.port), localAddress: from || undefined });
    const chunks: Buffer[] = [];
    let size = 0;
    let head: { status: number; headers: Map<string, string>; bodyAt: number; length?: number } | undefined;
    const finish = (end: number) => {
      socket.destroy();
      if (!head) return reject(new Error(`${path}: the connection closed before an answer`));
      const { headers } = head;
      resolve(answerOf(path, head.status, (n) => headers.get(n) ?? null, Buffer.concat(chunks).subarray(head.bodyAt).toString('utf8'), end - t, end - since));
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (!head) {
        const all = Buffer.concat(chunks);
        const at = all.indexOf('\r\n\r\n');
        if (at < 0) return;
        const lines = all.subarray(0, at).toString('latin1').split('\r\n');
        const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const));
        const length = headers.get('content-length');
        head = { status: Number(lines[0].split(' ')[1]), headers, bodyAt: at + 4, length: length === undefined ? undefined : Number(length) };
      }
      // A length given: complete when it is all here; otherwise (chunked) when the server closes.
      if (head.length !== undefined && size >= head.bodyAt + head.length) finish(performance.now());
    });
    socket.on('end', () => finish(performance.now()));
    socket.on('error', (e) => reject(e));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
  });
}

function runChild(base: string, nice: number, from: string): void {
  if (nice !== 0) setPriority(nice);
  const agent = new Agent({ keepAliveTimeout: 60_000, connect: from ? { localAddress: from } : undefined });
  let probing: { stop: boolean; answers: Answer[]; done: Promise<void> } | undefined;
  const reply = (m: Reply) => process.send?.(m);
  process.on('message', (m: Ask) => {
    if ('burst' in m) {
      const since = performance.now();
      Promise.all(m.burst.map((p) => (m.fresh ? callFresh(base, from, p, since) : call(agent, base, p, since)))).then(
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
