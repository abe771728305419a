/**
 * The browser side of a pool in a process of its own. Playwright's server (the dispatchers that
 * drive Chromium over its debugging pipe) costs CPU for every step of every flow; run inside the
 * gateway, that CPU is taken on the gateway's event loop, and a flood of screen requests delays
 * every other route. Here it runs in a child process (browser-server.ts, forked), which launches
 * Chromium and serves it on a loopback WebSocket; the pool only holds a client connected to it.
 *
 * The child dies with the gateway: it closes its browser and exits when its IPC channel closes (the
 * gateway exited, was killed, or `stop` was called), and Playwright kills the browser if it exits
 * first. The child runs from the TypeScript sources through tsx, as the gateway does (there is no
 * build step): tsx is given to it explicitly, since a gateway started by bin/ficus.js registers tsx
 * in-process, where a forked child would not inherit it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** What the child is asked to launch (its argument, as JSON). */
export interface ServerLaunch {
  executablePath: string;
  args: string[];
  timeoutMs: number;
  /** The browser's session scheduling group at this niceness (browser-priority.ts); the server itself is already niced. */
  groupNice?: number;
}

/** What the child tells the gateway over IPC, once. */
export type ServerReport = { type: 'ready'; wsEndpoint: string; browserPid: number | undefined } | { type: 'failed'; message: string };

export interface BrowserServerProcess {
  /** The server's pid (a child of this process; the browser is its child). */
  readonly pid: number;
  /** The browser's main process. */
  readonly browserPid: number | undefined;
  /** Where `chromium.connect` reaches the browser: loopback only, at an unguessable path. */
  readonly wsEndpoint: string;
  /** Settled once the server process has exited. */
  readonly exited: Promise<void>;
  /** Asks the server to close its browser and exit (its IPC channel closed); `exited` tells when it has. */
  stop(): void;
}

export interface StartOptions {
  launch: ServerLaunch;
  /** The server's environment (the browser inherits it). */
  env: NodeJS.ProcessEnv;
  /** The executable to start Node through, e.g. a launcher at a niceness (browser-priority.ts); default this Node. */
  execPath?: string;
  /** Give up (and kill the server) if it has not reported by then. */
  timeoutMs: number;
}

const ENTRY = fileURLToPath(new URL('./browser-server.ts', import.meta.url));
/** tsx's loader, by absolute URL so that it resolves whatever the gateway's working directory. */
const TSX = () => pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** The end of the server's stderr kept, to say why it failed. */
const STDERR_TAIL = 4_096;

const isReport = (m: unknown): m is ServerReport => typeof m === 'object' && m !== null && ((m as { type?: unknown }).type === 'ready' || (m as { type?: unknown }).type === 'failed');

/** Forks the browser server and waits for its browser to run; rejects (the server killed) if it fails or is late. */
export function startBrowserServer(opts: StartOptions): Promise<BrowserServerProcess> {
  const child: ChildProcess = fork(ENTRY, [JSON.stringify(opts.launch)], {
    env: opts.env,
    execPath: opts.execPath ?? process.execPath,
    execArgv: ENTRY.endsWith('.ts') ? ['--import', TSX()] : [],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    stderr = (stderr + s).slice(-STDERR_TAIL);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return new Promise<BrowserServerProcess>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      const tail = stderr.trim().split('\n').slice(-5).join('\n');
      reject(new Error(`the browser server ${why}${tail ? `: ${tail}` : ''}`));
    };
    const timer = setTimeout(() => fail(`did not start its browser within ${opts.timeoutMs} ms`), opts.timeoutMs);
    const onError = (err: Error) => fail(`could not be started (${err.message})`);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited (${signal ?? `code ${code}`}) before its browser ran`);
    child.once('error', onError);
    child.once('exit', onExit);
    // Errors after start-up (a closed channel) show as the server's exit, which the pool sees as its browser going away.
    child.on('error', () => undefined);
    child.once('message', (m: unknown) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      if (!isReport(m)) return fail('sent an unknown message');
      if (m.type === 'failed') return fail(`could not launch the browser: ${m.message}`);
      if (child.pid === undefined) return fail('has no pid');
      const pid = child.pid;
      resolve({
        pid,
        browserPid: m.browserPid,
        wsEndpoint: m.wsEndpoint,
        exited,
        stop: () => {
          if (child.connected) child.disconnect();
        },
      });
    });
  });
}
