/**
 * The browser server: a child process of the gateway (forked by browser-server-process.ts) that
 * launches Chromium with Playwright's `launchServer` and serves it on a loopback WebSocket, so that
 * Playwright's server side runs here and not on the gateway's event loop. It reports its endpoint
 * (or why it failed) over IPC, then lives exactly as long as both its browser and the gateway:
 * - its browser ends (crashed, killed): it exits, and the gateway's connection closes with it;
 * - its IPC channel closes (the gateway asked, exited, or was killed): it closes its browser and
 *   exits; Playwright kills a browser still running when this process exits.
 * Its environment is the gateway's choosing (the pool's BROWSER_MARK among it), and the browser
 * inherits it, with this process's niceness.
 */
import { chromium, type BrowserServer } from 'playwright-core';
import { sessionGroupBrowser } from './browser-priority.ts';
import type { ServerLaunch, ServerReport } from './browser-server-process.ts';

/** Closing the browser gracefully may take this long; then this process exits regardless (and the browser with it). */
const CLOSE_BOUND_MS = 3_000;

let server: BrowserServer | undefined;
let ending = false;

function report(m: ServerReport): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(m, undefined, undefined, () => resolve());
  });
}

function shutDown(): void {
  if (ending) return;
  ending = true;
  setTimeout(() => process.exit(0), CLOSE_BOUND_MS);
  if (server) void server.close().finally(() => process.exit(0));
  // Still launching: the launch ends by closing the browser it started.
}

process.on('disconnect', shutDown);
process.on('SIGTERM', shutDown);
// A terminal's Ctrl-C reaches the gateway's whole process group: the gateway shuts down, and closes this.
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
if (!process.connected) shutDown();

function parseLaunch(arg: string | undefined): ServerLaunch {
  const v: unknown = JSON.parse(arg ?? 'null');
  const l = v as Partial<ServerLaunch> | null;
  if (!l || typeof l.executablePath !== 'string' || !Array.isArray(l.args) || typeof l.timeoutMs !== 'number') throw new Error(`not a launch: ${arg}`);
  return { executablePath: l.executablePath, args: l.args.map(String), timeoutMs: l.timeoutMs, groupNice: typeof l.groupNice === 'number' ? l.groupNice : undefined };
}

try {
  const launch = parseLaunch(process.argv[2]);
  // This process is niced already, and the browser inherits it; but Playwright starts the browser in a
  // session of its own, whose scheduling group (autogroup) must be niced too (browser-priority.ts).
  const grouped = launch.groupNice ? sessionGroupBrowser(launch.executablePath, launch.groupNice) : undefined;
  server = await chromium
    .launchServer({
      executablePath: grouped?.ok ? grouped.executablePath : launch.executablePath,
      args: launch.args,
      headless: true,
      timeout: launch.timeoutMs,
      host: '127.0.0.1',
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    })
    .finally(() => (grouped?.ok ? grouped.remove() : undefined));
  server.on('close', () => process.exit(0));
  if (ending) await server.close();
  else await report({ type: 'ready', wsEndpoint: server.wsEndpoint(), browserPid: server.process().pid });
} catch (err) {
  await report({ type: 'failed', message: err instanceof Error ? err.message.split('\n')[0] : String(err) });
  process.exit(1);
}
